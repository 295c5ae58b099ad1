"""The fake S/4HANA OData V2 services over HTTPS: shapes, values, options, paging."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pmo_ledger.connectors.sap.sandbox.odata import SapODataSandbox
from pmo_ledger.connectors.sap.sandbox.postings import Postings
from pmo_ledger.connectors.sap.sandbox.seed import USER, SeedSummary
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from tests.connectors.sap.sandbox.conftest import client_for

PROJECTS = "/sap/opu/odata/sap/API_ENTERPRISE_PROJECT_SRV"
JOURNAL = "/sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV"


def _all(client: httpx.Client, url: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row, following __next as given; the rows and the number of requests."""
    answer = client.get(url, params=params)
    rows, requests = [], 1
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()["d"]
        rows += body["results"]
        if "__next" not in body:
            return rows, requests
        answer = client.get(body["__next"])
        requests += 1


def test_project_shape_and_values(odata: httpx.Client, server: SapODataSandbox) -> None:
    """A project: __metadata, GUID key, /Date(ms)/ dates, deferred navigation."""
    answer = odata.get(
        f"{PROJECTS}/A_EnterpriseProject", params={"$filter": "Project eq 'PRJ-0001'"}
    )
    assert answer.headers["content-type"].startswith("application/json")
    [project] = answer.json()["d"]["results"]
    uri = f"{server.url}{PROJECTS}/A_EnterpriseProject(guid'{project['ProjectUUID']}')"
    assert project["__metadata"] == {
        "id": uri,
        "uri": uri,
        "type": "API_ENTERPRISE_PROJECT_SRV.A_EnterpriseProjectType",
    }
    assert project["ProjectDescription"] == "Acme ERP Cloud Migration"
    assert project["ProjectInternalID"] == "00000001"
    assert project["ProjectCurrency"] == "EUR"
    assert (
        project["ProjectStartDate"]
        == f"/Date({int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) * 1000})/"
    )
    assert project["LastChangeDateTime"].endswith("+0000)/")
    assert project["to_EnterpriseProjectElement"] == {
        "__deferred": {"uri": f"{uri}/to_EnterpriseProjectElement"}
    }


def test_elements_by_navigation_key_and_parent(odata: httpx.Client) -> None:
    """A project's elements through its navigation; a top element's parent is the project,
    a lower one's its parent element; one element by key."""
    [project] = odata.get(
        f"{PROJECTS}/A_EnterpriseProject", params={"$filter": "Project eq 'PRJ-0001'"}
    ).json()["d"]["results"]
    elements = odata.get(
        f"{PROJECTS}/A_EnterpriseProject(guid'{project['ProjectUUID']}')/to_EnterpriseProjectElement"
    ).json()["d"]["results"]
    by_id = {e["ProjectElement"]: e for e in elements}
    assert sorted(by_id) == ["PRJ-0001", "PRJ-0001.1", "PRJ-0001.1.1", "PRJ-0001.2", "PRJ-0001.3"]
    assert by_id["PRJ-0001"]["ParentObjectUUID"] == project["ProjectUUID"]
    assert by_id["PRJ-0001.1.1"]["ParentObjectUUID"] == by_id["PRJ-0001.1"]["ProjectElementUUID"]
    one = odata.get(
        f"{PROJECTS}/A_EnterpriseProjectElement(guid'{by_id['PRJ-0001.2']['ProjectElementUUID']}')"
    )
    assert one.json()["d"]["ProjectElementDescription"] == "Data migration"
    assert one.json()["d"]["WBSElementInternalID"] == "00000103"


