"""Salesforce rows -> records: the pure functions, from small REST and Bulk 2.0 rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from pmo_ledger.connectors.salesforce import normalize as n
from pmo_ledger.connectors.salesforce import soql
from pmo_ledger.connectors.salesforce import values as v
from pmo_ledger.connectors.salesforce.objects import STREAMS
from pmo_ledger.connectors.salesforce.settings import SalesforceSettings
from pmo_ledger.ledger.settings import CalendarSettings

INSTANCE = "https://acme.my.salesforce.com"


def ctx(stream: str, **kw: Any) -> n.RowContext:
    s = STREAMS[stream]
    return n.RowContext(sobject=s.sobject, fields=dict(s.roles), instance_url=INSTANCE, **kw)


def split(**fields: Any) -> dict[str, Any]:
    """A timecard split as REST returns it (numbers already Decimal through parse_float)."""
    row: dict[str, Any] = {
        "attributes": {"type": "pse__Timecard__c", "url": "/services/data/v59.0/sobjects/x"},
        "Id": "a5B000000000001AAA",
        "SystemModstamp": "2025-03-04T10:15:02.000+0000",
        "IsDeleted": False,
        "pse__Project__c": "a2X000000000001AAA",
        "pse__Resource__c": "003000000000001AAA",
        "CurrencyIsoCode": "EUR",
        "pse__Include_In_Financials__c": True,
        "pse__Start_Date__c": "2025-03-03",
        "pse__Total_Hours__c": Decimal("7.5"),
        "pse__Total_Cost__c": Decimal("9.9213206E7"),
        "Name": "TC-0001",
    }
    row.update(fields)
    return row


def test_a_timecard_split_is_a_labor_line_with_hours_and_exact_cost() -> None:
    """Java's 9.9213206E7 is exactly 99,213,206; dates stay dates; the change time is UTC."""
    record = n.timecard(split(), ctx("timecards"))
    assert record is not None
    assert record.external_id == "a5B000000000001AAA"
    assert record.project_ref == "a2X000000000001AAA"
    assert record.resource_ref == "003000000000001AAA"
    assert record.cost_type == "labor"
    assert record.amount == Decimal("99213206")
    assert record.hours == Decimal("7.5")
    assert record.currency == "EUR"
    assert record.posted_on == date(2025, 3, 3)
    assert record.source_modified_at == datetime(2025, 3, 4, 10, 15, 2, tzinfo=UTC)
    assert record.source_url == f"{INSTANCE}/lightning/r/pse__Timecard__c/a5B000000000001AAA/view"


def test_a_split_not_included_in_financials_does_not_count() -> None:
    """Leaving pse__Include_In_Financials__c is a deletion (None)."""
    assert n.timecard(split(pse__Include_In_Financials__c=False), ctx("timecards")) is None


def test_a_bulk_csv_row_reads_the_same_as_the_rest_row() -> None:
    """Bulk 2.0 text (plain decimals, 'true', '...Z' datetimes, '' for null) gives the same
    record as the typed REST row."""
    rest = split(pse__Resource__c=None)
    bulk = {k: ("" if val is None else str(val)) for k, val in rest.items() if k != "attributes"}
    bulk.update(
        pse__Include_In_Financials__c="true",
        SystemModstamp="2025-03-04T10:15:02.000Z",
        pse__Total_Cost__c="99213206",
    )
    assert n.timecard(bulk, ctx("timecards")) == n.timecard(rest, ctx("timecards"))


def test_a_single_currency_org_puts_every_amount_in_its_currency() -> None:
    row = split()
    del row["CurrencyIsoCode"]
    record = n.timecard(row, ctx("timecards", currency="GBP"))
    assert record is not None and record.currency == "GBP"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12.345678", "more than 4 decimal places"),
        ("abc", "is not a number"),
        (True, "is a boolean"),
    ],
)
def test_unreadable_numbers_raise_naming_the_field(value: Any, message: str) -> None:
    """A value the ledger cannot hold exactly is refused, never rounded silently."""
    with pytest.raises(ValueError, match=f"pse__Total_Cost__c {message}|{message}"):
        n.timecard(split(pse__Total_Cost__c=value), ctx("timecards"))


def test_a_null_amount_passes_through_for_the_ledger_to_judge() -> None:
    """No cost: the line keeps its hours (the ledger values them or quarantines)."""
    record = n.expense(
        {
            "Id": "a6C1",
            "pse__Expense_Date__c": "2025-02-10",
            "pse__Amount__c": None,
            "pse__Include_In_Financials__c": True,
            "pse__Type__c": "Airfare",
            "pse__Description__c": "LHR-JFK",
            "CurrencyIsoCode": "GBP",
            "SystemModstamp": "2025-02-11T08:00:00.000+0000",
        },
        ctx("expenses"),
    )
    assert record is not None
    assert (record.amount, record.cost_type, record.description) == (
        None,
        "expense",
        "Airfare: LHR-JFK",
    )


def test_a_line_without_a_date_is_unreadable() -> None:
    with pytest.raises(ValueError, match="pse__Start_Date__c is empty"):
        n.timecard(split(pse__Start_Date__c=None), ctx("timecards"))


