"""S/4HANA OData V2 reads from a MockTransport that answers as the V2 docs show: `d.results`,
`__next` links with `$skiptoken`, `/Date(ms)/`, decimals as strings, error bodies."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pmo_ledger.connectors.base import ConnectorContext, Cursor, ReadRequest, ScopeEnd, ScopeStart
from pmo_ledger.connectors.errors import ConnectorConfigError, StreamConfigError
from pmo_ledger.connectors.sap import SapConnector, SapSettings
from pmo_ledger.ledger.records import ActualRecord, ProjectRecord, TaskRecord

BASE = "https://s4.example.com"
PROJECTS = [
    {"ProjectUUID": "u-1", "Project": "PRJ-0001", "ProjectDescription": "ERP | Cloud",
     "ProjectStartDate": "/Date(1736121600000)/", "ProjectEndDate": "/Date(1759190400000)/",
     "ProcessingStatus": "10", "ProjectCurrency": "EUR",
     "LastChangeDateTime": "/Date(1700000000000+0000)/"},
]  # fmt: skip
ELEMENTS = [
    {"ProjectElementUUID": f"e-{n}", "ProjectUUID": "u-1", "ProjectElement": f"PRJ-0001.{n}",
     "ProjectElementDescription": f"Part {n}", "ParentObjectUUID": "u-1" if n == 1 else "e-1",
     "PlannedStartDate": None, "PlannedEndDate": None, "LastChangeDateTime": None}
    for n in (1, 2, 3)
]  # fmt: skip


def item(wbs: str, account: str, period: str, amount: str, ledger: str = "0L") -> dict[str, Any]:
    return {
        "OrderID": "",
        "CompanyCode": "1000", "LedgerFiscalYear": "2025", "FiscalPeriod": period,
        "GLAccount": account, "AmountInCompanyCodeCurrency": amount,
        "CompanyCodeCurrency": "EUR", "CostCenter": "", "ProfitCenter": "PC1",
        "Ledger": ledger, "WBSElementExternalID": wbs,
        "__metadata": {"type": "API_JOURNALENTRYITEMBASIC_SRV.A_JournalEntryItemBasicType"},
    }  # fmt: skip


ITEMS = [
    item("PRJ-0001.1", "61000000", "002", "100.000"),
    item("PRJ-0001.1", "61000000", "002", "-100.000"),  # a reversal in the same period
    item("PRJ-0001.2", "61000000", "003", "1234.567"),
    item("PRJ-0001.2", "61000000", "003", "0.433"),
    item("PRJ-0001.3", "62000000", "003", "99.900"),
    {**item("", "63000000", "003", "10.000"), "CostCenter": "0000004200"},
    {**item("", "63000000", "003", "20.000"), "OrderID": "000000400123"},
    {**item("", "63000000", "003", "40.000"), "ProfitCenter": "PC9"},
]


class FakeS4:
    """Answers the three entity sets, paging them itself (`__next` with `$skiptoken`)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.fail: tuple[int, dict[str, Any]] | None = None
        self.filters: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None:
            return httpx.Response(self.fail[0], json=self.fail[1])
        path = request.url.path
        q = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        assert "$skip" not in q, "the server pages: no $skip of ours"
        if q.get("$top") == "1":  # the ping's one row
            return httpx.Response(200, json={"d": {"results": PROJECTS[:1]}})
        assert "$top" not in q, "the server pages: no $top of ours"
        if path.endswith("/A_EnterpriseProject"):
            return self.page(PROJECTS, q, path, 2)
        if path.endswith("/A_EnterpriseProjectElement"):
            return self.page(ELEMENTS, q, path, 1)
        if path.endswith("/A_JournalEntryItemBasic"):
            if "$skiptoken" not in q:
                self.filters[path] = q["$filter"]  # the next links carry the query server-side
            wanted = [i for i in ITEMS if self.matches(i, self.filters[path])]
            return self.page(wanted, q, path, 2)
        return httpx.Response(404, json={"error": {"code": "/IWFND/MED/170",
                                                   "message": {"lang": "en", "value": "No service"}}})  # fmt: skip

    @staticmethod
    def matches(row: dict[str, Any], flt: str) -> bool:
        periods = [p for p in ("001", "002", "003") if f"FiscalPeriod eq '{p}'" in flt]
        return (
            f"Ledger eq '{row['Ledger']}'" in flt
            and f"LedgerFiscalYear eq '{row['LedgerFiscalYear']}'" in flt
            and row["FiscalPeriod"] in periods
        )

    @staticmethod
    def page(rows: list[dict[str, Any]], q: dict[str, str], path: str, size: int) -> httpx.Response:
        """Server-driven paging: `size` rows an answer, `__next` = `?$skiptoken=N` (no $top)."""
        skip = int(q.get("$skiptoken", "0"))
        body: dict[str, Any] = {"results": rows[skip : skip + size]}
        if skip + size < len(rows):
            body["__next"] = f"{BASE}{path}?$skiptoken={skip + size}"
        return httpx.Response(200, json={"d": body})