def test_select_top_skip_count_and_inlinecount(odata: httpx.Client) -> None:
    """$select keeps __metadata and the named properties; $top/$skip window the set;
    __count and /$count tell the filtered total as text."""
    answer = odata.get(
        f"{PROJECTS}/A_EnterpriseProjectElement",
        params={
            "$select": "ProjectElement,CompanyCode",
            "$orderby": "ProjectElement desc",
            "$top": "3",
            "$skip": "1",
            "$inlinecount": "allpages",
            "$filter": "CompanyCode eq '2000'",
        },
    )
    body = answer.json()["d"]
    assert body["__count"] == "7"
    assert [sorted(r) for r in body["results"]] == [
        ["CompanyCode", "ProjectElement", "__metadata"]
    ] * 3
    assert [r["ProjectElement"] for r in body["results"]] == ["PRJ-0006", "PRJ-0004.1", "PRJ-0004"]
    count = odata.get(
        f"{PROJECTS}/A_EnterpriseProjectElement/$count", params={"$filter": "CompanyCode eq '2000'"}
    )
    assert (count.text, count.headers["content-type"].split(";")[0]) == ("7", "text/plain")


def test_server_paging_with_next_links(odata: httpx.Client, system: SapSystem) -> None:
    """25 rows a page, then __next with $skiptoken keeping the filter; all pages together
    are the whole filtered set, each row once."""
    first = odata.get(
        f"{JOURNAL}/A_JournalEntryItemBasic",
        params={"$filter": "Ledger eq '0L'", "$inlinecount": "allpages"},
    ).json()["d"]
    assert len(first["results"]) == 25
    assert "$skiptoken=25" in first["__next"]
    assert "Ledger%20eq%20'0L'" in first["__next"]
    rows, requests = _all(
        odata, f"{JOURNAL}/A_JournalEntryItemBasic", **{"$filter": "Ledger eq '0L'"}
    )
    assert (
        len(rows)
        == int(first["__count"])
        == len([r for r in system.rows("COEP") if r["WRTTP"] == "04"])
    )
    assert len({r["ID"] for r in rows}) == len(rows)
    assert requests == -(-len(rows) // 25)


def test_top_larger_than_a_page_pages_within_top(odata: httpx.Client) -> None:
    """$top=60 with 25 a page: 25, 25, 10."""
    answer = odata.get(f"{JOURNAL}/A_JournalEntryItemBasic", params={"$top": "60"})
    sizes = []
    while True:
        body = answer.json()["d"]
        sizes.append(len(body["results"]))
        if "__next" not in body:
            break
        answer = odata.get(body["__next"])
    assert sizes == [25, 25, 10]


def test_journal_items_sum_to_the_co_totals(odata: httpx.Client, system: SapSystem) -> None:
    """Leading-ledger items of a WBS element in a period sum to its COSP/COSS WKG (EUR
    company code); amounts are strings with 3 decimals; 2L repeats 1000's items."""
    rows, _ = _all(
        odata,
        f"{JOURNAL}/A_JournalEntryItemBasic",
        **{
            "$filter": "Ledger eq '0L' and startswith(WBSElementExternalID,'PRJ-0001') and FiscalPeriod eq '003'"
        },
    )
    assert all(
        r["AmountInCompanyCodeCurrency"].count(".") == 1
        and len(r["AmountInCompanyCodeCurrency"].split(".")[1]) == 3
        for r in rows
    )
    by_wbs: dict[str, Decimal] = {}
    for r in rows:
        by_wbs[r["WBSElementExternalID"]] = by_wbs.get(
            r["WBSElementExternalID"], Decimal(0)
        ) + Decimal(r["AmountInCompanyCodeCurrency"])
    objnr = {w["POSID"]: w["OBJNR"] for w in system.rows("PRPS")}
    for posid, amount in by_wbs.items():
        totals = sum(
            Decimal(t["WKG003"])
            for table in ("COSP", "COSS")
            for t in system.rows(table)
            if t["OBJNR"] == objnr[posid] and t["WRTTP"] == "04"
        )
        assert amount == totals, posid
    parallel, _ = _all(
        odata,
        f"{JOURNAL}/A_JournalEntryItemBasic",
        **{
            "$filter": "Ledger eq '2L' and startswith(WBSElementExternalID,'PRJ-0001') and FiscalPeriod eq '003'"
        },
    )
    assert len(parallel) == len(rows) > 0


def test_special_periods_and_reversal_in_journal(odata: httpx.Client) -> None:
    """Period 13 and 16 items; the reversed travel and its reversal net to zero."""
    special, _ = _all(
        odata,
        f"{JOURNAL}/A_JournalEntryItemBasic",
        **{"$filter": "Ledger eq '0L' and (FiscalPeriod eq '013' or FiscalPeriod eq '016')"},
    )
    assert sorted(
        (r["FiscalPeriod"], r["AmountInTransactionCurrency"], r["TransactionCurrency"])
        for r in special
    ) == [("013", "12500.000", "USD"), ("016", "-2500.000", "USD")]
    travel, _ = _all(
        odata,
        f"{JOURNAL}/A_JournalEntryItemBasic",
        **{"$filter": "Ledger eq '0L' and GLAccount eq '0000474000'"},
    )
    assert sorted(r["AmountInCompanyCodeCurrency"] for r in travel) == ["-5000.000", "5000.000"]
    assert {r["ControllingDebitCreditCode"] for r in travel} == {"S"}  # a reversal keeps it


def test_global_currency_amounts_equal_the_co_totals(
    odata: httpx.Client, system: SapSystem
) -> None:
    """Per WBS element and period, 0L's AmountInGlobalCurrency (EUR, the controlling area's
    currency) sums to COSP + COSS WKG, for EUR, USD and GBP projects alike."""
    rows, _ = _all(
        odata,
        f"{JOURNAL}/A_JournalEntryItemBasic",
        **{
            "$filter": "Ledger eq '0L' and WBSElementExternalID ne ''",
            "$select": "WBSElementExternalID,FiscalPeriod,AmountInGlobalCurrency,GlobalCurrency",
        },
    )
    assert {r["GlobalCurrency"] for r in rows} == {"EUR"}
    journal: dict[tuple[str, int], Decimal] = {}
    for r in rows:
        key = (r["WBSElementExternalID"], int(r["FiscalPeriod"]))
        journal[key] = journal.get(key, Decimal(0)) + Decimal(r["AmountInGlobalCurrency"])
    posid = {w["OBJNR"]: w["POSID"] for w in system.rows("PRPS")}
    totals: dict[tuple[str, int], Decimal] = {}
    for table in ("COSP", "COSS"):
        for t in system.rows(table):
            if t["WRTTP"] == "04" and t["OBJNR"] in posid:
                for period in range(1, 17):
                    key = (posid[t["OBJNR"]], period)
                    totals[key] = totals.get(key, Decimal(0)) + Decimal(t[f"WKG{period:03d}"])
    assert {k: v for k, v in journal.items() if v} == {k: v for k, v in totals.items() if v}
    assert {r["WBSElementExternalID"][:8] for r in rows} == {f"PRJ-000{n}" for n in range(1, 7)}


def test_a_posting_shows_at_once(odata: httpx.Client, system: SapSystem, seed: SeedSummary) -> None:
    """A mutation of the system is in the next answer."""
    url = f"{JOURNAL}/A_JournalEntryItemBasic/$count"
    params = {"$filter": "WBSElementExternalID eq 'PRJ-0006.1' and Ledger eq '0L'"}
    before = int(odata.get(url, params=params).text)
    Postings(system).post(seed.wbs["PRJ-0006.1"], "0000417000", Decimal("99.00"), date(2025, 3, 3))
    assert int(odata.get(url, params=params).text) == before + 1


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("ProjectStartDate ge datetime'2025-02-01T00:00:00'", ["PRJ-0002", "PRJ-0004"]),
        (
            "ProjectStartDate lt datetime'2025-01-07T00:00:00' and ProjectCurrency ne 'EUR'",
            ["PRJ-0003", "PRJ-0006"],
        ),
        ("substringof('Initech',ProjectDescription)", ["PRJ-0005", "PRJ-0006"]),
        ("endswith(Project,'3') or Project eq 'PRJ-0001'", ["PRJ-0001", "PRJ-0003"]),
        (
            "not (CompanyCode eq '1000') and ProjectEndDate le datetime'2025-11-28T00:00:00'",
            ["PRJ-0004", "PRJ-0006"],
        ),
        ("LastChangeDateTime gt datetimeoffset'2025-05-01T00:00:00Z'", ["PRJ-0004"]),
        ("tolower(ProjectCurrency) eq 'gbp'", ["PRJ-0005"]),
    ],
)
def test_filters(odata: httpx.Client, filter_: str, expected: list[str]) -> None:
    """Comparisons, and/or/not, functions, datetime and datetimeoffset literals."""
    rows = odata.get(f"{PROJECTS}/A_EnterpriseProject", params={"$filter": filter_}).json()["d"][
        "results"
    ]
    assert sorted(r["Project"] for r in rows) == expected


