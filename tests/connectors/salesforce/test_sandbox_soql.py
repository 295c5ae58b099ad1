"""The sandbox's SOQL parser and evaluator, its wire values and record ids (no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from simple_salesforce.format import format_soql

from pmo_ledger.connectors.salesforce.sandbox import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.execute import run_bulk, run_query
from pmo_ledger.connectors.salesforce.sandbox.ids import checksum, same_id
from pmo_ledger.connectors.salesforce.sandbox.soql import parse
from pmo_ledger.connectors.salesforce.sandbox.soql_tokens import SoqlError
from pmo_ledger.connectors.salesforce.sandbox.values import (
    csv_datetime,
    java_double,
    json_datetime,
    plain,
)
from tests.connectors.salesforce.sandbox_support import small_org


def names(org: FakeOrg, soql: str, *, deleted: bool = False) -> list[str]:
    records = run_query(org, soql, include_deleted=deleted, version="59.0").records
    return [r["Name"] for r in records]


def error(org: FakeOrg, soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        run_query(org, soql, include_deleted=False, version="59.0")
    return caught.value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("15000", "15000.0"),
        ("7.5", "7.5"),
        ("0.001", "0.001"),
        ("9999999.99", "9999999.99"),
        ("10000000", "1.0E7"),
        ("99213206", "9.9213206E7"),
        ("12345678.91", "1.234567891E7"),
        ("0.0001", "1.0E-4"),
        ("-250.5", "-250.5"),
        ("0", "0.0"),
        ("123456789012345678", "1.2345678901234568E17"),
    ],
)
def test_numbers_are_written_as_java_prints_a_double(value: str, text: str) -> None:
    """Decimal values come out as Double.toString writes the nearest double."""
    assert java_double(Decimal(value)) == text


def test_bulk_numbers_are_plain_decimals() -> None:
    """Bulk CSV numbers have no exponent and at least one fractional digit."""
    assert [plain(Decimal(v)) for v in ("99213206", "0.0001", "7.50")] == [
        "99213206.0",
        "0.0001",
        "7.5",
    ]


def test_datetimes_are_utc_with_milliseconds() -> None:
    """JSON datetimes end in +0000, Bulk CSV ones in Z."""
    when = datetime(2025, 3, 4, 10, 15, 2, 345000, tzinfo=UTC)
    assert (json_datetime(when), csv_datetime(when)) == (
        "2025-03-04T10:15:02.345+0000",
        "2025-03-04T10:15:02.345Z",
    )


def test_id_checksum_is_salesforces() -> None:
    """The 18-character suffix encodes the upper-case letters of each 5-character chunk."""
    assert checksum("001A0000006Vm9r") == "IAC"
    assert same_id("001A0000006Vm9rIAC", "001A0000006Vm9r")
    assert not same_id("001A0000006Vm9rIAC", "001a0000006Vm9r")


def test_keywords_are_case_insensitive() -> None:
    """select/from/where/order by in any case parse like upper case."""
    query = parse("select Name from pse__Proj__c where Name = 'x' order by Name desc limit 5")
    assert (query.sobject, query.limit, query.order_by[0].descending) == ("pse__Proj__c", 5, True)


def test_string_escapes_round_trip_format_soql() -> None:
    """A value quoted by simple-salesforce's format_soql finds the record that holds it."""
    org = FakeOrg()
    value = 'O\'Neil \\ "Ops" 100%_\n\tline'
    org.insert("Account", Name=value)
    org.insert("Account", Name="O'Neil")
    soql = format_soql("SELECT Name FROM Account WHERE Name = {}", value)
    assert names(org, soql) == [value]
    like = format_soql(
        "SELECT Name FROM Account WHERE Name LIKE '{:like}%'", 'O\'Neil \\ "Ops" 100%_'
    )
    assert names(org, like) == [value]


def test_malformed_query_points_at_the_token() -> None:
    """A syntax error is MALFORMED_QUERY with Salesforce's row/column wording."""
    err = error(FakeOrg(), "SELECT Id FRM Account")
    assert err.code == "MALFORMED_QUERY"
    assert err.message == (
        "\nSELECT Id FRM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FRM'"
    )


def test_unknown_field_and_object() -> None:
    """Unknown columns are INVALID_FIELD, unknown objects INVALID_TYPE."""
    org, _ = small_org()
    field = error(org, "SELECT Id, Budget FROM pse__Proj__c")
    kind = error(org, "SELECT Id FROM pse__Project__c")
    assert (field.code, kind.code) == ("INVALID_FIELD", "INVALID_TYPE")
    assert "No such column 'Budget' on entity 'pse__Proj__c'." in field.message
    assert "sObject type 'pse__Project__c' is not supported." in kind.message


def test_date_literal_does_not_compare_with_datetime_field() -> None:
    """A date literal against a datetime field (and the reverse) is refused."""
    org, _ = small_org()
    on_datetime = error(org, "SELECT Id FROM pse__Proj__c WHERE SystemModstamp > 2025-01-01")
    on_date = error(
        org, "SELECT Id FROM pse__Proj__c WHERE pse__Start_Date__c > 2025-01-01T00:00:00Z"
    )
    assert on_datetime.code == on_date.code == "INVALID_FIELD"
    assert on_datetime.message.endswith(
        "value of filter criterion for field 'SystemModstamp' must be of type dateTime and "
        "should not be enclosed in quotes"
    )
    assert "must be of type date and" in on_date.message