def connector(fake: FakeS4, **extra: Any) -> SapConnector:
    settings = SapSettings.model_validate(
        {
            "transport": "odata",
            "base_url": BASE,
            "username": "COMM_PMO",
            "password": "pw",
            "sap_client": "100",
            "odata_page_size": 2,
            **extra,
        }
    )
    return SapConnector(
        settings,
        ConnectorContext("s4"),
        transport=httpx.MockTransport(fake),
        today=date(2025, 3, 15),
    )


def test_projects_and_wbs_elements_follow_next_links() -> None:
    fake = FakeS4()
    c = connector(fake)
    (project,) = [r for p in c.extract("projects", ReadRequest()) for r in p.records]
    assert isinstance(project, ProjectRecord)
    assert (project.code, project.name, project.planned_start) == (
        "PRJ-0001",
        "ERP | Cloud",
        date(2025, 1, 6),
    )
    tasks = [r for p in c.extract("tasks", ReadRequest()) for r in p.records]
    assert [(t.external_id, t.parent_ref) for t in tasks if isinstance(t, TaskRecord)] == [
        ("PRJ-0001.1", None), ("PRJ-0001.2", "PRJ-0001.1"), ("PRJ-0001.3", "PRJ-0001.1"),
    ]  # fmt: skip
    first = fake.requests[0]
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"COMM_PMO:pw").decode()
    assert first.url.params["sap-client"] == "100"
    assert "X-CSRF-Token" not in first.headers
    assert any(str(r.url).endswith("$skiptoken=2") for r in fake.requests)


def test_open_periods_are_read_as_period_scopes_summed_per_account() -> None:
    fake = FakeS4()
    c = connector(fake)
    request = ReadRequest(Cursor("period", "2025-01"), Cursor("period", "2025-03"))
    pages = list(c.extract("actuals", request))
    scopes = [p.scope for p in pages if p.scope is not None]
    assert scopes == [  # 2024's special periods (folded into 12) stay open until April
        ScopeStart("period:2024-12"), ScopeEnd("period:2024-12"),
        ScopeStart("period:2025-01"), ScopeEnd("period:2025-01"),
        ScopeStart("period:2025-02"), ScopeEnd("period:2025-02"),
        ScopeStart("period:2025-03"), ScopeEnd("period:2025-03"),
    ]  # fmt: skip
    records = [r for p in pages for r in p.records if isinstance(r, ActualRecord)]
    got = {(r.external_id, r.period): (r.amount, r.project_ref, r.task_ref) for r in records}
    assert got == {
        ("PR:PRJ-0001.1/61000000/2025/002/04", "2025-02"): (Decimal("0"), "PRJ-0001", "PRJ-0001.1"),
        ("PR:PRJ-0001.2/61000000/2025/003/04", "2025-03"): (Decimal("1235.0000"), "PRJ-0001", "PRJ-0001.2"),
        ("PR:PRJ-0001.3/62000000/2025/003/04", "2025-03"): (Decimal("99.9000"), "PRJ-0001", "PRJ-0001.3"),
    }  # fmt: skip
    assert pages[-1].checkpoint == Cursor("period", "2025-03")
    journal = [r for r in fake.requests if r.url.path.endswith("A_JournalEntryItemBasic")]
    flt = journal[0].url.params["$filter"]
    assert "Ledger eq '0L'" in flt and "LedgerFiscalYear eq '2025'" in flt
    pages_asked = [r.url.params.get("$skiptoken") for r in journal]
    assert pages_asked[0] is None and len(pages_asked) == len(set(pages_asked))  # __next only
    assert "WBSElementExternalID" in journal[0].url.params["$select"]


