"""The SAP connector (`kind = "sap"`): PS projects and WBS elements, CO actual costs by period.

- `settings`: the configuration (`transport = "rfc" | "odata"`, `[connectors.<name>.rfc]`);
- `rfc`: the PyRFC-compatible Connection (imported from `rfc_module` on first use; never a
  dependency), RFC_READ_TABLE (OPTIONS lines, FIELDS chunks, ROWSKIPS/ROWCOUNT, offsets) and
  the RFC error table; `rfc_source`: the tables read over it (PROJ, PRPS, PRHI, COSP/COSS,
  TKA01);
- `odata`: S/4HANA OData V2 (API_ENTERPRISE_PROJECT_SRV, API_JOURNALENTRYITEMBASIC_SRV);
- `values`: SAP's value images (YYYYMMDD, trailing minus, NUMC, /Date(ms)/); `normalize`:
  rows -> records; `periods`: SAP periods in the ledger's calendar; `reader`: period scopes;
- `sandbox`: the fakes of `pmo-ledger sandbox --kind sap`, reached only through
  `SapConnector.sandbox()`: importing the connector does not load them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    Cursor,
    Page,
    ReadRequest,
    Sandbox,
    SandboxOptions,
    SourceTotal,
    StreamSpec,
    fingerprint,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.pages import Item, Marked, ordered_pages, scoped
from pmo_ledger.connectors.sap import items as items_mod
from pmo_ledger.connectors.sap.budgets import (
    budget_totals,
    budget_versions,
    elements,
    own_budgets,
    plan_versions,
)
from pmo_ledger.connectors.sap.normalize import (
    CostObject,
    TotalLine,
    Wbs,
    cost_object,
    fx_rate,
    project_record,
    sum_totals,
    task_record,
)
from pmo_ledger.connectors.sap.odata import (
    ELEMENT_FIELDS,
    JOURNAL_FIELDS,
    PROJECT_FIELDS,
    ODataClient,
    journal_filter,
    journal_lines,
    project_from_odata,
    task_from_odata,
)
from pmo_ledger.connectors.sap.periods import FiscalPeriods
from pmo_ledger.connectors.sap.reader import (
    ALL_PERIODS,
    Plan,
    actual_pages,
    control_totals,
    period_items,
    plan,
)
from pmo_ledger.connectors.sap.rfc import RfcClient
from pmo_ledger.connectors.sap.rfc_source import ACTUAL, PLAN, RfcSource, parents
from pmo_ledger.connectors.sap.settings import SapSettings
from pmo_ledger.ledger.records import Rejected

__all__ = ["SapConnector", "SapSettings"]

_EXTERNAL_ID = "<OBJNR>/<KSTAR>/<GJAHR>/<PERIOD>/<WRTTP> (OData: <PR:WBS>/<GLAccount>/...)"
ITEM_ID = '<KOKRS>/<BELNR>/<BUZEI> (actuals = "items": CO line items, COEP)'
STREAMS: dict[str, StreamSpec] = {
    "projects": StreamSpec("projects", "token", "project", "<PSPID> (OData: Project)"),
    "tasks": StreamSpec(
        "tasks", "token", "task", "<POSID> (OData: ProjectElement)", after=("projects",)
    ),
    "budgets": StreamSpec(
        "budgets",
        "token",
        "budget",
        "<PSPID>/current (lines <OBJNR>/<currency>), <PSPID>/plan (lines as actuals)",
        counts="budget activities `budget_activities` of value type 41; plan version 000",
        after=("tasks",),
    ),
    "fx_rates": StreamSpec(
        "fx_rates",
        "token",
        external_id="<rate_type>/<FCURR>/<TCURR>/<valid from> (TCURR, KURST = fx_rate_type)",
    ),
    "actuals": StreamSpec(
        "actuals",
        "period",
        "actual",
        _EXTERNAL_ID,
        counts="CO actuals (value type 04, version 000) of the object types read",
        scopes=("period",),
        after=("tasks",),
    ),
}


class SapConnector(Connector):
    """Reads SAP PS/CO over RFC or S/4HANA OData; see the package docstring."""

    kind: ClassVar[str] = "sap"
    settings_model = SapSettings
    streams: Mapping[str, StreamSpec] = STREAMS
    example_settings: ClassVar[dict[str, Any]] = {
        "rfc": {"ashost": "sap.example.com", "sysnr": "00", "client": "100", "user": "PMO"},
        "controlling_area": "1000",
    }

    def __init__(
        self,
        settings: ConnectorSettings,
        context: ConnectorContext,
        *,
        transport: httpx.BaseTransport | None = None,
        today: date | None = None,
    ) -> None:
        if not isinstance(settings, SapSettings):
            raise ConnectorConfigError(f"{context.name}: expected SapSettings")
        super().__init__(settings, context)
        self.config = settings
        self._transport = transport
        self._today = today
        self._rfc: RfcSource | None = None
        self._odata: ODataClient | None = None
        # The OData services carry no PS budget nor TCURR; rates only when a type is named.
        off = {"budgets", "fx_rates"} if settings.transport == "odata" else set()
        if settings.fx_rate_type is None:
            off.add("fx_rates")
        self.streams = {k: v for k, v in STREAMS.items() if k not in off}
        if settings.transport == "rfc" and settings.actuals == "items":
            items = replace(STREAMS["actuals"], cursor="timestamp", external_id=ITEM_ID)
            self.streams = {**self.streams, "actuals": items}

    # --- sources -------------------------------------------------------------------------

    @property
    def rfc(self) -> RfcSource:
        if self._rfc is None:
            s = self.config
            client = RfcClient(
                self.name,
                s.rfc_module,
                s.logon(),
                read_table_function=s.read_table_function,
                delimiter=s.delimiter,
                row_bytes=s.row_bytes,
                page_rows=s.page_rows,
                attempts=s.max_attempts,
                backoff=s.backoff_seconds,
            )
            self._rfc = RfcSource(client, s)
        return self._rfc

    @property
    def odata(self) -> ODataClient:
        if self._odata is None:
            self._odata = ODataClient(self.config, self.context, self._transport)
        return self._odata

    def periods(self) -> FiscalPeriods:
        return FiscalPeriods(self.context.calendar, self._today or datetime.now(UTC).date())

    @classmethod
    def sandbox(cls, options: SandboxOptions | None = None) -> AbstractContextManager[Sandbox]:
        """The fake SAP of `pmo-ledger sandbox` (an RFC module and an OData server). Imported
        here only: the read path never loads the sandbox."""
        from pmo_ledger.connectors.sap.sandbox.run import running

        return running(options or SandboxOptions())

    # --- the contract --------------------------------------------------------------------

    def check(self) -> None:
        """RFC_PING over RFC; one project row over OData."""
        if self.config.transport == "rfc":
            self.rfc.check()
        else:
            self.odata.ping()

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        if stream not in self.streams:
            raise ConnectorConfigError(
                f"{self.name} has no stream {stream!r} (streams: {', '.join(self.streams)})"
            )
        if stream != "actuals":
            if request.scope is not None:
                raise ConnectorConfigError(f"stream {stream} cannot re-sync {request.scope}")
            read = {
                "projects": self._projects,
                "tasks": self._tasks,
                "budgets": self._budgets,
                "fx_rates": self._rates,
            }
            items = read[stream]()
            return self._last_checkpoint(
                ordered_pages(items, self.config.page_size, checkpoints=False)
            )
        periods = self.periods()
        if self.config.transport == "rfc" and self.config.actuals == "items":
            return self._item_pages(stream, request, periods)
        p = plan(request, stream, periods, self.config.open_periods_back)
        return actual_pages(stream, p, self._actual_items(p, periods), self.config.page_size)

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """Actuals: per project key and currency, the lines a full read lists (count, amount,
        hours where the unit is hours), summed from the same tables. None for other streams."""
        if stream == "budgets":
            return budget_totals(self._budgets())
        if stream != "actuals":
            return None
        periods = self.periods()
        if self.config.transport == "rfc" and self.config.actuals == "items":
            listed = [i for _, i in self._line_items(periods, None, None)]
            return control_totals({"": listed})
        full = Plan(None, ALL_PERIODS, None, None)
        return control_totals(self._actual_items(full, periods))

    def read_fingerprint(self, stream: str) -> str | None:
        s = self.config
        return fingerprint(
            [s.transport, s.actuals, s.object_types, s.plan_version, s.first_year, s.ledger,
             s.wbs_property, s.currency, s.controlling_area]
        )  # fmt: skip

    def close(self) -> None:
        if self._rfc is not None:
            self._rfc.client.close()
        if self._odata is not None:
            self._odata.close()

    # --- streams -------------------------------------------------------------------------

    def _last_checkpoint(self, pages: Iterator[Page]) -> Iterator[Page]:
        stamp = Cursor("token", datetime.now(UTC).isoformat(timespec="seconds"))
        last: Page | None = None
        for page in pages:
            if last is not None:
                yield last
            last = page
        yield (
            Page(checkpoint=stamp)
            if last is None
            else Page(last.records, last.deletions, last.rejected, stamp)
        )

    def _projects(self) -> Iterator[Item]:
        if self.config.transport == "odata":
            rows: list[Mapping[str, Any]] = list(
                self.odata.rows(
                    self.config.project_service, "A_EnterpriseProject", select=PROJECT_FIELDS
                )
            )
            return _each(rows, project_from_odata, "Project")
        return _each(self.rfc.projects(), project_record, "PSPID")

    def _tasks(self) -> Iterator[Item]:
        if self.config.transport == "odata":
            service = self.config.project_service
            projects = {
                str(r.get("ProjectUUID")): str(r.get("Project"))
                for r in self.odata.rows(
                    service, "A_EnterpriseProject", select=["ProjectUUID", "Project"]
                )
            }
            rows = list(
                self.odata.rows(service, "A_EnterpriseProjectElement", select=ELEMENT_FIELDS)
            )
            elements = {
                str(r.get("ProjectElementUUID")): str(r.get("ProjectElement")) for r in rows
            }
            return _each(rows, lambda r: task_from_odata(r, projects, elements), "ProjectElement")
        pspids = {r["PSPNR"]: r["PSPID"] for r in self.rfc.projects()}
        wbs = self.rfc.wbs_elements()
        posid_of = {r["PSPNR"]: r["POSID"] for r in wbs}
        ups = parents(self.rfc.hierarchy(), posid_of)
        return _each(wbs, lambda r: task_record(r, pspids, ups), "POSID")

    def _line_items(
        self, periods: FiscalPeriods, since: datetime | None, scope: Plan | None
    ) -> Iterator[tuple[str, Item]]:
        """COEP lines as (ledger period, item): entered since `since`, or of a scope's
        periods, or (neither) every line."""
        s, tz = self.config, ZoneInfo(self.config.system_timezone)
        docs = items_mod.headers(self.rfc, since, tz)
        header_of = {d["BELNR"]: d for d in docs}
        if since is not None:
            rows = items_mod.lines(self.rfc, list(header_of), {}) if header_of else []
        elif scope is not None and scope.years:
            rows = items_mod.lines(self.rfc, None, {scope.years[0]: list(scope.sap_periods)})
        else:
            rows = items_mod.lines(self.rfc, None, {})
        wbs = self.rfc.wbs_by_objnr() if "PR" in s.object_types else {}
        return items_mod.item_records(
            rows, header_of, wbs, periods, self.rfc.currency(), tz, s.wbs_postings == "project"
        )

    def _item_pages(
        self, stream: str, request: ReadRequest, periods: FiscalPeriods
    ) -> Iterator[Page]:
        size = self.config.page_size
        if request.scope is not None:
            p = plan(request, stream, periods, self.config.open_periods_back)
            listed = [i for _, i in self._line_items(periods, None, p)]
            pages = ordered_pages(listed, size, checkpoints=False)
            return scoped(request.scope, pages)
        since = request.cursor.value if request.cursor is not None else None
        if since is not None and not isinstance(since, datetime):
            raise ConnectorConfigError(
                f"stream {stream} reads line items from a timestamp cursor: run it with --full"
            )
        listed = [i for _, i in self._line_items(periods, since, None)]
        pages = ordered_pages(listed, size, kind="timestamp")
        return pages if since is not None else scoped(stream, pages)

    def _rates(self) -> Iterator[Item]:
        kind = self.config.fx_rate_type or "M"
        return _each(self.rfc.rates(kind), lambda r: fx_rate(r, kind), "GDATU")

    def _budgets(self) -> Iterator[Item]:
        """Each project's budget (`current`) and cost plan (`plan`) versions."""
        read_at = datetime.now(UTC)
        projects = self.rfc.projects()
        by_objnr = elements(projects, self.rfc.wbs_elements(), self.rfc.hierarchy())
        try:
            own = own_budgets(self.rfc.budgets(), by_objnr, self.config.budget_activities)
        except ValueError as exc:
            yield Marked(None, Rejected(None, "unreadable_row", {"error": str(exc)}))
            own = {}
        yield from budget_versions(own, by_objnr, projects, read_at)
        periods = self.periods()
        plan_lines = sum_totals(self.rfc.totals(PLAN, None, ALL_PERIODS), ALL_PERIODS)
        placed = []
        for line in plan_lines.values():
            if line.error is not None:
                yield Marked(
                    None, Rejected(line.external_id, "unreadable_row", {"error": line.error})
                )
                continue
            try:
                placed.append((line, periods.ledger_period(int(line.gjahr), line.period).key))
            except (ValueError, LookupError) as exc:
                yield Marked(
                    None, Rejected(line.external_id, "unknown_period", {"error": str(exc)})
                )
        yield from plan_versions(placed, by_objnr, self.rfc.currency(), projects, read_at)

    def _actual_items(self, p: Plan, periods: FiscalPeriods) -> dict[str, list[Item]]:
        read_at = datetime.now(UTC)
        if self.config.transport == "odata":
            by_project: dict[str, str] = {}
            to_projects = self.config.wbs_postings == "project"
            service = self.config.project_service
            projects = {
                str(r.get("ProjectUUID")): str(r.get("Project"))
                for r in self.odata.rows(
                    service, "A_EnterpriseProject", select=["ProjectUUID", "Project"]
                )
            }
            for r in self.odata.rows(
                service, "A_EnterpriseProjectElement", select=["ProjectUUID", "ProjectElement"]
            ):
                if to_projects:
                    project = projects.get(str(r.get("ProjectUUID")), "")
                    by_project[str(r.get("ProjectElement"))] = project
            select = [*JOURNAL_FIELDS, self.config.wbs_property]
            rows = self.odata.rows(
                self.config.journal_service,
                "A_JournalEntryItemBasic",
                select=select,
                filter=journal_filter(self.config, p.years, list(p.sap_periods)),
            )
            lines, currencies = journal_lines(rows, self.config, by_project)
            return period_items(lines, periods, p.keep, currencies, read_at)
        return self._totals_items(p, periods, read_at)

    def _totals_items(
        self, p: Plan, periods: FiscalPeriods, read_at: datetime
    ) -> dict[str, list[Item]]:
        wbs: dict[str, Wbs] = self.rfc.wbs_by_objnr() if "PR" in self.config.object_types else {}
        currency = self.rfc.currency()
        totals = sum_totals(self.rfc.totals(ACTUAL, p.years, p.sap_periods), p.sap_periods)
        targets: list[tuple[TotalLine, CostObject | ValueError]] = []
        for line in totals.values():
            try:
                targets.append(
                    (
                        line,
                        cost_object(
                            line.objnr, wbs, by_project=self.config.wbs_postings == "project"
                        ),
                    )
                )
            except ValueError as exc:
                targets.append((line, exc))
        return period_items(targets, periods, p.keep, currency, read_at)


def _each(rows: Any, make: Any, key: str) -> Iterator[Item]:
    for row in rows:
        try:
            yield make(row)
        except ValueError as exc:
            yield Marked(None, Rejected(str(row.get(key) or "") or None, "unreadable_row",
                                        {"error": str(exc), "row": dict(row)}))  # fmt: skip