def test_bad_requests_are_odata_errors(odata: httpx.Client) -> None:
    """An unknown property in $filter or $select, an unknown set: 400/404 with SAP's error
    body."""
    for url, params, status in [
        (
            f"{JOURNAL}/A_JournalEntryItemBasic",
            {"$filter": "PostingDate ge datetime'2025-01-01T00:00:00'"},
            400,
        ),
        (f"{JOURNAL}/A_JournalEntryItemBasic", {"$select": "ID,LastChangeDateTime"}, 400),
        (f"{JOURNAL}/A_JournalEntry", {}, 404),
        (f"{PROJECTS}/A_EnterpriseProject", {"$expand": "to_Nothing"}, 400),
    ]:
        answer = odata.get(url, params=params)
        assert answer.status_code == status
        error = answer.json()["error"]
        assert error["code"].startswith("/IWBEP/") or error["code"].startswith("/IWFND/")
        assert error["message"]["lang"] == "en"
        assert error["message"]["value"]


def test_expand_writes_the_elements_inline(odata: httpx.Client) -> None:
    """$expand=to_EnterpriseProjectElement puts each project's elements in `results` in
    place of `__deferred`, on a collection and on one entity."""
    rows = odata.get(
        f"{PROJECTS}/A_EnterpriseProject",
        params={
            "$expand": "to_EnterpriseProjectElement",
            "$select": "Project,to_EnterpriseProjectElement",
            "$filter": "Project eq 'PRJ-0002' or Project eq 'PRJ-0006'",
        },
    ).json()["d"]["results"]
    inline = {
        r["Project"]: sorted(
            e["ProjectElement"] for e in r["to_EnterpriseProjectElement"]["results"]
        )
        for r in rows
    }
    assert inline == {
        "PRJ-0002": ["PRJ-0002", "PRJ-0002.1", "PRJ-0002.2"],
        "PRJ-0006": ["PRJ-0006", "PRJ-0006.1"],
    }
    one = odata.get(
        rows[0]["__metadata"]["uri"], params={"$expand": "to_EnterpriseProjectElement"}
    ).json()["d"]
    assert len(one["to_EnterpriseProjectElement"]["results"]) == len(inline[rows[0]["Project"]])
    assert (
        one["to_EnterpriseProjectElement"]["results"][0]["__metadata"]["type"]
        == "API_ENTERPRISE_PROJECT_SRV.A_EnterpriseProjectElementType"
    )


def test_versioned_service_path_and_metadata(odata: httpx.Client) -> None:
    """`;v=0002` reaches the same service; $metadata lists the properties."""
    rows = odata.get(f"{PROJECTS};v=0002/A_EnterpriseProject", params={"$top": "1"}).json()["d"][
        "results"
    ]
    assert rows[0]["__metadata"]["uri"].count(";v=0002") == 1
    metadata = odata.get(f"{JOURNAL}/$metadata")
    assert metadata.headers["content-type"].startswith("application/xml")
    assert '<Property Name="WBSElementExternalID" Type="Edm.String"/>' in metadata.text
    for absent in ("PostingDate", "FiscalYear", "AccountingDocument", "LastChangeDateTime"):
        assert f'Name="{absent}"' not in metadata.text


def test_json_only_when_asked(server: SapODataSandbox) -> None:
    """Without Accept JSON or $format=json: 406; $format=json alone is enough."""
    with client_for(server, auth=(USER.user, USER.password)) as client:
        assert client.get(f"{PROJECTS}/A_EnterpriseProject").status_code == 406
        assert (
            client.get(f"{PROJECTS}/A_EnterpriseProject", params={"$format": "json"}).status_code
            == 200
        )
