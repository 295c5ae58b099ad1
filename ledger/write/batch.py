"""The writer: applies one batch of a (source, stream) to the ledger (rules 1-12).

`apply_batch` validates, resolves, hashes and upserts set-based, writes the append-only
entries, holds what cannot load in quarantine, converts lines when rates arrive and keeps the
aggregates. It takes a session and never commits: the caller (the sync runner, a CLI command,
a test) owns the transaction. A batch the database rejects is bisected inside savepoints until
the offending records are quarantined as `db_rejected`, so a stream never stalls on one record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine
from pmo_ledger.ledger.fx.checks import rate_record_problem
from pmo_ledger.ledger.fx.rates import upsert_rates
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.quarantine import Held
from pmo_ledger.ledger.records import (
    DELETION_KINDS,
    ActualRecord,
    FxRateRecord,
    Record,
    Rejected,
    record_to_json,
)
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write.actuals import apply_actuals
from pmo_ledger.ledger.write.budgets import BudgetWriter
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.conversion import reconvert, reconvert_budget_lines
from pmo_ledger.ledger.write.entries import LineWriter
from pmo_ledger.ledger.write.forecasts import ForecastWriter
from pmo_ledger.ledger.write.mapping import remap_unmapped
from pmo_ledger.ledger.write.progress import ProgressWriter
from pmo_ledger.ledger.write.record_writer import RecordWriter
from pmo_ledger.ledger.write.resources import (
    AllocationWriter,
    CapacityWriter,
    ResourceRateWriter,
    ResourceWriter,
)
from pmo_ledger.ledger.write.scopes import record_seen
from pmo_ledger.ledger.write.stats import ApplyStats
from pmo_ledger.ledger.write.structure import ProjectWriter
from pmo_ledger.ledger.write.tasks import DependencyWriter, TaskWriter
from pmo_ledger.ledger.write.written_keys import WrittenKeys

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Deletion:
    """An external id the source reported deleted."""

    external_id: str


@dataclass
class BatchResult:
    """What one batch did: its counters, the lines new rates converted (`fx`, `budget_fx`,
    by currency pair), the lines re-pointed to their project, and what it held."""

    recorded_at: datetime
    stats: ApplyStats = field(default_factory=ApplyStats)
    fx: dict[str, int] = field(default_factory=dict)
    budget_fx: dict[str, int] = field(default_factory=dict)
    remapped: int = 0
    held: int = 0
    #: What the batch held in quarantine (invalid records, rows the database refused).
    held_items: list[Held] = field(default_factory=list)


#: The writer of each record type but actuals and FX rates, in the order a batch applies them:
#: rates (before everything) and structure before the money that refers to it; actuals last.
WRITERS: tuple[type[RecordWriter[Any]], ...] = (
    ProjectWriter,
    ResourceWriter,
    ResourceRateWriter,
    TaskWriter,
    DependencyWriter,
    CapacityWriter,
    AllocationWriter,
    BudgetWriter,
    ForecastWriter,
    ProgressWriter,
)


def apply_batch(
    session: Session,
    settings: LedgerSettings,
    source: str,
    stream: str,
    records: Sequence[Record] = (),
    deletions: Sequence[str] = (),
    rejected: Sequence[Rejected] = (),
    *,
    run_id: int | None = None,
    recorded_at: datetime | None = None,
    deletion_kind: str = "actual",
    open_scopes: Sequence[str] = (),
    written: WrittenKeys | None = None,
) -> BatchResult:
    """Apply one batch of `source`/`stream`. Never commits. Raises ValueError for an unknown
    deletion_kind; database errors are bisected down to quarantined records.

    `open_scopes` are the scopes the source opened and has not ended (ScopeStart without its
    ScopeEnd yet): the keys of the batch's actual records and of its rejected records count
    as listed in each of them, for `end_scope`.

    `written`: the run's keys of this stream (ledger/write/written_keys.py), kept from batch
    to batch by the runner; a caller that is not a run of the stream's lease passes none.
    """
    if deletion_kind not in DELETION_KINDS:
        raise ValueError(f"deletion_kind must be one of {', '.join(DELETION_KINDS)}")
    ctx = WriteContext(session, settings, source, run_id, recorded_at or utcnow(), written)
    result = BatchResult(ctx.recorded_at)
    held = [Held(r.external_id, r.reason, None, r.payload, payload_kind="raw") for r in rejected]
    items: list[Record | Deletion] = [*records, *(Deletion(k) for k in deletions)]
    _apply_bisecting(ctx, stream, items, deletion_kind, held, result)
    result.held = quarantine.hold(session, source, stream, held, run_id=run_id, now=ctx.recorded_at)
    result.held_items = held
    result.stats.quarantined = len(held)
    result.stats.rejected = len(rejected)
    if open_scopes:
        keys = [r.external_id for r in records if isinstance(r, ActualRecord)]
        keys += [r.external_id for r in rejected if r.external_id]
        for key in open_scopes:
            record_seen(session, key, keys)
    log.debug(
        "batch_applied",
        source=source,
        stream=stream,
        read=result.stats.read,
        written=result.stats.written,
        unchanged=result.stats.unchanged,
        quarantined=result.stats.quarantined,
        deleted=result.stats.deleted,
    )
    return result


def _apply_bisecting(
    ctx: WriteContext,
    stream: str,
    items: list[Record | Deletion],
    deletion_kind: str,
    held: list[Held],
    result: BatchResult,
) -> None:
    savepoint = ctx.session.begin_nested()
    local: list[Held] = []
    attempt = BatchResult(result.recorded_at)  # merged only when the savepoint commits
    try:
        _apply(ctx, stream, items, deletion_kind, local, attempt)
        savepoint.commit()
    except DBAPIError as exc:
        savepoint.rollback()
        if not refused_data(exc):
            raise
        ctx.reset_caches()
        if len(items) == 1:
            item = items[0]
            result.stats.read += 0 if isinstance(item, Deletion) else 1
            if isinstance(item, Deletion):
                payload: Any = {"external_id": item.external_id, "deletion_kind": deletion_kind}
                kind = "deletion"
            else:
                payload, kind = record_to_json(item), "record"
            held.append(
                Held(
                    item.external_id,
                    "db_rejected",
                    str(exc.orig)[:1000],
                    payload,
                    payload_kind=kind,
                )
            )
            log.warning(
                "db_rejected",
                source=ctx.source,
                stream=stream,
                external_id=item.external_id,
                error=str(exc.orig)[:200],
            )
            return
        mid = len(items) // 2
        _apply_bisecting(ctx, stream, items[:mid], deletion_kind, held, result)
        _apply_bisecting(ctx, stream, items[mid:], deletion_kind, held, result)
        return
    held.extend(local)
    result.stats.add(attempt.stats)
    for mine, theirs in ((result.fx, attempt.fx), (result.budget_fx, attempt.budget_fx)):
        for key, n in theirs.items():
            mine[key] = mine.get(key, 0) + n
    result.remapped += attempt.remapped


#: SQLSTATE classes that say "this data is refused": data exception, integrity constraint,
#: and a PL/pgSQL RAISE (a trigger that refuses a row).
_DATA_SQLSTATES = ("22", "23", "P0")


def refused_data(exc: DBAPIError) -> bool:
    """Whether the database refused the data (bisect it) rather than failed (locks, lost
    connections, serialization failures, SQL errors: those propagate)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return str(sqlstate)[:2] in _DATA_SQLSTATES
    return isinstance(exc, IntegrityError | DataError)


