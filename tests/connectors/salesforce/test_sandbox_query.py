"""Reading the demo org through the real simple-salesforce client: REST query paging,
relationships, exact numbers, aggregates, Bulk API 2.0, describe, errors."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from pmo_ledger.connectors.salesforce.sandbox import FakeOrg, SandboxServer, TlsFiles
from tests.connectors.salesforce.sandbox_support import demo_org, http, login

SPLITS = "SELECT Id, SystemModstamp, pse__Total_Cost__c FROM pse__Timecard__c"


@pytest.fixture
def server(tls: TlsFiles) -> Iterator[SandboxServer]:
    with SandboxServer(demo_org()[0], tls=tls) as running:
        yield running


@pytest.fixture
def sf(server: SandboxServer) -> Salesforce:
    return login(server)


def org() -> FakeOrg:
    return demo_org()[0]


def test_demo_org_counts() -> None:
    """The demo seed has the documented size."""
    assert demo_org()[1].counts == {
        "Account": 3,
        "pse__Region__c": 2,
        "pse__Practice__c": 3,
        "Contact": 13,
        "Opportunity": 6,
        "pse__Proj__c": 8,
        "pse__Assignment__c": 20,
        "pse__Timecard_Header__c": 298,
        "pse__Timecard__c": 320,
        "pse__Expense__c": 79,
        "pse__Budget__c": 17,
        "CurrencyType": 3,
        "DatedConversionRate": 15,
    }


def test_paging_returns_every_row_once_in_order(server: SandboxServer, sf: Salesforce) -> None:
    """With page_size 50, 320 splits come in 7 pages, each row once, ordered as asked."""
    server.page_size = 50
    query = f"{SPLITS} ORDER BY SystemModstamp, Id"
    first = sf.query(query)
    assert (first["totalSize"], first["done"], len(first["records"])) == (320, False, 50)
    assert re.fullmatch(r"/services/data/v59\.0/query/0r8\w{15}-50", first["nextRecordsUrl"])
    records = list(sf.query_all_iter(query))
    expected = sorted(org().rows("pse__Timecard__c"), key=lambda r: (r["SystemModstamp"], r["Id"]))
    assert [r["Id"] for r in records] == [r["Id"] for r in expected]
    pages = [r for r in server.requests if r.path.startswith("/services/data/v59.0/query")]
    assert len(pages) == 1 + 7


def test_batch_size_header_lowers_the_page(server: SandboxServer, sf: Salesforce) -> None:
    """Sforce-Query-Options batchSize=200 gives pages of 200; the header is logged."""
    page = sf.query(SPLITS, headers={"Sforce-Query-Options": "batchSize=200"})
    assert len(page["records"]) == 200
    assert server.requests[-1].headers["sforce-query-options"] == "batchSize=200"


def test_record_shape_and_relationships(sf: Salesforce) -> None:
    """Fields come in SELECT order; a lookup path nests an object, or null when empty."""
    records = sf.query(
        "SELECT pse__Project_ID__c, pse__Region__r.Name, pse__Account__r.Name, SystemModstamp, "
        "pse__Start_Date__c FROM pse__Proj__c WHERE pse__Project_ID__c IN ('PRJ-0001', 'PRJ-0007') "
        "ORDER BY pse__Project_ID__c"
    )["records"]
    acme, internal = records
    assert list(acme) == [
        "attributes",
        "pse__Project_ID__c",
        "pse__Region__r",
        "pse__Account__r",
        "SystemModstamp",
        "pse__Start_Date__c",
    ]
    assert acme["pse__Region__r"]["Name"] == "EMEA"
    assert acme["pse__Region__r"]["attributes"]["type"] == "pse__Region__c"
    assert acme["pse__Account__r"]["Name"] == "Acme Manufacturing"
    assert (internal["pse__Region__r"], internal["pse__Account__r"]) == (None, None)
    assert re.fullmatch(r"2025-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", acme["SystemModstamp"])
    assert acme["pse__Start_Date__c"] == "2025-01-06"
    assert acme["attributes"]["url"].startswith("/services/data/v59.0/sobjects/pse__Proj__c/a2X")


def test_numbers_arrive_exact_with_parse_float_decimal(
    server: SandboxServer, sf: Salesforce
) -> None:
    """12.5 M is sent as 1.25E7 and parses to the exact Decimal."""
    soql = "SELECT Name, Amount FROM Opportunity WHERE Amount > 10000000"
    raw = http(server).get(
        f"{server.url}/services/data/v59.0/query/",
        params={"q": soql},
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert '"Amount":1.25E7' in raw.text
    record = sf.query(soql)["records"][0]
    assert record["Amount"] == Decimal("12500000")
    assert isinstance(record["Amount"], Decimal)


def test_aggregates_match_the_rows(sf: Salesforce) -> None:
    """GROUP BY with COUNT(Id) and SUM gives each group's exact count and total."""
    result = sf.query(
        "SELECT pse__Project__r.pse__Project_ID__c, COUNT(Id) n, SUM(pse__Total_Cost__c) cost "
        "FROM pse__Timecard__c WHERE pse__Status__c = 'Approved' "
        "GROUP BY pse__Project__r.pse__Project_ID__c ORDER BY pse__Project__r.pse__Project_ID__c"
    )
    projects = {r["Id"]: r["pse__Project_ID__c"] for r in org().rows("pse__Proj__c")}
    expected: dict[str, list[Decimal]] = {}
    for row in org().rows("pse__Timecard__c"):
        if row["pse__Status__c"] == "Approved":
            code = projects[str(row["pse__Project__c"])]
            expected.setdefault(code, []).append(Decimal(str(row["pse__Total_Cost__c"])))
    got = {r["pse__Project_ID__c"]: (r["n"], r["cost"]) for r in result["records"]}
    assert got == {code: (len(v), sum(v, Decimal(0))) for code, v in sorted(expected.items())}
    assert result["records"][0]["attributes"] == {"type": "AggregateResult"}
    assert result["totalSize"] == len(expected) == 7


