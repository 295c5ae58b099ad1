"""Scope reversal: at ScopeEnd, reverse the scope's live lines the source did not list.

Between ScopeStart and ScopeEnd a source lists *every* key of the scope; the runner records
the keys it saw in the TEMP table `scope_seen(scope_key, external_id)` on the run's
connection (emptied for a scope when it opens, and wholly at the start and end of a run: the
connection goes back to the pool). What the scope holds in the ledger but was not seen is
gone at the source.
Scope keys: the stream name (the whole stream), `project:<source project key>`,
`period:<YYYY-PP>`, or `dates:<YYYY-MM-DD>..<YYYY-MM-DD>` (posted_on, inclusive).

A full read that stops before its ScopeEnd and will resume keeps its keys in the table
`scope_listed` (`save_listed`); the run that resumes it loads them back into `scope_seen`
(`restore_listed`), so its ScopeEnd reverses only what no part of the read listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine, staging
from pmo_ledger.ledger.db import local_setting
from pmo_ledger.ledger.models import ActualLine, ScopeListed, table_of
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.time.calendar import parse_period
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.entries import LINE_COLUMNS, LineChange, LineWriter
from pmo_ledger.ledger.write.stats import ApplyStats

_al = table_of(ActualLine)
_listed = table_of(ScopeListed)


@dataclass(frozen=True, slots=True)
class ScopeCheck:
    """How many live lines a scope holds and how many of them the source did not list."""

    open_lines: int
    unseen: int

    def allowed(self, settings: LedgerSettings) -> bool:
        """The mass-delete guard: at most max_scope_reversal of the open lines, at least
        max_scope_reversal_min lines, may be reversed by one ScopeEnd."""
        share: Decimal | int = settings.max_scope_reversal * self.open_lines
        limit = max(share, settings.max_scope_reversal_min)
        return self.unseen <= limit


def scope_filter(source: str, stream: str, scope_key: str) -> Any:
    """The WHERE clause selecting a scope's live lines. Raises ValueError for a bad key."""
    base = [_al.c.source == source, _al.c.stream == stream, _al.c.deleted_at.is_(None)]
    kind, _, value = scope_key.partition(":")
    if scope_key == stream:
        pass
    elif kind == "project" and value:
        base.append(and_(_al.c.project_ref_type == "project", _al.c.project_ref == value))
    elif kind == "period" and value:
        parse_period(value)
        base.append(_al.c.period == value)
    elif kind == "dates" and ".." in value:
        start, end = (date.fromisoformat(v) for v in value.split("..", 1))
        base.append(_al.c.posted_on.between(start, end))
    else:
        raise ValueError(
            f"unknown scope {scope_key!r}: expected the stream name, project:<key>, "
            "period:<YYYY-PP> or dates:<from>..<to>"
        )
    return and_(*base)


def _unseen(scope_key: str) -> Any:
    seen = staging.scope_seen
    return ~exists().where(seen.c.scope_key == scope_key, seen.c.external_id == _al.c.external_id)


def check_scope(session: Session, source: str, stream: str, scope_key: str) -> ScopeCheck:
    """Open lines of the scope and how many were not seen (one pass over the scope; on
    PostgreSQL a count, then a merge anti-join)."""
    staging.ensure(session, staging.scope_seen)
    where = scope_filter(source, stream, scope_key)
    if session.get_bind().dialect.name != "postgresql":
        total, unseen = session.execute(
            select(func.count(), func.count().filter(_unseen(scope_key)))
            .select_from(_al)
            .where(where)
        ).one()
        return ScopeCheck(int(total or 0), int(unseen or 0))
    # PostgreSQL: the unseen lines by a merge anti-join of the scope's lines (in key order from
    # the unique index) and its seen keys. In one count with the open lines (a FILTER) the NOT
    # EXISTS was a probe of scope_seen per line, and the planner, which sees no statistics on a
    # just-filled TEMP table, chose probes for the anti-join too; a hash anti-join spilled at
    # 1,000,000 keys. EXPLAIN ANALYZE: probes 0.19 s at 100,000 lines and 4.4-5.3 s at
    # 1,000,000; merge 0.09 s and 1.4 s.
    total = session.scalar(select(func.count()).select_from(_al).where(where))
    with (
        local_setting(session, "enable_nestloop", "off"),
        local_setting(session, "enable_hashjoin", "off"),
    ):
        unseen = session.scalar(
            select(func.count()).select_from(_al).where(where, _unseen(scope_key))
        )
    return ScopeCheck(int(total or 0), int(unseen or 0))


