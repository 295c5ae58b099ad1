"""How each stream of the Fusion flavor is read, as pages for the runner.

The Oracle connector (`connectors.oracle`, `flavor = "fusion"`) dispatches to this module:
keep one `FusionReader` per connector (it holds the HTTP client and its OAuth token) and call
`streams()`, `check()`, `extract(stream, request)`, `control_totals(stream)` and `close()`;
the module functions of the same names build one for a single call.

- **projects** (`projects`) and **actuals** (`projectCosts`, the costed transactions: the
  amounts; `projectExpenditureItems` carries none): ordered by `LastUpdateDate` then the key,
  read in windows from the cursor (`q=LastUpdateDate>='...'`; the runner already took the
  lookback off), every page with a tie-safe checkpoint, so a run that is stopped resumes
  where its last committed page ended. A full read is every row. Costs are never deleted in
  Fusion: a reversal is a new item with negative amounts (they net), a re-costed item the
  same item with new amounts (it restates).
- **tasks** (`projects/{ProjectId}/child/Tasks`, per project): changed tasks of every
  project; the checkpoint (last page only: the read is in no global order) is the earlier of
  Fusion's clock when the read started and the latest `LastUpdateDate` read.
- **budgets** (`projectBudgets` of `budget_plan_type` in a baselined status, each with its
  `PlanningResources`, `PlanningAmounts` and periodic `PlanningAmountDetails`): read whole
  every run (a handful of versions per project); each baselined version is a `current`
  version numbered by `PlanVersionNumber`, so the ledger supersedes the earlier baselines
  (history) and only the current baseline counts. Working versions are never read.
- **fx_rates** (`currencyRates`, finder `CurrencyRatesFinder`), when `fx_rate_type` is set:
  the daily rates of `fx_currencies` -> `base_currency` from a week before the last read.

A row that cannot be read is a `Rejected` row with the raw row (`no_project` for a cost that
names no project, `unreadable_row` otherwise); it never stops the read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog

from pmo_ledger.connectors.base import (
    ConnectorContext,
    Cursor,
    Page,
    ReadRequest,
    SourceTotal,
    StreamSpec,
)
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.pages import Item, Marked, ordered_pages, unordered
from pmo_ledger.connectors.oracle.fusion import normalize as n
from pmo_ledger.connectors.oracle.fusion import values as v
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings
from pmo_ledger.ledger.records import ActualRecord, BudgetRecord, Record, Rejected

if TYPE_CHECKING:  # httpx loads with the client, on first use
    import httpx

    from pmo_ledger.connectors.oracle.fusion.client import FusionClient

log = structlog.get_logger(__name__)

STREAMS: dict[str, StreamSpec] = {
    "projects": StreamSpec("projects", "timestamp", "project", "<ProjectNumber>"),
    "tasks": StreamSpec("tasks", "timestamp", "task", "<TaskId>", after=("projects",)),
    "budgets": StreamSpec(
        "budgets",
        "token",
        "budget",
        "<PlanVersionId> (lines <PlanLineDetailId>, or <PlanLineId> without periods)",
        counts="the current baseline of budget_plan_type (earlier baselines: history)",
        after=("tasks",),
    ),
    "actuals": StreamSpec(
        "actuals",
        "timestamp",
        "actual",
        "<ExpenditureItemId> (projectCosts)",
        counts="every costed project transaction; reversals are their own negative items",
        after=("tasks",),
    ),
    "fx_rates": StreamSpec(
        "fx_rates",
        "token",
        external_id="<rate_type>/<FromCurrency>/<ToCurrency>/<ConversionDate> (currencyRates)",
    ),
}
#: How far before the last rate read an fx read starts again (rates are corrected).
FX_OVERLAP = timedelta(days=7)


def streams(settings: FusionSettings) -> dict[str, StreamSpec]:
    """The streams these settings read (fx_rates only with `fx_rate_type`)."""
    return {k: s for k, s in STREAMS.items() if k != "fx_rates" or settings.fx_rate_type}


class FusionReader:
    """Reads one Fusion pod for one connector; see the module docstring."""

    def __init__(
        self,
        settings: FusionSettings,
        context: ConnectorContext,
        *,
        client: FusionClient | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings, self.context = settings, context
        self._client = client
        self._transport = transport

    @property
    def client(self) -> FusionClient:
        if self._client is None:
            from pmo_ledger.connectors.oracle.fusion.client import FusionClient

            self._client = FusionClient(
                self.settings,
                self.context.name,
                connect_timeout=self.context.connect_timeout.total_seconds(),
                read_timeout=self.context.read_timeout.total_seconds(),
                transport=self._transport,
            )
        return self._client

    def streams(self) -> dict[str, StreamSpec]:
        return streams(self.settings)

    # --- the contract --------------------------------------------------------------------

    def check(self) -> None:
        """One authenticated call (one project row); raises ConnectorConfigError naming the
        credential keys when Fusion refuses them."""
        first = next(self.client.rows("projects", order_by="ProjectId:asc",
                                      fields=("ProjectId",), extra={"limit": 1}), [])  # fmt: skip
        self.context.extra["check"] = {"projects_seen": len(first)}

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Pages of `stream` from `request`; see the module docstring."""
        if stream not in self.streams():
            raise ConnectorConfigError(
                f"{self.context.name} has no stream {stream!r} "
                f"(streams: {', '.join(self.streams())})"
            )
        if request.scope is not None:
            raise ConnectorConfigError(
                f"stream {stream} of {self.context.name} cannot re-sync {request.scope}: "
                "Fusion streams are read whole or from their cursor"
            )
        since = _since(request.cursor)
        if stream == "projects":
            return self._ordered("projects", "ProjectId", n.PROJECT_FIELDS, since, _project)
        if stream == "actuals":
            return self._ordered(
                "projectCosts", "ExpenditureItemId", n.COST_FIELDS, since, self._cost
            )
        if stream == "tasks":
            return self._tasks(since, request.checkpoint)
        if stream == "budgets":
            return self._budgets()
        return self._rates(request.checkpoint)

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """Actuals: per project and currency, the count, amount and hours of every cost a
        full read lists, summed from its pages. Budgets: per project and currency, the lines
        and amount of the current baseline. None for the other streams."""
        if stream == "actuals":
            sums: dict[tuple[str, str | None], list[Any]] = defaultdict(
                lambda: [0, Decimal(0), Decimal(0)]
            )
            for page in self._ordered(
                "projectCosts", "ExpenditureItemId", n.COST_FIELDS, None, self._cost
            ):
                for r in page.records:
                    assert isinstance(r, ActualRecord)
                    s = sums[(str(r.project_ref), r.currency)]
                    s[0] += 1
                    s[1] += r.amount or Decimal(0)
                    s[2] += r.hours or Decimal(0)
            return [SourceTotal(p, c, k, a, h) for (p, c), (k, a, h) in sorted(sums.items())]
        if stream == "budgets":
            totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), None])
            for page in self._budgets():
                for r in page.records:
                    if not isinstance(r, BudgetRecord) or r.status != n.CURRENT_BASELINE:
                        continue
                    for line in r.lines:
                        t = totals[(r.project_ref, line.currency)]
                        t[0] += 1
                        t[1] += line.amount
                        if line.hours is not None:
                            t[2] = (t[2] or Decimal(0)) + line.hours
            return [SourceTotal(p, c, k, a, h) for (p, c), (k, a, h) in sorted(totals.items())]
        return None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # --- ordered streams -------------------------------------------------------------------

    def _ordered(
        self,
        resource: str,
        key: str,
        fields: Sequence[str],
        since: datetime | None,
        normalize: Any,
    ) -> Iterator[Page]:
        rows = self.client.window(
            resource, stamp="LastUpdateDate", key=key, since=since, fields=fields
        )
        items = (item for page in rows for item in _items(page, key, normalize))
        log.info("fusion_read", connector=self.context.name, resource=resource,
                 since=since.isoformat() if since else None)  # fmt: skip
        return ordered_pages(items, self.settings.page_size)

    def _cost(self, row: Mapping[str, Any]) -> Record:
        return n.cost(row, self.settings)

    # --- tasks -------------------------------------------------------------------------------

    def _tasks(self, since: datetime | None, checkpoint: Cursor | None) -> Iterator[Page]:
        started = self.client.server_now
        projects = [
            (v.key(r, "ProjectId"), n_)
            for page in self.client.rows(
                "projects", order_by="ProjectId:asc", fields=("ProjectId", "ProjectNumber")
            )
            for r in page
            if (n_ := v.text(r, "ProjectNumber"))
        ]
        started = min(started, self.client.server_now)
        seen: list[datetime] = []

        def pages() -> Iterator[Page]:
            for project_id, number in projects:
                for rows in self.client.window(
                    f"projects/{project_id}/child/Tasks",
                    stamp="LastUpdateDate",
                    key="TaskId",
                    since=since,
                    fields=n.TASK_FIELDS,
                ):
                    records: list[Record] = []
                    rejected: list[Rejected] = []
                    for row in rows:
                        try:
                            record = n.task(row, number)
                        except ValueError as exc:
                            rejected.append(n.reject(row, "TaskId", exc))
                            continue
                        records.append(record)
                        if record.source_modified_at is not None:
                            seen.append(record.source_modified_at)
                    yield Page(records, (), rejected)

        kept = checkpoint.value if checkpoint and checkpoint.kind == "timestamp" else None
        last: Page | None = None
        for page in unordered(pages(), None):
            if last is not None:
                yield last
            last = page
        newest = max(seen) if seen else None
        value = min(newest, started) if newest is not None else kept
        end = Cursor("timestamp", value) if isinstance(value, datetime) else None
        yield Page(checkpoint=end) if last is None else replace(last, checkpoint=end)

    # --- budgets ---------------------------------------------------------------------------

    def _budgets(self) -> Iterator[Page]:
        from pmo_ledger.connectors.oracle.fusion.budgets import budget_pages

        return budget_pages(self.client, self.settings, self.context.calendar)

    # --- fx rates --------------------------------------------------------------------------

    def _rates(self, checkpoint: Cursor | None) -> Iterator[Page]:
        s = self.settings
        assert s.fx_rate_type is not None and s.base_currency is not None
        if self.client.http.server_date is None:  # learn Fusion's clock: its dates count
            self.check()
        today = self.client.server_now.date()
        start = today - timedelta(days=s.fx_days)
        if checkpoint is not None and checkpoint.kind == "token":
            try:
                start = date.fromisoformat(str(checkpoint.value)) - FX_OVERLAP
            except ValueError:
                pass  # an unreadable token: read the whole window again

        def pages() -> Iterator[Page]:
            for ccy in s.fx_currencies:
                if ccy == s.base_currency:
                    continue
                finder = (
                    f"CurrencyRatesFinder;fromCurrency={ccy},toCurrency={s.base_currency},"
                    f"userConversionType={s.fx_rate_type},startDate={start.isoformat()},"
                    f"endDate={today.isoformat()}"
                )
                for rows in self.client.rows(
                    "currencyRates",
                    order_by="ConversionDate:asc",
                    fields=n.RATE_FIELDS,
                    extra={"finder": finder},
                ):
                    records: list[Record] = []
                    rejected: list[Rejected] = []
                    for row in rows:
                        try:
                            records.append(n.rate(row, s.fx_rate_type or ""))
                        except ValueError as exc:
                            payload = {"error": str(exc), "row": n.plain(row)}
                            rejected.append(Rejected(None, "unreadable_row", payload))
                    yield Page(records, (), rejected)

        return unordered(pages(), Cursor("token", today.isoformat()))


