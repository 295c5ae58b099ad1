"""S/4HANA OData V2: API_ENTERPRISE_PROJECT_SRV (projects, WBS elements) and
API_JOURNALENTRYITEMBASIC_SRV (actual postings, leading ledger only), on the kit's HttpClient.

Wire (V2 JSON): `{"d": {"results": [...], "__next": "<absolute URL with $skiptoken>"}}`; the
connector asks with `$filter`, `$select` (and `$orderby` on the key where a listing decides
deletions) and follows `__next` exactly as given: the server pages, never a `$top`/`$skip` loop
of ours. `Edm.DateTime` is `/Date(ms)/`, `Edm.Decimal` a
string. Errors: `{"error": {"code": ..., "message": {"lang": ..., "value": ...}}}` at any
status. `sap-client` rides on every call; reads need no CSRF token. Auth: basic, or OAuth 2.0
client credentials (a token from `token_url`, fetched again once on a 401).

Journal items carry no change timestamp: open periods are re-read as period scopes, their
items summed per (object, G/L account, year, period) like CO totals.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.errors import ConnectorConfigError, StreamConfigError
from pmo_ledger.connectors.kit.errors import ErrorRule
from pmo_ledger.connectors.kit.http import HttpClient
from pmo_ledger.connectors.sap.normalize import CostObject, TotalLine
from pmo_ledger.connectors.sap.settings import SapSettings
from pmo_ledger.connectors.sap.values import odata_date, odata_datetime, sap_amount
from pmo_ledger.ledger.records import ProjectRecord, TaskRecord

ROOT = "/sap/opu/odata/sap"

#: Tried before the kit's HTTP_ERRORS.
ODATA_ERRORS = (
    ErrorRule(
        StreamConfigError,
        "{what}: the service refused the query ({code}: {detail}): check the property "
        "names against the service's $metadata (connectors.{name}.wbs_property)",
        status=400,
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: SAP refused the user ({status} {code}: {detail}): check connectors.{name}."
        "user/password or client_id/client_secret, and the user's business roles",
        status=range(401, 404),
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: no such service ({status}: {detail}): is it activated (/IWFND/MAINT_SERVICE)"
        " and is connectors.{name}.base_url right?",
        status=404,
    ),
)


def vendor_error(response: httpx.Response) -> tuple[str, str] | None:
    """An OData V2 error body at any status: (code, message value)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    text = message.get("value", "") if isinstance(message, dict) else str(message or "")
    return str(error.get("code", "")), str(text)


class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials: a bearer token from `token_url` (the client's id and
    secret as basic auth), fetched again once when the service answers 401."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, secret: str) -> None:
        self.token_url = token_url
        pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self._basic = f"Basic {pair}"
        self.token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for attempt in range(2):
            if self.token is None or attempt:
                answer = yield httpx.Request(
                    "POST",
                    self.token_url,
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": self._basic, "Accept": "application/json"},
                )
                if answer.status_code != 200:
                    yield request  # without a token: the service's own 401 says why
                    return
                self.token = str(answer.json().get("access_token", ""))
            request.headers["Authorization"] = f"Bearer {self.token}"
            response = yield request
            if response.status_code != 401:
                return