def test_datetime_literals_with_offsets_compare_in_utc() -> None:
    """-05:00 and .000 fraction forms select the same rows as the Z form."""
    org, _ = small_org()
    second = org.rows("pse__Proj__c")[1]["SystemModstamp"]
    assert second == datetime(2025, 1, 2, 8, 0, 4, tzinfo=UTC)
    forms = ["2025-01-02T08:00:04Z", "2025-01-02T03:00:04-05:00", "2025-01-02T08:00:04.000+00:00"]
    results = [
        names(org, f"SELECT Name FROM pse__Proj__c WHERE SystemModstamp >= {f}") for f in forms
    ]
    assert results == [["Beta", "Gamma"]] * 3


def test_where_logic_and_null_semantics() -> None:
    """AND binds tighter than OR; != and NOT IN match nulls, as in SOQL."""
    org, _ = small_org()
    query = "SELECT Name FROM pse__Proj__c WHERE Name = 'alpha' OR Name = 'Beta' AND pse__Region__c = null"
    assert names(org, query) == ["Alpha", "Beta"]
    assert names(org, "SELECT Name FROM pse__Proj__c WHERE pse__Region__r.Name != 'EMEA'") == [
        "Beta"
    ]
    assert names(org, "SELECT Name FROM pse__Proj__c WHERE Name NOT IN ('Alpha','Gamma')") == [
        "Beta"
    ]
    assert names(org, "SELECT Name FROM pse__Proj__c WHERE NOT (Name LIKE 'a%')") == [
        "Beta",
        "Gamma",
    ]


def test_like_wildcards_and_escapes() -> None:
    """% and _ are wildcards, \\% and \\_ literal, matching ignores case."""
    org = FakeOrg()
    for name in ("100% done", "100x done", "a_b", "axb"):
        org.insert("Account", Name=name)
    assert names(org, r"SELECT Name FROM Account WHERE Name LIKE '100\% D%'") == ["100% done"]
    assert names(org, r"SELECT Name FROM Account WHERE Name LIKE 'a\_b'") == ["a_b"]
    assert names(org, "SELECT Name FROM Account WHERE Name LIKE 'A_B'") == ["a_b", "axb"]


def test_ids_compare_with_15_or_18_characters() -> None:
    """An Id literal may be the 15-character form."""
    org, ids = small_org()
    for literal in (ids["P2"], ids["P2"][:15]):
        assert names(org, f"SELECT Name FROM pse__Proj__c WHERE Id = '{literal}'") == ["Beta"]
    assert error(org, "SELECT Name FROM pse__Proj__c WHERE Id = 'nope'").code == (
        "INVALID_QUERY_FILTER_OPERATOR"
    )


def test_order_by_nulls_and_limit() -> None:
    """ORDER BY a lookup path, DESC NULLS LAST, then LIMIT."""
    org, _ = small_org()
    query = (
        "SELECT Name FROM pse__Proj__c ORDER BY pse__Region__r.Name DESC NULLS LAST, Name DESC "
        "LIMIT 2"
    )
    assert names(org, query) == ["Gamma", "Alpha"]
    assert names(org, "SELECT Name FROM pse__Proj__c ORDER BY pse__Start_Date__c, Name") == [
        "Beta",
        "Gamma",
        "Alpha",
    ]


def test_aggregate_keys_and_empty_sum() -> None:
    """Grouped fields keep their names, aliases name aggregates, unaliased ones are exprN;
    SUM over no values is null."""
    org, _ = small_org()
    query = (
        "SELECT pse__Region__r.Name, COUNT(Id) n, SUM(pse__Percent_Hours_Complete__c), "
        "MAX(Name) FROM pse__Proj__c GROUP BY pse__Region__r.Name ORDER BY pse__Region__r.Name"
    )
    records: list[dict[str, Any]] = run_query(
        org, query, include_deleted=False, version="59.0"
    ).records
    assert records == [
        {
            "attributes": {"type": "AggregateResult"},
            "Name": None,
            "n": 1,
            "expr0": None,
            "expr1": "Beta",
        },
        {
            "attributes": {"type": "AggregateResult"},
            "Name": "EMEA",
            "n": 2,
            "expr0": Decimal("12.5"),
            "expr1": "Gamma",
        },
    ]


def test_ungrouped_field_in_aggregate_query_is_refused() -> None:
    """A selected field must be grouped when aggregates are selected."""
    org, _ = small_org()
    err = error(org, "SELECT Name, COUNT(Id) FROM pse__Proj__c")
    assert (err.code, err.message.splitlines()[-1]) == (
        "MALFORMED_QUERY",
        "Field must be grouped or aggregated: Name",
    )


def test_bulk_refuses_aggregates_and_writes_paths_as_columns() -> None:
    """Bulk results name columns by field path; aggregate queries are not run."""
    org, ids = small_org()
    result = run_bulk(
        org, "SELECT Id, pse__Region__r.Name FROM pse__Proj__c", include_deleted=False
    )
    assert result.columns == ["Id", "pse__Region__r.Name"]
    assert result.rows == [[ids["P1"], "EMEA"], [ids["P2"], None], [ids["P3"], "EMEA"]]
    with pytest.raises(SoqlError):
        run_bulk(org, "SELECT COUNT() FROM pse__Proj__c", include_deleted=False)