def test_a_project_takes_region_and_practice_as_portfolio_and_program() -> None:
    fields = {
        **STREAMS["projects"].roles,
        "portfolio": "pse__Region__r.Name",
        "program": "pse__Practice__r.Name",
    }
    c = n.RowContext(sobject="pse__Proj__c", fields=fields, instance_url=INSTANCE)
    record = n.project(
        {
            "Id": "a2X1",
            "Name": "ACME Rollout",
            "pse__Project_ID__c": "PRJ-17",
            "pse__Stage__c": "In Progress",
            "pse__Start_Date__c": "2025-01-06",
            "pse__End_Date__c": "2025-09-30",
            "pse__Project_Manager__r": {"attributes": {}, "Name": "Ada Lovelace"},
            "pse__Region__r": {"attributes": {}, "Name": "EMEA"},
            "pse__Practice__r": None,
            "pse__Percent_Hours_Complete__c": Decimal("42.5"),
            "CurrencyIsoCode": "EUR",
            "SystemModstamp": "2025-03-04T10:15:02.000+0000",
        },
        c,
    )
    assert (record.code, record.name, record.portfolio, record.program) == (
        "PRJ-17",
        "ACME Rollout",
        "EMEA",
        None,
    )
    assert (record.manager, record.percent_complete, record.currency) == (
        "Ada Lovelace",
        Decimal("42.5"),
        "EUR",
    )
    assert record.planned_finish == date(2025, 9, 30)


def test_assignment_hours_spread_over_periods_by_working_days() -> None:
    """40 hours from Wed 2025-01-29 to Tue 2025-02-04: 3 working days in January, 2 in
    February -> 24 + 16, in fiscal periods of the configured calendar."""
    row = {
        "Id": "a7A1",
        "pse__Project__c": "a2X1",
        "pse__Resource__c": "0031",
        "pse__Start_Date__c": "2025-01-29",
        "pse__End_Date__c": "2025-02-04",
        "pse__Scheduled_Hours__c": Decimal("40.0"),
        "SystemModstamp": "2025-01-20T00:00:00.000+0000",
    }
    out = n.allocation(row, ctx("allocations"))
    assert [(a.period, a.planned_hours) for a in out] == [
        ("2025-01", Decimal("24.00")),
        ("2025-02", Decimal("16.00")),
    ]
    april_year = n.allocation(
        row, ctx("allocations", calendar=CalendarSettings(start_month=4, year_label="end"))
    )
    assert [a.period for a in april_year] == ["2025-10", "2025-11"]


def test_dated_rates_are_relative_to_the_corporate_currency() -> None:
    """1 USD = 0.92 EUR from StartDate; year-1 starts are clamped; the corporate row is skipped."""
    c = ctx("fx_rates", corporate_currency="USD")
    rate = n.dated_rate(
        {"IsoCode": "EUR", "ConversionRate": Decimal("0.92"), "StartDate": "0001-01-01"}, c
    )
    assert rate is not None
    assert (rate.from_ccy, rate.to_ccy, rate.rate, rate.valid_from) == (
        "USD",
        "EUR",
        Decimal("0.92"),
        date(2000, 1, 1),
    )
    assert (
        n.dated_rate({"IsoCode": "USD", "ConversionRate": 1, "StartDate": "2025-01-01"}, c) is None
    )


def test_values_read_nested_and_dotted_paths() -> None:
    assert v.raw({"A__r": {"Name": "x"}}, "A__r.Name") == "x"
    assert v.raw({"A__r.Name": "y"}, "A__r.Name") == "y"
    assert v.raw({"A__r": None}, "A__r.Name") is None
    assert v.flag({"F": "TRUE"}, "F") is True
    with pytest.raises(ValueError, match="not a checkbox"):
        v.flag({"F": "yes"}, "F")


def test_soql_escapes_values_and_floors_the_cursor_to_the_second() -> None:
    assert soql.equals("pse__Project__c", "a'b") == "pse__Project__c = 'a\\'b'"
    assert soql.one_of("Id", ["b", "a", "a"]) == "Id IN ('a','b')"
    when = datetime(2025, 3, 4, 10, 15, 2, 999000, tzinfo=UTC)
    assert soql.since(when) == "SystemModstamp >= 2025-03-04T10:15:02Z"
    assert soql.select(["Id"], "Contact", ["A = 1", None, "B = 2"]) == (
        "SELECT Id FROM Contact WHERE (A = 1) AND (B = 2) ORDER BY SystemModstamp, Id"
    )


def test_settings_pick_the_login_flow_and_refuse_incomplete_credentials() -> None:
    assert SalesforceSettings(username="u", password="p", security_token="").inferred_auth() == (
        "password"
    )
    assert (
        SalesforceSettings(
            consumer_key="k", consumer_secret="s", login_url="https://acme.my.salesforce.com"
        ).inferred_auth()
        == "client_credentials"
    )
    assert (
        SalesforceSettings(
            instance_url="https://acme.my.salesforce.com", access_token="t"
        ).inferred_auth()
        == "access_token"
    )
    with pytest.raises(ValidationError, match="auth jwt needs private_key"):
        SalesforceSettings(auth="jwt", username="u", consumer_key="k")
    with pytest.raises(ValidationError, match="must be an https:// URL"):
        SalesforceSettings(username="u", password="p", security_token="", login_url="http://x")
    with pytest.raises(ValidationError, match="needs `currency`"):
        SalesforceSettings(username="u", password="p", security_token="", multi_currency=False)


def test_a_number_too_large_to_hold_is_an_unreadable_value() -> None:
    """1E30 cannot be quantized to 4 places: a ValueError (the row is rejected), not an
    exception that ends the stream."""
    with pytest.raises(ValueError, match="pse__Total_Cost__c is too large"):
        n.timecard(split(pse__Total_Cost__c=Decimal("1E30")), ctx("timecards"))