def reverse_unseen(
    ctx: WriteContext,
    stream: str,
    scope_key: str,
    writer: LineWriter,
    stats: ApplyStats | None = None,
) -> int:
    """Stage deletions of the scope's lines that were not seen; the caller flushes. Counts
    them (and their money) as deleted in `stats` when given."""
    staging.ensure(ctx.session, staging.scope_seen)
    where = and_(scope_filter(ctx.source, stream, scope_key), _unseen(scope_key))
    n = 0
    gone: dict[str, datetime | None] = {}
    for row in ctx.session.execute(select(_al).where(where)).mappings():
        old = dict(row)
        new = {c: old[c] for c in LINE_COLUMNS}
        new.update(deleted_at=ctx.recorded_at, deleted_reason="scope_reversal")
        writer.add(LineChange(old["id"], old, new, "delete"))
        gone[old["external_id"]] = None
        n += 1
        if stats is not None:
            stats.deleted += 1
            stats.count("deleted", old["currency"], old["amount"])
    quarantine.resolve(ctx.session, ctx.source, stream, gone, "deleted", ctx.recorded_at)
    return n


def forget_scope(session: Session, scope_key: str) -> None:
    """Empty the keys recorded for a scope (when it opens, and after its ScopeEnd)."""
    staging.ensure(session, staging.scope_seen)
    session.execute(staging.scope_seen.delete().where(staging.scope_seen.c.scope_key == scope_key))


def forget_all_scopes(session: Session) -> None:
    """Empty `scope_seen`. It lives on a connection, and a pooled connection outlives a run:
    a run that stopped inside a scope leaves that scope's keys there for whoever gets the
    connection next, where they would count as listed."""
    staging.empty(session, staging.scope_seen)


def record_seen(session: Session, scope_key: str, external_ids: list[str]) -> None:
    """Add keys seen in an open scope (the runner fills it from each batch)."""
    columns = ("scope_key", "external_id")
    staging.append_keyed(session, staging.scope_seen, columns, scope_key, external_ids)


def save_listed(
    session: Session, source: str, stream: str, scope_key: str, *, from_lines: bool = False
) -> int:
    """Keep the keys seen so far in an open scope (`scope_seen`, which holds those restored
    from earlier runs too) for a later run: they replace what was kept. Returns how many.

    `from_lines`: the stream's own scope opened on an empty stream, whose keys the runner did
    not record (every line the stream holds now was listed by it): its lines' keys are kept."""
    staging.ensure(session, staging.scope_seen)
    drop_listed(session, source, stream, scope_key)
    seen = staging.scope_seen
    keys = (
        select(literal(source), literal(stream), literal(scope_key), _al.c.external_id).where(
            _al.c.source == source, _al.c.stream == stream
        )
        if from_lines
        else select(literal(source), literal(stream), seen.c.scope_key, seen.c.external_id)
        .where(seen.c.scope_key == scope_key)
        .distinct()
    )
    columns = ["connector", "stream", "scope_key", "external_id"]
    session.execute(insert(_listed).from_select(columns, keys))
    return int(
        session.scalar(
            select(func.count()).select_from(_listed).where(_listed_of(source, stream, scope_key))
        )
        or 0
    )


def restore_listed(session: Session, source: str, stream: str, scope_key: str) -> int:
    """Make the keys a resumed scope listed in earlier runs the scope's keys in `scope_seen`
    (what it held for the scope before is dropped). Returns how many."""
    forget_scope(session, scope_key)
    seen = staging.scope_seen
    keys = select(_listed.c.scope_key, _listed.c.external_id).where(
        _listed_of(source, stream, scope_key)
    )
    session.execute(insert(seen).from_select(["scope_key", "external_id"], keys))
    # Counted, not the INSERT's rowcount: psycopg reports -1 for an INSERT ... SELECT here.
    return int(
        session.scalar(select(func.count()).select_from(seen).where(seen.c.scope_key == scope_key))
        or 0
    )


def drop_listed(session: Session, source: str, stream: str, scope_key: str) -> None:
    """Forget the keys kept for a scope (it ended, or a new read of it starts over)."""
    session.execute(delete(_listed).where(_listed_of(source, stream, scope_key)))


def _listed_of(source: str, stream: str, scope_key: str) -> Any:
    return and_(
        _listed.c.connector == source, _listed.c.stream == stream, _listed.c.scope_key == scope_key
    )


def end_scope(
    session: Session,
    settings: LedgerSettings,
    source: str,
    stream: str,
    scope_key: str,
    *,
    run_id: int | None = None,
    recorded_at: Any = None,
    allow_mass_delete: bool = False,
    stats: ApplyStats | None = None,
) -> tuple[ScopeCheck, int]:
    """Apply a ScopeEnd: reverse what the scope did not list, unless the mass-delete guard
    stops it. Returns the check and the number of lines reversed (0 when guarded)."""
    check = check_scope(session, source, stream, scope_key)
    if check.unseen == 0 or (not allow_mass_delete and not check.allowed(settings)):
        return check, 0
    ctx = WriteContext(session, settings, source, run_id)
    if recorded_at is not None:
        ctx.recorded_at = recorded_at
    writer = LineWriter(
        session,
        run_id=run_id,
        recorded_at=ctx.recorded_at,
        inline_max=settings.aggregate_inline_max,
    )
    n = reverse_unseen(ctx, stream, scope_key, writer, stats)
    writer.flush()
    return check, n