def test_count_query_has_only_a_total(sf: Salesforce) -> None:
    """SELECT COUNT() answers totalSize and no records."""
    result = sf.query(
        "SELECT COUNT() FROM pse__Timecard_Header__c WHERE pse__Status__c != 'Approved'"
    )
    unapproved = [
        r for r in org().rows("pse__Timecard_Header__c") if r["pse__Status__c"] != "Approved"
    ]
    assert result == {"totalSize": len(unapproved), "done": True, "records": []}
    assert len(unapproved) == 31


def test_bulk2_query_pages_with_a_locator(server: SandboxServer, sf: Salesforce) -> None:
    """Bulk API 2.0: 320 rows in pages of 100 with a locator, CSV as Salesforce writes it."""
    pages = list(
        sf.bulk2.pse__Timecard__c.query(
            "SELECT Id, Name, pse__Project__r.Name, pse__Total_Hours__c, SystemModstamp, "
            "pse__Include_In_Financials__c FROM pse__Timecard__c ORDER BY Name",
            max_records=100,
            wait=0,
        )
    )
    rows = [list(csv.reader(io.StringIO(str(page)))) for page in pages]
    assert [len(r) - 1 for r in rows] == [100, 100, 100, 20]
    header = rows[0][0]
    assert header == [
        "Id",
        "Name",
        "pse__Project__r.Name",
        "pse__Total_Hours__c",
        "SystemModstamp",
        "pse__Include_In_Financials__c",
    ]
    first = dict(zip(header, rows[0][1], strict=True))
    assert first["Name"] == "TCS-0000001-1"
    assert first["pse__Project__r.Name"] == "Acme ERP Cloud Migration"
    assert re.fullmatch(r"\d+\.\d+", first["pse__Total_Hours__c"])
    assert re.fullmatch(r"2025-01-10T17:00:\d\d\.000Z", first["SystemModstamp"])
    assert first["pse__Include_In_Financials__c"] in ("true", "false")
    results = [r for r in server.requests if r.path.endswith("/results")]
    assert [r.params.get("locator") for r in results] == [None, ["MTAw"], ["MjAw"], ["MzAw"]]
    assert [r.params["maxRecords"] for r in results] == [["100"]] * 4


