"""Fusion rows -> records, from small rows: costs, budgets, rates, Fusion's value forms."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from pmo_ledger.connectors.oracle.fusion import normalize as n
from pmo_ledger.connectors.oracle.fusion import values as v
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings
from pmo_ledger.ledger.settings import CalendarSettings

STAMP = "2026-01-05T08:00:51.123+00:00"


def settings(**extra: Any) -> FusionSettings:
    return FusionSettings(base_url="https://pod.example.com", username="u", password="p", **extra)


def cost_row(**extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ExpenditureItemId": 300000900001, "ProjectNumber": "PRJ-0001", "TaskId": 7,
        "ExpenditureItemDate": "2025-03-31", "ExpenditureCategoryName": "Labor",
        "ExpenditureTypeName": "Professional Labor", "Quantity": Decimal("7.5"),
        "UnitOfMeasure": "Hours", "ProjectCurrencyCode": "EUR",
        "ProjectRawCost": Decimal("600.00"), "ProjectBurdenedCost": Decimal("690.00"),
        "ProjectLedgerCurrencyCode": "USD", "ProjectLedgerRawCost": Decimal("651.00"),
        "ProjectLedgerBurdenedCost": Decimal("748.65"), "PersonNumber": "RES-0001",
        "LastUpdateDate": STAMP,
    }  # fmt: skip
    return {**row, **extra}


def test_a_labor_cost_is_raw_cost_in_project_currency_with_hours() -> None:
    r = n.cost(cost_row(), settings())
    assert (r.external_id, r.project_ref, r.task_ref, r.posted_on) == (
        "300000900001", "PRJ-0001", "7", date(2025, 3, 31))  # fmt: skip
    assert (r.cost_type, r.currency, r.amount, r.hours) == (
        "labor", "EUR", Decimal("600.0000"), Decimal("7.5000"))  # fmt: skip
    assert r.quantity is None and r.base_amount is None
    assert r.source_modified_at == datetime(2026, 1, 5, 8, 0, 51, 123000, tzinfo=UTC)


def test_burdened_cost_and_the_ledger_amount_as_base() -> None:
    r = n.cost(cost_row(), settings(cost="burdened", base_currency="USD"))
    assert (r.amount, r.base_amount) == (Decimal("690.0000"), Decimal("748.6500"))
    other = n.cost(cost_row(), settings(cost="burdened", base_currency="GBP"))
    assert other.base_amount is None  # the business unit keeps USD books, not GBP


def test_an_expense_keeps_its_quantity_and_unit() -> None:
    row = cost_row(ExpenditureCategoryName="Outside Services", Quantity=Decimal(3),
                   UnitOfMeasure="Each")  # fmt: skip
    r = n.cost(row, settings())
    assert (r.cost_type, r.hours, r.quantity, r.uom) == (
        "outside_services", None, Decimal("3.0000"), "Each")  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ProjectNumber": None}, "the cost names no project"),
        ({"ProjectRawCost": "1.234,50"}, "ProjectRawCost: '1.234,50' is no number"),
        ({"ProjectRawCost": None}, "ProjectRawCost is empty"),
        ({"ProjectCurrencyCode": "EURO"}, "'EURO' is no currency"),
        ({"ExpenditureItemDate": "31/03/2025"}, "ExpenditureItemDate"),
        ({"UnitOfMeasure": "Miles"}, "a labor cost in 'Miles', not hours"),
        ({"LastUpdateDate": None}, "LastUpdateDate is empty"),
    ],
)
def test_a_cost_that_cannot_be_read_says_why(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        n.cost(cost_row(**extra), settings())


def test_a_budget_version_has_a_line_per_period_detail() -> None:
    version = {"PlanVersionId": 11, "ProjectNumber": "PRJ-0001", "PlanVersionNumber": 2,
               "PlanVersionName": "Version 2", "PlanVersionStatus": "Current Baseline",
               "BaselineDate": "2025-02-01", "LastUpdateDate": STAMP}  # fmt: skip
    details = [
        {"PlanLineDetailId": 100 + m, "StartDate": f"2025-0{m}-01",
         "RawCostAmounts": Decimal("1000.00"), "BurdenedCostAmounts": Decimal("1150.00"),
         "Quantity": Decimal(10)}
        for m in (1, 2)
    ]  # fmt: skip
    resources = [
        {"PlanningElementId": 5, "TaskId": None, "ResourceClass": "Labor",
         "PlanningAmounts": {"items": [{"PlanLineId": 9, "Currency": "EUR",
                                        "PlanningAmountDetails": {"items": details}}]}},
        {"PlanningElementId": 6, "TaskId": 7, "ResourceClass": "Financial Resources",
         "PlanningAmounts": [{"PlanLineId": 10, "Currency": "EUR",
                              "RawCostAmounts": Decimal("500.00")}]},
    ]  # fmt: skip
    b = n.budget(version, resources, settings(), CalendarSettings())
    assert (b.external_id, b.kind, b.number, b.effective_from) == (
        "11", "current", 2, date(2025, 2, 1))  # fmt: skip
    lines = [(x.external_id, x.period, x.amount, x.hours, x.cost_type, x.task_ref)
             for x in b.lines]  # fmt: skip
    assert lines == [
        ("101", "2025-01", Decimal("1000.0000"), Decimal("10.0000"), "labor", None),
        ("102", "2025-02", Decimal("1000.0000"), Decimal("10.0000"), "labor", None),
        ("10", None, Decimal("500.0000"), None, "financial_resources", "7"),
    ]


def test_a_rate_row() -> None:
    row = {"FromCurrency": "EUR", "ToCurrency": "USD", "ConversionDate": "2025-03-31",
           "ConversionRate": Decimal("1.0853217"), "UserConversionType": "Corporate"}  # fmt: skip
    r = n.rate(row, "Corporate")
    assert r.external_id == "corporate/EUR/USD/2025-03-31"
    assert r.rate == Decimal("1.08532170")
    with pytest.raises(ValueError, match="not positive"):
        n.rate({**row, "ConversionRate": Decimal(0)}, "Corporate")


def test_timestamps_in_other_offsets_and_q_literals() -> None:
    assert v.stamp({"LastUpdateDate": "2026-01-05T08:00:51.000-06:00"}) == datetime(
        2026, 1, 5, 14, 0, 51, tzinfo=UTC
    )
    at = datetime(2026, 1, 5, 8, 0, 51, 123456, tzinfo=UTC)
    assert v.wire_time(at) == "2026-01-05T08:00:51.123+00:00"
    assert v.quote("O'Brien") == "'O''Brien'"
    with pytest.raises(ValueError, match="no number"):
        v.number({"A": True}, "A")