def _apply(
    ctx: WriteContext,
    stream: str,
    items: list[Record | Deletion],
    deletion_kind: str,
    held: list[Held],
    result: BatchResult,
) -> None:
    by_type: dict[type[Any], list[Any]] = {}
    deletions: list[str] = []
    for item in items:
        if isinstance(item, Deletion):
            deletions.append(item.external_id)
        else:
            by_type.setdefault(type(item), []).append(item)
    deleted_type = DELETION_KINDS[deletion_kind]
    series, since = _apply_rates(ctx, stream, by_type.pop(FxRateRecord, []), held, result.stats)
    structure_changed = False
    needs_others = deleted_type is not ActualRecord or any(t is not ActualRecord for t in by_type)
    for type_writer in WRITERS if needs_others else ():
        records = by_type.pop(type_writer.record_type, [])
        gone = deletions if deleted_type is type_writer.record_type else []
        if records or gone:
            stats = type_writer.apply(ctx, stream, records, gone, held=held)
            result.stats.add(stats)
            structure_changed |= type_writer is ProjectWriter and stats.written > 0
    writer = LineWriter(
        ctx.session,
        run_id=ctx.run_id,
        recorded_at=ctx.recorded_at,
        inline_max=ctx.settings.aggregate_inline_max,
    )
    actuals = by_type.pop(ActualRecord, [])
    gone = deletions if deleted_type is ActualRecord else []
    if actuals or gone:
        result.stats.add(apply_actuals(ctx, stream, actuals, gone, writer=writer, held=held))
        writer.flush()
    if by_type:
        raise TypeError(f"the writer does not know {', '.join(t.__name__ for t in by_type)}")
    if series:
        result.fx = reconvert(ctx, writer, series, since)
        writer.flush()
        result.budget_fx = reconvert_budget_lines(ctx, series, since)
    if structure_changed:
        result.remapped += remap_unmapped(ctx, writer)
        writer.flush()


def _apply_rates(
    ctx: WriteContext,
    stream: str,
    records: list[FxRateRecord],
    held: list[Held],
    stats: ApplyStats,
) -> tuple[set[tuple[str, str, str, str]], date | None]:
    good = []
    loaded: dict[str, datetime | None] = {}
    today = ctx.recorded_at.date()
    for r in records:
        problem = rate_record_problem(r, today)  # a rate 8 places cannot hold, a day far out
        if problem:
            held.append(
                Held(
                    r.external_id,
                    problem[0],
                    problem[1],
                    record_to_json(r),
                    source_modified_at=r.source_modified_at,
                )
            )
        else:
            good.append((r.rate_type, r.from_ccy, r.to_ccy, r.valid_from, r.rate))
            loaded[r.external_id] = r.source_modified_at
    stats.read += len(records)
    if not good:
        return set(), None
    series = upsert_rates(ctx.session, ctx.source, good, ctx.recorded_at)
    # A rate key held before (1e-20) is resolved by a good version of it (rule 5).
    quarantine.resolve(ctx.session, ctx.source, stream, loaded, "loaded", ctx.recorded_at)
    stats.written += len(series)
    return series, min(g[3] for g in good)