def test_odata_error_bodies_become_typed_errors_with_sap_text() -> None:
    fake = FakeS4()
    fake.fail = (400, {"error": {"code": "/IWBEP/CM_MGW_RT/022",
                                 "message": {"lang": "en", "value": "Property WBS not found"}}})  # fmt: skip
    with pytest.raises(StreamConfigError, match="Property WBS not found"):
        list(connector(fake).extract("projects", ReadRequest()))
    fake.fail = (
        401,
        {"error": {"code": "401", "message": {"lang": "en", "value": "Unauthorized"}}},
    )
    with pytest.raises(ConnectorConfigError, match="user/password"):
        connector(fake).check()


def test_oauth_client_credentials_fetch_a_token_and_send_it() -> None:
    tokens: list[httpx.Request] = []
    fake = FakeS4()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            tokens.append(request)
            return httpx.Response(200, json={"access_token": "t0k", "token_type": "bearer"})
        return fake(request)

    settings = SapSettings.model_validate(
        {
            "transport": "odata",
            "base_url": BASE,
            "client_id": "pmo",
            "client_secret": "s3",
            "token_url": f"{BASE}/oauth/token",
        }
    )
    c = SapConnector(settings, ConnectorContext("s4"), transport=httpx.MockTransport(handler))
    c.check()
    assert tokens[0].headers["Authorization"] == "Basic " + base64.b64encode(b"pmo:s3").decode()
    assert b"grant_type=client_credentials" in tokens[0].content
    assert fake.requests[0].headers["Authorization"] == "Bearer t0k"


def test_orders_cost_centers_and_profit_centers_are_read_when_asked() -> None:
    fake = FakeS4()
    c = connector(fake, object_types=["PR", "OR", "KS", "PC"])
    request = ReadRequest(Cursor("period", "2025-03"), Cursor("period", "2025-03"))
    records = [
        r for p in c.extract("actuals", request) for r in p.records if isinstance(r, ActualRecord)
    ]
    others = {
        (r.project_ref_type, r.project_ref): r.amount
        for r in records
        if r.project_ref_type != "project"
    }
    assert others == {
        ("cost_center", "4200"): Decimal("10.0000"),
        ("order", "400123"): Decimal("20.0000"),
        ("profit_center", "PC9"): Decimal("40.0000"),  # the WBS items' PC1 is not counted twice
    }
    flt = fake.filters[f"{fake.requests[-1].url.path}"]
    assert "OrderID ne ''" in flt and "ProfitCenter ne ''" in flt


def test_settings_refuse_what_the_wire_cannot_do() -> None:
    base = {"transport": "odata", "base_url": BASE, "user": "U", "password": "p"}
    with pytest.raises(ValueError, match='actuals = "items" reads CO line items'):
        SapSettings.model_validate({**base, "actuals": "items"})
    with pytest.raises(ValueError, match="needs user and password, or client_id"):
        SapSettings.model_validate({"transport": "odata", "base_url": BASE})
    with pytest.raises(ValueError, match='"PC" \\(profit centers\\) needs transport = "odata"'):
        SapSettings.model_validate(
            {"rfc": {"dest": "PRD"}, "currency": "EUR", "object_types": ["PR", "PC"]}
        )
    with pytest.raises(ValueError, match="transport rfc needs"):
        SapSettings.model_validate({"currency": "EUR"})
    table = {"rfc": {"dest": "PRD", "passwd": "s3cr3t", "sysnr": 0}, "currency": "EUR"}
    rfc = SapSettings.model_validate(table)
    assert rfc.logon() == {"dest": "PRD", "passwd": "s3cr3t", "sysnr": "0"}  # strings
    assert "s3cr3t" not in repr(rfc)