# --- module functions (one reader per call) -----------------------------------------------


def extract(
    settings: FusionSettings, context: ConnectorContext, stream: str, request: ReadRequest
) -> Iterator[Page]:
    """Pages of `stream` (a reader of its own, closed when the pages end)."""
    reader = FusionReader(settings, context)
    try:
        yield from reader.extract(stream, request)
    finally:
        reader.close()


def check(settings: FusionSettings, context: ConnectorContext) -> None:
    """One authenticated call; raises the ConnectorError Fusion's answer gives."""
    reader = FusionReader(settings, context)
    try:
        reader.check()
    finally:
        reader.close()


def control_totals(
    settings: FusionSettings, context: ConnectorContext, stream: str
) -> Sequence[SourceTotal] | None:
    """The source's totals of `stream` (see `FusionReader.control_totals`)."""
    reader = FusionReader(settings, context)
    try:
        return reader.control_totals(stream)
    finally:
        reader.close()


# --- helpers ---------------------------------------------------------------------------------


def _since(cursor: Cursor | None) -> datetime | None:
    if cursor is None:
        return None
    if cursor.kind != "timestamp" or not isinstance(cursor.value, datetime):
        return None  # a cursor of another kind (a stream's spec changed): read in full
    return cursor.value


def _project(row: Mapping[str, Any]) -> Record:
    return n.project(row)


def _items(rows: Iterable[Mapping[str, Any]], key: str, normalize: Any) -> Iterator[Item]:
    for row in rows:
        try:
            yield normalize(row)
        except ValueError as exc:
            at: datetime | None
            try:
                at = v.stamp(row)
            except ValueError:
                at = None
            yield Marked(at, n.reject(row, key, exc))