class ODataClient:
    """GETs of entity sets, paged, with the error table."""

    def __init__(
        self,
        settings: SapSettings,
        context: ConnectorContext,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        assert settings.base_url is not None  # validated
        self.settings, self.name = settings, context.name
        auth: httpx.Auth | None = None
        if settings.user is not None and settings.password is not None:
            auth = httpx.BasicAuth(settings.user, settings.password.get_secret_value())
        elif settings.client_id and settings.client_secret and settings.token_url:
            auth = ClientCredentials(
                settings.token_url, settings.client_id, settings.client_secret.get_secret_value()
            )
        self.http = HttpClient.from_settings(
            settings,
            name=context.name,
            errors=ODATA_ERRORS,
            connect_timeout=context.connect_timeout.total_seconds(),
            read_timeout=context.read_timeout.total_seconds(),
            vendor_error=vendor_error,
            headers={"Accept": "application/json"},
            auth=auth,
            transport=transport,
        )

    def _client_params(self) -> dict[str, str]:
        return {"sap-client": self.settings.sap_client} if self.settings.sap_client else {}

    def rows(
        self,
        service: str,
        entity_set: str,
        *,
        select: list[str],
        filter: str | None = None,
        orderby: str | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        """Every row of an entity set: one request, then its `__next` links as given (the
        server pages, `$skiptoken` or whatever the link holds is opaque). No `$top`/`$skip`
        of our own: a skip loop on top of server paging reads rows twice or never.
        `orderby`: `$orderby` (a listing's key, so the server pages a stable order)."""
        url: str = f"{ROOT}/{service}/{entity_set}"
        first: dict[str, Any] = {
            **self._client_params(),
            "$format": "json",
            "$select": ",".join(select),
        }
        if filter:
            first["$filter"] = filter
        if orderby:
            first["$orderby"] = orderby
        params: dict[str, Any] | None = first
        got = 0
        while True:
            what = f"{self.name}: {service}/{entity_set} from row {got + 1}"
            body = self.http.get_json(url, params=params, what=what)
            data = body.get("d", {}) if isinstance(body, dict) else {}
            results = data.get("results", []) if isinstance(data, dict) else []
            got += len(results)
            yield from results
            next_link = data.get("__next") if isinstance(data, dict) else None
            if not next_link:
                return
            # As given: httpx would drop the link's query for params={} (not None).
            url, params = str(next_link), None

    def ping(self) -> None:
        list(self._first("A_EnterpriseProject", ["Project"]))

    def _first(self, entity_set: str, select: list[str]) -> list[Mapping[str, Any]]:
        path = f"{ROOT}/{self.settings.project_service}/{entity_set}"
        params = {
            **self._client_params(),
            "$format": "json",
            "$top": 1,
            "$select": ",".join(select),
        }
        body = self.http.get_json(path, params=params, what=f"{self.name}: {entity_set}")
        return list(body.get("d", {}).get("results", []))

    def close(self) -> None:
        self.http.close()


#: The keys the listings are read in order of (`$orderby`): server paging without an order
#: may repeat a row on one page and skip another.
PROJECT_KEY = "ProjectUUID"
ELEMENT_KEY = "ProjectElementUUID"


def any_of(prop: str, values: Sequence[str]) -> str:
    """`(P eq 'a' or P eq 'b')`: a `$filter` for some keys (quotes doubled)."""
    quoted = ("'" + v.replace("'", "''") + "'" for v in values)
    return "(" + " or ".join(f"{prop} eq {q}" for q in quoted) + ")"


PROJECT_FIELDS = [
    "ProjectUUID", "Project", "ProjectDescription", "ProjectStartDate", "ProjectEndDate",
    "ProcessingStatus", "ProjectCurrency", "LastChangeDateTime",
]  # fmt: skip
ELEMENT_FIELDS = [
    "ProjectElementUUID", "ProjectUUID", "ProjectElement", "ProjectElementDescription",
    "ParentObjectUUID", "PlannedStartDate", "PlannedEndDate", "LastChangeDateTime",
]  # fmt: skip


def project_from_odata(row: Mapping[str, Any]) -> ProjectRecord:
    project = str(row.get("Project") or "").strip()
    if not project:
        raise ValueError("Project is empty")
    return ProjectRecord(
        external_id=project,
        code=project,
        name=str(row.get("ProjectDescription") or project),
        currency=str(row.get("ProjectCurrency") or "") or None,
        status=str(row.get("ProcessingStatus") or "") or None,
        planned_start=odata_date(row.get("ProjectStartDate"), "ProjectStartDate"),
        planned_finish=odata_date(row.get("ProjectEndDate"), "ProjectEndDate"),
        source_modified_at=odata_datetime(row.get("LastChangeDateTime"), "LastChangeDateTime"),
    )


def task_from_odata(
    row: Mapping[str, Any], projects: Mapping[str, str], elements: Mapping[str, str]
) -> TaskRecord:
    """`projects`: ProjectUUID -> Project; `elements`: ProjectElementUUID -> ProjectElement."""
    element = str(row.get("ProjectElement") or "").strip()
    if not element:
        raise ValueError("ProjectElement is empty")
    project = projects.get(str(row.get("ProjectUUID") or ""))
    if project is None:
        raise ValueError(f"ProjectUUID {row.get('ProjectUUID')!r} is no project read")
    return TaskRecord(
        external_id=element,
        project_ref=project,
        name=str(row.get("ProjectElementDescription") or element),
        parent_ref=elements.get(str(row.get("ParentObjectUUID") or "")),
        wbs_code=element,
        planned_start=odata_date(row.get("PlannedStartDate"), "PlannedStartDate"),
        planned_finish=odata_date(row.get("PlannedEndDate"), "PlannedEndDate"),
        source_modified_at=odata_datetime(row.get("LastChangeDateTime"), "LastChangeDateTime"),
    )


JOURNAL_FIELDS = [
    "CompanyCode", "LedgerFiscalYear", "FiscalPeriod", "GLAccount", "AmountInCompanyCodeCurrency",
    "CompanyCodeCurrency", "CostCenter", "ProfitCenter", "OrderID", "Ledger",
]  # fmt: skip


#: The journal item's CO debit/credit indicator (COEP/ACDOCA BEKNZ; 'A' is settlement), a
#: property of A_JournalEntryItemBasic in SAP's generated client. UNCONFIRMED against a live
#: $metadata; the CO business transaction KOAO (ControllingBusTransacType in the CDS views)
#: marks the same postings.
SETTLEMENT_PROPERTY = "ControllingDebitCreditCode"


def journal_filter(settings: SapSettings, years: list[int] | None, periods: list[int]) -> str:
    """`Ledger eq '0L' and (LedgerFiscalYear eq '2025') and (FiscalPeriod eq '003' or ...) and
    (<object> ne '' ...)` for the years, periods and object types read."""
    parts = [f"Ledger eq '{settings.ledger}'"]
    if years is not None:
        parts.append("(" + " or ".join(f"LedgerFiscalYear eq '{y:04d}'" for y in years) + ")")
    elif settings.first_year is not None:
        parts.append(f"LedgerFiscalYear ge '{settings.first_year:04d}'")
    if len(periods) < 16:
        parts.append("(" + " or ".join(f"FiscalPeriod eq '{p:03d}'" for p in periods) + ")")
    else:  # period 000 is the balance carried forward: no cost of the year
        parts.append("FiscalPeriod ne '000'")
    objects = {
        "PR": settings.wbs_property,
        "KS": "CostCenter",
        "OR": "OrderID",
        "PC": "ProfitCenter",
    }
    wanted = [f"{objects[t]} ne ''" for t in settings.object_types if t in objects]
    parts.append("(" + " or ".join(wanted) + ")")
    if not settings.include_settlement:  # BEKNZ 'A' as over RFC (property: see the docs)
        parts.append(f"{SETTLEMENT_PROPERTY} ne 'A'")
    return " and ".join(parts)


def journal_object(
    row: Mapping[str, Any], settings: SapSettings, by_project: Mapping[str, str]
) -> tuple[str, CostObject | ValueError] | None:
    """The cost object a journal item posts to, the first that is read of: WBS element,
    order, cost center, profit center (a WBS item names its profit center too). None: an item
    of no object read."""
    wbs = str(row.get(settings.wbs_property) or "").strip()
    kinds = settings.object_types
    if wbs and "PR" in kinds:
        project = by_project.get(wbs)
        if project:
            return f"PR:{wbs}", CostObject("project", project, task=wbs)
        return f"PR:{wbs}", CostObject("wbs", wbs, task=wbs)
    for kind, prop, ref_type in (
        ("OR", "OrderID", "order"),
        ("KS", "CostCenter", "cost_center"),
        ("PC", "ProfitCenter", "profit_center"),
    ):
        value = str(row.get(prop) or "").strip()
        if value and kind in kinds:
            return f"{kind}:{value}", CostObject(ref_type, value.lstrip("0") or value)
    return None


def journal_lines(
    rows: Iterator[Mapping[str, Any]], settings: SapSettings, by_project: Mapping[str, str]
) -> tuple[list[tuple[TotalLine, CostObject | ValueError]], dict[str, str]]:
    """Journal items summed per (object, G/L account, year, period): the lines and each
    line's currency. `by_project`: WBS element -> its project (when postings go to projects).
    A line whose items disagree on the currency is an error for that line."""
    lines: dict[str, TotalLine] = {}
    targets: dict[str, CostObject | ValueError] = {}
    currencies: dict[str, str] = {}
    for row in rows:
        found = journal_object(row, settings, by_project)
        if found is None:
            continue
        obj, target = found
        period, amount = 1, Decimal(0)
        try:
            period = int(str(row.get("FiscalPeriod") or ""))
            amount = sap_amount(
                str(row.get("AmountInCompanyCodeCurrency") or ""), "AmountInCompanyCodeCurrency"
            )
        except ValueError as exc:
            target = exc
        line = TotalLine(
            obj, str(row.get("GLAccount") or ""), str(row.get("LedgerFiscalYear")), period, "04"
        )
        line = lines.setdefault(line.external_id, line)
        line.amount += amount
        line.touched = True  # an item was posted: a line netting to zero is listed
        ccy = str(row.get("CompanyCodeCurrency") or "")
        if currencies.setdefault(line.external_id, ccy) != ccy:
            target = ValueError(f"items in {currencies[line.external_id]} and {ccy}")
        if isinstance(targets.get(line.external_id), ValueError):
            continue
        targets[line.external_id] = target
    return [(line, targets[k]) for k, line in lines.items()], currencies
