"""The built-in sample source: a realistic, deterministic PMO portfolio generated from a seed.

Programs and projects with a WBS (three-point estimates in working days, FS/SS/FF/SF links
with lags: `schedule`), resources with dated cost rates, allocations, baseline and current
budgets, actuals (timecards with hours and money, expense lines) in several currencies,
monthly corporate FX rates and progress. Used by `make demo`, tests and benchmarks; `round`
and the `*_every` / `add` knobs mutate the actuals so they drive the real incremental,
deletion and scope paths.

Every stream is ordered by (source_modified_at, external_id) and generated lazily, one
page at a time: record i is a pure function of (settings, i), never a stream held whole.

- `world`: the fixed structure (projects, resources) and the clock;
- `streams`: the structure streams; `actuals`: the actuals and the mutation rounds;
- pages, checkpoints and scope markers come from the connector kit (`connectors.kit.pages`);
- `totals`: the control totals `pmo-ledger verify` compares with the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from pmo_ledger.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    CursorKind,
    Page,
    ReadRequest,
    SourceTotal,
    StreamSpec,
)
from pmo_ledger.connectors.errors import ConnectorConfigError, ConnectorTransientError
from pmo_ledger.connectors.kit.pages import Item, ordered_pages, scoped
from pmo_ledger.connectors.sample.actuals import ActualLines, period_match, project_match
from pmo_ledger.connectors.sample.schedule import ScheduleLinks
from pmo_ledger.connectors.sample.settings import SampleSettings
from pmo_ledger.connectors.sample.streams import Structure, Table
from pmo_ledger.connectors.sample.totals import actual_totals, budget_totals
from pmo_ledger.connectors.sample.world import World, add_months
from pmo_ledger.ledger.time.calendar import parse_period

__all__ = ["SampleConnector", "SampleSettings"]

_TS: CursorKind = "timestamp"
STREAMS: dict[str, StreamSpec] = {
    s.name: s
    for s in (
        StreamSpec("projects", _TS, "project", "<project Id>, e.g. PRJ-0001 (also its code)"),
        StreamSpec(
            "tasks",
            _TS,
            "task",
            "<project Id>.T<slot 01-12>, e.g. PRJ-0001.T05",
            after=("projects",),
        ),
        StreamSpec(
            "dependencies", _TS, "dependency", "<project Id>.D<link 01-10>", after=("tasks",)
        ),
        StreamSpec("resources", _TS, "resource", "<resource Id>, e.g. RES-0001"),
        StreamSpec(
            "resource_rates",
            _TS,
            "resource_rate",
            "<resource Id>/<effective_from>",
            after=("resources",),
        ),
        StreamSpec(
            "allocations",
            _TS,
            "allocation",
            "<project Id>/<resource Id> (the assignment), one record per period YYYY-PP",
            scopes=("project",),
            after=("projects", "tasks", "resources"),
        ),
        StreamSpec(
            "budgets",
            _TS,
            "budget",
            "<project Id>/BL (baseline, number 1) or <project Id>/CUR (current, number 2); "
            "lines <version Id>/<cost type>[/<YYYY-PP>]",
            scopes=("project",),
            after=("projects", "tasks"),
        ),
        StreamSpec(
            "actuals",
            _TS,
            "actual",
            "ACT-<line number, 9 digits>",
            counts="every posted line: approved timecards (hours and cost) and expense lines",
            scopes=("project", "period"),
            after=("projects", "tasks", "resources"),
        ),
        StreamSpec("fx_rates", _TS, external_id="corporate/<from>/<to>/<valid_from>"),
        StreamSpec(
            "progress",
            _TS,
            external_id="<project Id>//<status date (month end)>",
            after=("projects", "tasks"),
        ),
        StreamSpec(
            "capacity",
            _TS,
            external_id="<resource Id>/<YYYY-PP> (capacity_hours_per_day)",
            after=("resources",),
        ),
    )
}


class SampleConnector(Connector):
    """A generated portfolio; see the module docstring and `SampleSettings`."""

    kind: ClassVar[str] = "sample"
    settings_model = SampleSettings
    streams = STREAMS

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        if not isinstance(settings, SampleSettings):
            raise ConnectorConfigError(f"{context.name}: expected SampleSettings")
        super().__init__(settings, context)
        self.config = settings
        if not settings.capacity_hours_per_day:
            self.streams = {k: v for k, v in STREAMS.items() if k != "capacity"}
        self.world = World(settings)
        structure = Structure(self.world)
        self.tables: dict[str, Table] = structure.tables()
        self.tables["dependencies"] = ScheduleLinks(structure, self.tables["dependencies"]).table()
        largest = max([settings.actuals, *(t.size for t in self.tables.values())])
        self.world.configure_clock(largest)
        self.actuals = ActualLines(self.world)

    def check(self) -> None:
        """Nothing to connect to; raises ConnectorConfigError when `check_fails` is set."""
        if self.config.check_fails:
            raise ConnectorConfigError(f"{self.name}: the sample source refuses (check_fails)")

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Pages of `stream`: a full read (ScopeStart/ScopeEnd of the stream), an incremental
        read from `request.cursor` (records and deletions at or after it), or a re-sync of
        `request.scope`. Raises ConnectorConfigError for an unknown stream, a cursor that is
        not a timestamp or a scope the stream cannot read."""
        if stream not in self.streams:
            known = ", ".join(self.streams)
            raise ConnectorConfigError(f"the sample has no stream {stream!r} (streams: {known})")
        cursor, scope = request.cursor, request.scope
        if scope is not None and scope != stream:
            return self._scoped(stream, scope)
        if cursor is not None and scope is None:
            if cursor.kind != _TS or not isinstance(cursor.value, datetime):
                raise ConnectorConfigError(
                    f"stream {stream} reads from a timestamp cursor, not a {cursor.kind} cursor"
                )
            return self._pages(stream, self._items(stream, cursor.value), None, True)
        return self._pages(stream, self._items(stream, None), stream, True)

    # --- reads -------------------------------------------------------------------------

    def _pages(
        self, stream: str, items: Iterator[Item], scope: str | None, cp: bool
    ) -> Iterator[Page]:
        """The kit's ordered pages of `items` (checkpoints when `cp`), in ScopeStart/ScopeEnd
        of `scope` when set, slowed by `page_delay` and cut off by `fail_after_pages`."""
        pages = ordered_pages(items, self.config.page_size, checkpoints=cp)
        if scope is not None:
            pages = scoped(scope, pages)
        fail_after, delay = self.config.fail_after_pages, self.config.page_delay
        for yielded, page in enumerate(pages):
            if delay:
                time.sleep(delay)
            if fail_after is not None and yielded >= fail_after:
                raise ConnectorTransientError(
                    f"{self.name}.{stream}: the sample fails after {fail_after} pages"
                )
            yield page

    def _items(
        self, stream: str, since: datetime | None, project: str | None = None
    ) -> Iterator[Item]:
        """Records (and Marked deletions and rejected rows) of a stream in order from `since`,
        optionally of one project only."""
        if stream == "actuals":
            match = None
            if project is not None:
                match = project_match(self.actuals, self.world.project_index[project])
            return self.actuals.items(since, deletions=since is not None, match=match)
        return self._table_items(self.tables[stream], since, project)

    def _table_items(
        self, table: Table, since: datetime | None, project: str | None
    ) -> Iterator[Any]:
        """A structure stream: record i was last modified at e0 + i seconds."""
        e0 = self.world.e0
        lo = 0 if since is None or since <= e0 else -((e0 - since) // timedelta(seconds=1))
        for i in range(lo, table.size):
            if (
                project is not None
                and table.project_of is not None
                and table.project_of(i) != project
            ):
                continue
            at = e0 + timedelta(seconds=i)
            yield table.make(i, at)

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """`actuals`: count, amount and hours per project and currency of the lines as they
        stand; `budgets`: each project's current version (see `connectors.sample.totals`).
        None for the other streams. Raises ConnectorConfigError for an unknown stream."""
        if stream not in self.streams:
            known = ", ".join(self.streams)
            raise ConnectorConfigError(f"the sample has no stream {stream!r} (streams: {known})")
        if stream == "actuals":
            return actual_totals(self.actuals.items(None, deletions=False))
        if stream == "budgets":
            return budget_totals(self.tables["budgets"], self.world.e0)
        return None

    def _scoped(self, stream: str, scope: str) -> Iterator[Page]:
        """A re-sync of `project:<Id>` or `period:<YYYY-PP>`, in full, without checkpoints (it
        does not cover every smaller cursor value of the stream)."""
        kind, _, value = scope.partition(":")
        refused = ConnectorConfigError(f"stream {stream} cannot re-sync scope {scope}")
        if kind not in self.streams[stream].scopes or not value:
            raise refused
        if kind == "project":
            if value not in self.world.project_index:
                raise ConnectorConfigError(f"{refused}: the sample has no project {value!r}")
            items = self._items(stream, None, project=value)
        else:
            try:
                year, month = parse_period(value)
            except ValueError as exc:
                raise ConnectorConfigError(f"{refused}: {exc}") from None
            if month > 12:
                raise ConnectorConfigError(f"{refused}: the sample's periods are calendar months")
            first = date(year, month, 1)
            last = add_months(first, 1) - timedelta(days=1)
            items = self.actuals.items(
                None, deletions=False, match=period_match(self.actuals, first, last)
            )
        return self._pages(stream, items, scope, False)
