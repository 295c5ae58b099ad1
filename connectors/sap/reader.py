"""How the SAP streams are read: master data as full scopes, actuals as period scopes.

CO totals (and S/4 journal items) carry no change timestamp, so the actuals cursor is a
`period`:

- a full read (no checkpoint yet, `--full`) lists every line once, inside one scope of the
  whole stream: what the ledger holds and SAP no longer lists is reversed;
- an incremental read re-reads the open periods, from `open_periods_back` periods before the
  current one (or from the checkpoint, when the last run is older) to the current one, each as
  a full scope `period:<YYYY-PP>`: a re-read period restates its lines (never a second copy)
  and reverses what vanished;
- `sync --period YYYY-PP` re-reads that one period the same way.

A line of a period that has begun is listed even when its total is zero (a posting and its
reversal in the same period): the line goes to zero rather than vanishing, which would be a
deletion for the mass-delete guard. Lines of periods not yet begun are listed when not zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest, SourceTotal
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.pages import Item, Marked, ordered_pages, scoped
from pmo_ledger.connectors.sap.cost_types import CostTypes
from pmo_ledger.connectors.sap.normalize import PLAIN, CostObject, TotalLine, total_actual
from pmo_ledger.connectors.sap.periods import FiscalPeriods
from pmo_ledger.ledger.records import ActualRecord, Rejected
from pmo_ledger.ledger.time.calendar import MAX_PERIOD_NO, parse_period

ALL_PERIODS = tuple(range(1, MAX_PERIOD_NO + 1))


@dataclass(frozen=True, slots=True)
class Plan:
    """What one actuals read covers: fiscal years (None: all), SAP periods, the ledger
    periods kept (None: all), and the scopes: the stream's or one per period."""

    years: list[int] | None
    sap_periods: tuple[int, ...]
    keep: list[str] | None
    checkpoint: Cursor | None


def plan(
    request: ReadRequest, stream: str, periods: FiscalPeriods, back: int, specials_until: int = 0
) -> Plan:
    """The read a request asks for (see the module docstring). Last fiscal year's special
    periods (or its last period, where they fold) stay in the window while the current
    period's number is at most `specials_until` (year-end closing posts to them for months).
    Raises ConnectorConfigError for a scope other than `period:<YYYY-PP>` or a period the
    calendar lacks."""
    current = Cursor("period", periods.current().key)
    if request.scope is not None:
        kind, _, key = request.scope.partition(":")
        if kind != "period":
            raise ConnectorConfigError(
                f"stream {stream} re-syncs periods (--period YYYY-PP), not {request.scope}"
            )
        try:
            fy, _ = parse_period(key)
            sap = periods.sap_periods(key)
        except ValueError as exc:
            raise ConnectorConfigError(f"stream {stream}: {exc}") from None
        return Plan([fy], tuple(sap), [key], None)
    resume_from = request.checkpoint if request.checkpoint is not None else None
    if request.cursor is None or resume_from is None or resume_from.kind != "period":
        return Plan(None, ALL_PERIODS, None, current)
    start = min(periods.back(back), str(resume_from.value))
    window = [p.key for p in periods.window(start)]
    if periods.current().period_no <= specials_until:
        last_year = periods.year(periods.current().fiscal_year - 1)
        closing = [p.key for p in last_year if p.special] or [last_year[-1].key]
        window = [k for k in closing if k not in window] + window
    years = sorted({parse_period(k)[0] for k in window})
    sap = sorted({n for k in window for n in periods.sap_periods(k)})
    return Plan(years, tuple(sap), window, current)


def period_items(
    lines: Iterable[tuple[TotalLine, CostObject | ValueError]],
    periods: FiscalPeriods,
    keep: Sequence[str] | None,
    currency: str | Mapping[str, str] | None,
    read_at: datetime,
    cost_types: CostTypes = PLAIN,
) -> dict[str, list[Item]]:
    """Lines as records (or Rejected rows) per ledger period key, in line-key order.
    `currency`: every line's, or each line's by external id."""
    out: dict[str, list[Item]] = {k: [] for k in keep or ()}
    for line, target in sorted(lines, key=lambda lt: lt[0].external_id):
        try:
            spec = periods.ledger_period(int(line.gjahr), line.period)
        except (ValueError, LookupError) as exc:
            bad = Rejected(line.external_id, "unknown_period", {"error": str(exc)})
            out.setdefault("", []).append(Marked(None, bad))
            continue
        if keep is not None and spec.key not in keep:
            continue
        zero = line.amount == 0 and not line.hours and line.error is None
        folded = line.period != spec.period_no  # a special period in a calendar without it
        closing = spec.special or folded
        if zero and (not periods.reached(spec) or (closing and (keep is None or not line.touched))):
            continue  # a period scope lists a special period's line that nets to zero
        item: Item
        if isinstance(target, ValueError):
            item = Marked(
                None, Rejected(line.external_id, "unreadable_row", {"error": str(target)})
            )
        elif (
            ccy := currency if not isinstance(currency, Mapping) else currency.get(line.external_id)
        ) is None or not ccy:
            item = Marked(None, Rejected(line.external_id, "no_currency", {"objnr": line.objnr}))
        else:
            item = total_actual(
                line,
                target,
                currency=ccy,
                period=spec.key,
                posted_on=spec.end_on,
                read_at=read_at,
                cost_types=cost_types,
            )
        out.setdefault(spec.key, []).append(item)
    return out


def actual_pages(stream: str, p: Plan, items: dict[str, list[Item]], size: int) -> Iterator[Page]:
    """The plan's pages: one scope of the stream (a full read) or one per period, the last
    page carrying the checkpoint."""
    if p.keep is None:
        everything = [i for key in sorted(items) for i in items[key]]
        pages = ordered_pages(everything, size, checkpoints=False)
        yield from scoped(stream, pages, end_checkpoint=p.checkpoint)
        return
    keys = list(p.keep)
    for n, key in enumerate(keys):
        end = p.checkpoint if n == len(keys) - 1 else None
        pages = ordered_pages(items.get(key, []), size, checkpoints=False)
        yield from scoped(f"period:{key}", pages, end_checkpoint=end)


def control_totals(items: dict[str, list[Item]]) -> list[SourceTotal]:
    """Per project key, currency and period: the lines a full read lists that are not zero,
    their amounts and hours (verify adds the periods up per project and currency, and
    compares each period). Zero lines are not counted, on either side: a full read lists one
    per totals record and begun period, an incremental read only in its window."""
    groups: dict[tuple[str, str, str], list[ActualRecord]] = {}
    for listed in items.values():
        for r in listed:
            if isinstance(r, ActualRecord):
                key = (r.project_ref or "", r.currency or "", r.period or "")
                groups.setdefault(key, []).append(r)
    out = []
    for (ref, ccy, period), records in sorted(groups.items()):
        hours = [r.hours for r in records if r.hours is not None]
        out.append(
            SourceTotal(
                ref or None,
                ccy or None,
                sum(1 for r in records if r.amount or r.hours),
                sum((r.amount or Decimal(0) for r in records), Decimal("0.0000")),
                sum(hours, Decimal("0.0000")) if hours else None,
                period or None,
            )
        )
    return out
