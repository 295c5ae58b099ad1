"""How each SAP stream is read, over whichever transport is configured: rows from
`rfc_source` / `odata`, records from `normalize`, `budgets`, `items`, and the period plan of
`reader`. `SapConnector` hands its requests here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import structlog

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.listing import key_of
from pmo_ledger.connectors.kit.pages import Item, Marked, ordered_pages, scoped
from pmo_ledger.connectors.sap import items as items_mod
from pmo_ledger.connectors.sap.budgets import (
    budget_versions,
    elements,
    own_budgets,
    plan_versions,
)
from pmo_ledger.connectors.sap.cost_types import CostTypes
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
from pmo_ledger.connectors.sap.periods import FiscalPeriods
from pmo_ledger.connectors.sap.reader import ALL_PERIODS, Plan, period_items, plan
from pmo_ledger.connectors.sap.rfc import any_of
from pmo_ledger.connectors.sap.rfc_source import ACTUAL, PLAN, RfcSource, parents
from pmo_ledger.connectors.sap.settings import SapSettings
from pmo_ledger.ledger.records import Rejected

log = structlog.get_logger(__name__)

if TYPE_CHECKING:  # the OData wire (httpx) loads when it is first read
    from pmo_ledger.connectors.sap.odata import ODataClient


class SapReads:
    """The reads of one connector: its settings, its sources (opened on first use) and the
    ledger calendar's periods as of today."""

    def __init__(
        self,
        config: SapSettings,
        rfc: Callable[[], RfcSource],
        odata: Callable[[], ODataClient],
        periods: Callable[[], FiscalPeriods],
    ) -> None:
        self.config = config
        self._rfc, self._odata, self.periods = rfc, odata, periods
        self.cost_types = CostTypes(config.cost_types)
        #: The last full tasks read's lookups (projects, elements, parents) for a re-read.
        self._task_context: tuple[dict[str, str], dict[str, str], dict[str, str]] | None = None

    @property
    def rfc(self) -> RfcSource:
        return self._rfc()

    @property
    def odata(self) -> ODataClient:
        return self._odata()

    @staticmethod
    def last_checkpoint(
        pages: Iterator[Page], end: Callable[[], Cursor] | None = None
    ) -> Iterator[Page]:
        """The pages, the last carrying the checkpoint: the read's time, or `end()` asked
        once every page was read (a listing's token)."""
        last: Page | None = None
        for page in pages:
            if last is not None:
                yield last
            last = page
        stamp = Cursor("token", datetime.now(UTC).isoformat(timespec="seconds"))
        if end is not None:
            stamp = end()
        yield (
            Page(checkpoint=stamp)
            if last is None
            else Page(last.records, last.deletions, last.rejected, stamp)
        )

    def odata_projects(self) -> dict[str, str]:
        """ProjectUUID -> Project of every enterprise project."""
        return {
            str(r.get("ProjectUUID")): str(r.get("Project"))
            for r in self.odata.rows(
                self.config.project_service,
                "A_EnterpriseProject",
                select=["ProjectUUID", "Project"],
                orderby="ProjectUUID",
            )
        }

    def projects(self, keys: Sequence[str] = ()) -> Iterator[Item]:
        """Every project (`keys`: only these PSPIDs / Projects, read again by key)."""
        from pmo_ledger.connectors.sap import odata as wire

        if self.config.transport == "odata":
            rows: list[Mapping[str, Any]] = list(
                self.odata.rows(
                    self.config.project_service, "A_EnterpriseProject", select=wire.PROJECT_FIELDS,
                    orderby=wire.PROJECT_KEY, filter=wire.any_of("Project", keys) if keys else None,
                )
            )  # fmt: skip
            return _each(rows, wire.project_from_odata, "Project")
        table = self.rfc.projects(any_of("PSPID", list(keys)) if keys else "")
        if any(not r.get("PWHIE") for r in table):  # no project currency: the company code's
            currencies = self.rfc.company_currencies()
            table = [
                {**r, "PWHIE": r.get("PWHIE") or currencies.get(r["VBUKR"], "")} for r in table
            ]
        return _each(table, project_record, "PSPID", deleted=_flagged)

    def tasks(self, keys: Sequence[str] = ()) -> Iterator[Item]:
        """Every WBS element (`keys`: only these POSIDs / ProjectElements, read again by key
        after a full read, whose projects and parents they are read with)."""
        from pmo_ledger.connectors.sap import odata as wire

        if self.config.transport == "odata":
            service = self.config.project_service
            if not keys or self._task_context is None:
                self._task_context = (self.odata_projects(), {}, {})
            projects, elements, _ = self._task_context
            rows = list(
                self.odata.rows(
                    service, "A_EnterpriseProjectElement", select=wire.ELEMENT_FIELDS,
                    orderby=wire.ELEMENT_KEY,
                    filter=wire.any_of("ProjectElement", keys) if keys else None,
                )
            )  # fmt: skip
            elements.update(
                {str(r.get("ProjectElementUUID")): str(r.get("ProjectElement")) for r in rows}
            )
            return _each(
                rows, lambda r: wire.task_from_odata(r, projects, elements), "ProjectElement"
            )
        if keys and self._task_context is not None:
            pspids, _, ups = self._task_context
            wbs = self.rfc.wbs_elements(any_of("POSID", list(keys)))
        else:
            pspids = {r["PSPNR"]: r["PSPID"] for r in self.rfc.projects()}
            wbs = self.rfc.wbs_elements()
            posid_of = {r["PSPNR"]: r["POSID"] for r in wbs}
            ups = parents(self.rfc.hierarchy(), posid_of)
            self._task_context = (pspids, {}, ups)
        return _each(wbs, lambda r: task_record(r, pspids, ups), "POSID", deleted=_flagged)

    def line_items(
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
        ccy = self.rfc.currency()
        return items_mod.item_records(
            rows, header_of, wbs, periods, ccy, tz, s.wbs_postings == "project",
            self.rfc.shift(ccy), self.cost_types,
        )  # fmt: skip

    def item_pages(
        self, stream: str, request: ReadRequest, periods: FiscalPeriods
    ) -> Iterator[Page]:
        size = self.config.page_size
        if request.scope is not None:
            p = plan(request, stream, periods, self.config.open_periods_back)
            listed = [i for _, i in self.line_items(periods, None, p)]
            pages = ordered_pages(listed, size, checkpoints=False)
            return scoped(request.scope, pages)
        since = request.cursor.value if request.cursor is not None else None
        if since is not None and not isinstance(since, datetime):
            raise ConnectorConfigError(
                f"stream {stream} reads line items from a timestamp cursor: run it with --full"
            )
        listed = [i for _, i in self.line_items(periods, since, None)]
        pages = ordered_pages(listed, size, kind="timestamp")
        return pages if since is not None else scoped(stream, pages)

    def rates(self) -> Iterator[Item]:
        kind = self.config.fx_rate_type or "M"
        return _each(self.rfc.rates(kind), lambda r: fx_rate(r, kind), "GDATU")

    def budgets(self) -> Iterator[Item]:
        """Each project's budget (`current`), release (`released`) and cost plan (`plan`)
        versions."""
        read_at = datetime.now(UTC)
        projects = self.rfc.projects()
        by_objnr = elements(projects, self.rfc.wbs_elements(), self.rfc.hierarchy())
        s = self.config
        overall, annual = self.rfc.budgets(), self.rfc.budgets(annual=True)
        reads: list[tuple[Literal["current", "released"], str, list[str]]] = [
            ("current", s.budget_value_type, s.budget_activities)
        ]
        if s.release_activities:
            reads.append(("released", s.release_value_type, s.release_activities))
        listed: set[str] = set()
        for kind, value_type, activities in reads:
            try:
                own = own_budgets(
                    overall, by_objnr, activities, self.rfc.shift, annual=annual,
                    value_type=value_type, first_year=s.first_year,
                    exclude=s.release_activities if kind == "current" else (),
                )  # fmt: skip
            except ValueError as exc:
                yield Marked(None, Rejected(None, "unreadable_row", {"error": str(exc)}))
                continue
            for version in budget_versions(own, by_objnr, projects, read_at, kind):
                listed.add(version.external_id)
                yield version
            yield from _vanished(projects, kind, listed)
        if not s.release_activities:  # the release is not read: what was read before is gone
            yield from _vanished(projects, "released", listed)
        periods = self.periods()
        ccy = self.rfc.currency()
        plan_rows = self.rfc.totals(PLAN, None, ALL_PERIODS)
        plan_lines = sum_totals(plan_rows, ALL_PERIODS, self.rfc.shift(ccy))
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
        for version in plan_versions(placed, by_objnr, ccy, projects, read_at, self.cost_types):
            listed.add(version.external_id)
            yield version
        if len(placed) == len(plan_lines):  # every plan line read: a missing plan is gone
            yield from _vanished(projects, "plan", listed)

    def actual_items(self, p: Plan, periods: FiscalPeriods) -> dict[str, list[Item]]:
        from pmo_ledger.connectors.sap import odata as wire

        read_at = datetime.now(UTC)
        if self.config.transport == "odata":
            by_project: dict[str, str] = {}
            to_projects = self.config.wbs_postings == "project"
            service = self.config.project_service
            projects = self.odata_projects()
            for r in self.odata.rows(
                service, "A_EnterpriseProjectElement", select=["ProjectUUID", "ProjectElement"]
            ):
                if to_projects:
                    project = projects.get(str(r.get("ProjectUUID")), "")
                    by_project[str(r.get("ProjectElement"))] = project
            select = [*wire.JOURNAL_FIELDS, self.config.wbs_property]
            rows = self.odata.rows(
                self.config.journal_service,
                "A_JournalEntryItemBasic",
                select=select,
                filter=wire.journal_filter(self.config, p.years, list(p.sap_periods)),
            )
            lines, currencies = wire.journal_lines(rows, self.config, by_project)
            return period_items(lines, periods, p.keep, currencies, read_at, self.cost_types)
        return self.totals_items(p, periods, read_at)

    def totals_items(
        self, p: Plan, periods: FiscalPeriods, read_at: datetime
    ) -> dict[str, list[Item]]:
        wbs: dict[str, Wbs] = self.rfc.wbs_by_objnr() if "PR" in self.config.object_types else {}
        currency = self.rfc.currency()
        rows = self.rfc.totals(ACTUAL, p.years, p.sap_periods)
        totals = sum_totals(rows, p.sap_periods, self.rfc.shift(currency))
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
        return period_items(targets, periods, p.keep, currency, read_at, self.cost_types)


def confirmed(
    items: Iterable[Item],
    previous: set[str] | None,
    read_again: Callable[[Sequence[str]], Iterable[Item]],
    *,
    name: str,
    stream: str,
    chunk: int = 50,
) -> Iterator[Item]:
    """A full read's items, then those of the keys the last read listed and this one did not,
    read again by key (`read_again`, `chunk` keys a call): a row that paging skipped (ROWSKIPS
    has no order; an OData page that repeats a row skips another) is listed after all, so
    only keys SAP no longer has are left for the listing to delete."""
    keys: set[str] = set()
    twice: list[str] = []
    for item in items:
        key = key_of(item)
        if key:
            if key in keys:
                twice.append(key)
            keys.add(key)
        yield item
    missing = sorted((previous or set()) - keys)
    if twice:
        log.warning("sap_key_listed_twice", connector=name, stream=stream, keys=twice[:10],
                    count=len(twice))  # fmt: skip
    found = 0
    for start in range(0, len(missing), chunk):
        for item in read_again(missing[start : start + chunk]):
            found += 1
            yield item
    if missing:
        log.info("sap_missing_keys_read_again", connector=name, stream=stream,
                 missing=len(missing), found=found)  # fmt: skip


def _vanished(projects: Any, kind: str, listed: set[str]) -> Iterator[Item]:
    """A deletion of `<PSPID>/<kind>` for each project the read gave no such version: its
    budget (or plan) is gone in SAP, so the version the ledger may hold is deleted."""
    for row in projects:
        key = f"{str(row.get('PSPID') or '').strip()}/{kind}"
        if key != f"/{kind}" and key not in listed:
            yield Marked(None, key)


def _flagged(row: Mapping[str, Any]) -> bool:
    """PROJ/PRPS LOEVM 'X': SAP's deletion flag (the row stays until it is archived)."""
    return str(row.get("LOEVM") or "").strip() == "X"


def _each(
    rows: Any, make: Any, key: str, deleted: Callable[[Mapping[str, Any]], bool] | None = None
) -> Iterator[Item]:
    """Each row as a record (or Rejected); a row `deleted` says is flagged as a deletion."""
    for row in rows:
        if deleted is not None and deleted(row) and str(row.get(key) or "").strip():
            yield Marked(None, str(row[key]).strip())
            continue
        try:
            yield make(row)
        except ValueError as exc:
            yield Marked(None, Rejected(str(row.get(key) or "") or None, "unreadable_row",
                                        {"error": str(exc), "row": dict(row)}))  # fmt: skip