def test_bulk2_refuses_aggregates(sf: Salesforce) -> None:
    """An aggregate query is a 400 at job creation."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        list(sf.bulk2.pse__Timecard__c.query("SELECT COUNT() FROM pse__Timecard__c", wait=0))
    assert caught.value.content[0]["errorCode"] == "INVALIDJOB"


@pytest.mark.parametrize(
    ("soql", "code", "last_line"),
    [
        ("SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        (
            "SELECT Id, Nope__c FROM pse__Proj__c",
            "INVALID_FIELD",
            "No such column 'Nope__c' on entity 'pse__Proj__c'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        ),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE", None),
    ],
)
def test_query_errors_are_json_lists(
    sf: Salesforce, soql: str, code: str, last_line: str | None
) -> None:
    """Bad SOQL is a 400 whose body is [{"message", "errorCode"}]."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    (error,) = caught.value.content
    assert error["errorCode"] == code
    if last_line is not None:
        assert error["message"].splitlines()[-1] == last_line


def test_unknown_locator_and_path(sf: Salesforce) -> None:
    """A locator the sandbox never gave is INVALID_QUERY_LOCATOR; a bad path NOT_FOUND."""
    with pytest.raises(SalesforceMalformedRequest) as locator:
        sf.query_more("/services/data/v59.0/query/0r8000000000000AAA-2000", identifier_is_url=True)
    with pytest.raises(SalesforceResourceNotFound) as path:
        sf.restful("nothing/here")
    assert locator.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert path.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_describe_get_and_limits(server: SandboxServer, sf: Salesforce) -> None:
    """describe lists fields with types, get returns a record, limits the allowance."""
    fields = {f["name"]: f for f in sf.pse__Timecard__c.describe()["fields"]}
    assert fields["pse__Total_Cost__c"]["type"] == "currency"
    assert fields["pse__Timecard_Header__c"]["referenceTo"] == ["pse__Timecard_Header__c"]
    assert fields["pse__Timecard_Header__c"]["relationshipName"] == "pse__Timecard_Header__r"
    project_id = demo_org()[1].projects["PRJ-0006"]
    record = sf.pse__Proj__c.get(project_id)
    assert (record["Id"], record["pse__Stage__c"], record["pse__Is_Active__c"]) == (
        project_id,
        "Completed",
        False,
    )
    limits = sf.limits()
    used, maximum = server.api_usage
    assert limits["DailyApiRequests"] == {"Max": maximum, "Remaining": maximum - used}


def test_dated_rates_are_monthly(sf: Salesforce) -> None:
    """DatedConversionRate has a row per month and currency, rates as exact decimals."""
    records = sf.query(
        "SELECT StartDate, NextStartDate, ConversionRate FROM DatedConversionRate "
        "WHERE IsoCode = 'EUR' AND StartDate >= 2025-06-01 ORDER BY StartDate"
    )["records"]
    assert [(r["StartDate"], r["NextStartDate"], r["ConversionRate"]) for r in records] == [
        ("2025-06-01", "2025-07-01", Decimal("0.8712")),
        ("2025-07-01", "9999-12-31", Decimal("0.859")),
    ]


def test_org_clock_after_the_seed() -> None:
    """The demo's clock ends at 2025-07-01T09:00Z; writes went in order before it."""
    stamps = [r["SystemModstamp"] for r in org().rows("pse__Expense__c")]
    assert org().now().isoformat() == "2025-07-01T09:00:00+00:00"
    assert all(isinstance(s, datetime) and s < org().now() for s in stamps)
    assert stamps == sorted(stamps)
