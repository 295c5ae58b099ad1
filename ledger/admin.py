"""Operator actions on the ledger: authority apply, rates apply, project merge, connector
rename, quarantine retry / purge. Each takes a session and never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import (
    HISTORY,
    ActualLine,
    Base,
    BudgetLine,
    BudgetVersion,
    Project,
    Quarantine,
    RevenueForecast,
    table_of,
    utcnow,
)
from pmo_ledger.ledger.records import older_version, record_from_json
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write.budget_history import LINE_COLUMNS as BUDGET_LINE_COLUMNS
from pmo_ledger.ledger.write.budget_history import BudgetLineBatch
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.conversion import revalue_hours
from pmo_ledger.ledger.write.entries import LINE_COLUMNS, LineChange, LineWriter

_al = table_of(ActualLine)


class AdminError(ValueError):
    """An operator action that cannot be done as asked (unknown project, name in use...)."""


def _writer(ctx: WriteContext) -> LineWriter:
    return LineWriter(
        ctx.session,
        run_id=ctx.run_id,
        recorded_at=ctx.recorded_at,
        inline_max=ctx.settings.aggregate_inline_max,
    )


def _live_lines(session: Session, where: Any) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in session.execute(select(_al).where(_al.c.deleted_at.is_(None), where)).mappings()
    ]


def _live_line_chunks(session: Session, size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
    """Every live line, `size` at a time in id order (keyset paging: each chunk is its own
    query, so writing between chunks is safe on both engines)."""
    last = 0
    while True:
        chunk = [
            dict(r)
            for r in session.execute(
                select(_al)
                .where(_al.c.deleted_at.is_(None), _al.c.id > last)
                .order_by(_al.c.id)
                .limit(size)
            ).mappings()
        ]
        if not chunk:
            return
        yield chunk
        last = chunk[-1]["id"]


def authority_apply(
    session: Session, settings: LedgerSettings, run_id: int | None = None
) -> dict[str, int]:
    """Re-evaluate counting flags after `[ledger.authority]` changed: `reclass` entries for
    actual lines, budget lines and forecasts whose flags change (rule 8)."""
    ctx = WriteContext(session, settings, "", run_id)
    auth = ctx.authority
    changed = 0
    for lines in _live_line_chunks(session):  # bounded memory on a ledger of any size
        writer = _writer(ctx)
        auth.load_scopes(session, {x["project_id"] for x in lines})
        for old in lines:
            src, pid = old["source"], old["project_id"]
            ca = auth.counts(src, auth.money_measure(old["kind"], old["cost_type"]), pid)
            ch = old["hours"] is not None and auth.counts(src, "hours", pid)
            if (ca, ch) != (old["counts_amount"], old["counts_hours"]):
                new = {c: old[c] for c in LINE_COLUMNS}
                new.update(counts_amount=ca, counts_hours=ch)
                writer.add(LineChange(old["id"], old, new, "reclass"))
                changed += 1
        writer.flush()
    budget = _reclass_budget_lines(ctx)
    forecasts = 0
    rows = session.execute(
        select(
            RevenueForecast.id,
            RevenueForecast.source,
            RevenueForecast.project_id,
            RevenueForecast.counts,
        ).where(RevenueForecast.deleted_at.is_(None))
    ).all()
    auth.load_scopes(session, {r.project_id for r in rows})
    for fid, src, pid, counted in rows:
        now_counts = auth.counts(src, "revenue", pid)
        if now_counts != counted:
            session.execute(
                update(RevenueForecast).where(RevenueForecast.id == fid).values(counts=now_counts)
            )
            forecasts += 1
    return {"lines": changed, "budget_lines": budget, "forecasts": forecasts}


def _live_budget_lines(session: Session, where: Any) -> list[dict[str, Any]]:
    bl = table_of(BudgetLine)
    return [
        dict(r)
        for r in session.execute(
            select(bl, BudgetVersion.source.label("version_source"))
            .join(BudgetVersion, BudgetVersion.id == bl.c.version_id)
            .where(bl.c.deleted_at.is_(None), where)
        ).mappings()
    ]


def _change_budget_lines(
    ctx: WriteContext, rows: list[dict[str, Any]], reason: str, **values: Any
) -> int:
    """Re-version budget lines with new column values (per row callables allowed)."""
    batch = BudgetLineBatch(ctx)
    changed = 0
    for old in rows:
        new = {c: old[c] for c in BUDGET_LINE_COLUMNS}
        new.update({k: v(old) if callable(v) else v for k, v in values.items()})
        new["updated_at"] = ctx.recorded_at
        if any(new[c] != old[c] for c in values):
            batch.change(old, new, reason)
            changed += 1
    batch.flush()
    return changed


def _reclass_budget_lines(ctx: WriteContext) -> int:
    rows = _live_budget_lines(ctx.session, literal(True))
    auth = ctx.authority
    auth.load_scopes(ctx.session, {r["project_id"] for r in rows})
    return _change_budget_lines(
        ctx,
        rows,
        "reclass",
        counts=lambda r: auth.counts(r["version_source"], "budget", r["project_id"]),
    )


def rates_apply(
    session: Session, settings: LedgerSettings, since: date, run_id: int | None = None
) -> int:
    """Re-value hours-only lines worked on or after `since` with the rates now in force."""
    ctx = WriteContext(session, settings, "", run_id)
    writer = _writer(ctx)
    n = revalue_hours(ctx, writer, since)
    writer.flush()
    return n


def project_merge(
    session: Session, settings: LedgerSettings, keep: str, drop: str, run_id: int | None = None
) -> dict[str, int]:
    """Merge project DROP into KEEP: links, maps, tasks, plans and budgets move; lines move
    with `remap` entries; DROP stays as a tombstone with merged_into_id. Raises AdminError."""
    ids = dict(
        session.execute(select(Project.code, Project.id).where(Project.code.in_([keep, drop])))
        .tuples()
        .all()
    )
    for code in (keep, drop):
        if code not in ids:
            raise AdminError(f"unknown project code {code!r}")
    if keep == drop or ids[drop] == 0 or ids[keep] == 0:
        raise AdminError("merge needs two different projects, neither of them UNMAPPED")
    keep_id, drop_id = ids[keep], ids[drop]
    ctx = WriteContext(session, settings, "", run_id)
    auth = ctx.authority
    auth.load_scopes(session, {keep_id})
    writer = _writer(ctx)
    lines = _live_lines(session, _al.c.project_id == drop_id)
    for old in lines:
        new = {c: old[c] for c in LINE_COLUMNS}
        src = old["source"]
        new.update(
            project_id=keep_id,
            counts_amount=auth.counts(
                src, auth.money_measure(old["kind"], old["cost_type"]), keep_id
            ),
            counts_hours=old["hours"] is not None and auth.counts(src, "hours", keep_id),
        )
        writer.add(LineChange(old["id"], old, new, "remap"))
    writer.flush()
    budget_lines = _change_budget_lines(
        ctx,
        _live_budget_lines(session, BudgetLine.project_id == drop_id),
        "remap",
        project_id=keep_id,
    )
    moved = {"lines": len(lines), "budget_lines": budget_lines}
    history = {t.name for t in HISTORY.values()}  # what was known stays as it was
    for table in Base.metadata.sorted_tables:
        if table.name in history or table.name in (
            "project",
            "actual_line",
            "ledger_entry",
            "budget_line",
            "budget_entry",
            "actual_period_total",
        ):
            continue
        if "project_id" in table.c:
            # A tracked row's new version is recorded at the merge's time (migration 0014).
            stamp = {"updated_at": ctx.recorded_at} if table.name in HISTORY else {}
            res = cast(
                CursorResult[Any],
                session.execute(
                    update(table)
                    .where(table.c.project_id == drop_id)
                    .values(project_id=keep_id, **stamp)
                ),
            )
            moved[table.name] = res.rowcount or 0
    session.execute(
        update(Project)
        .where(Project.id == drop_id)
        .values(merged_into_id=keep_id, updated_at=ctx.recorded_at)
    )
    return moved


def _source_column(table: Table) -> str | None:
    """The column of `table` that holds a connector name: `connector` (the runner's tables:
    sync_run, sync_state, sync_lock, scope_listed), else `source` (the ledger's), else None.
    Found from the columns, so a new table that names its connector is renamed too."""
    for name in ("connector", "source"):
        if name in table.c:
            return name
    return None


def connectors_rename(session: Session, old: str, new: str) -> dict[str, int]:
    """Rewrite every key that names connector OLD to NEW, in the caller's one transaction.
    Raises AdminError when NEW already has data or OLD has none."""
    if old == new:
        raise AdminError("old and new names are the same")
    touched: dict[str, int] = {}
    columns = [
        table.c[name]
        for table in Base.metadata.sorted_tables
        if (name := _source_column(table)) is not None
    ]
    for col in columns:
        if session.scalar(select(func.count()).select_from(col.table).where(col == new)):
            raise AdminError(f"connector name {new!r} already has data in {col.table.name}")
    for col in columns:
        table = col.table
        res = cast(
            CursorResult[Any],
            session.execute(update(table).where(col == old).values({col.name: new})),
        )
        if res.rowcount:
            touched[table.name] = res.rowcount
    if not touched:
        raise AdminError(f"no data for connector {old!r}")
    return touched


def quarantine_retry(
    session: Session,
    settings: LedgerSettings,
    *,
    source: str | None = None,
    reason: str | None = None,
    run_id: int | None = None,
) -> dict[str, int]:
    """Re-apply stored normalized records of open entries through the writer. A record older
    than its line resolves as `superseded` (a retry never goes back in time); raw rejects wait
    for the next read of their key. Unmapped entries are re-pointed by `remap`."""
    from pmo_ledger.ledger.write import apply_batch, remap

    remapped = remap(session, settings, source, run_id)
    q = select(Quarantine).where(
        Quarantine.status == "open",
        Quarantine.payload_kind.in_(("record", "deletion")),
        Quarantine.reason != "unmapped",
    )
    if source:
        q = q.where(Quarantine.source == source)
    if reason:
        q = q.where(Quarantine.reason == reason)
    groups: dict[tuple[str, str], list[Quarantine]] = defaultdict(list)
    for entry in session.scalars(q):
        groups[(entry.source, entry.stream)].append(entry)
    retried = superseded = 0
    for (src, stream), entries in groups.items():
        records, pairs = [], []
        for e in entries:
            if e.payload_kind == "deletion":
                # A deletion the database refused: apply it again, as a deletion.
                payload = e.payload or {}
                apply_batch(
                    session,
                    settings,
                    src,
                    stream,
                    deletions=[payload["external_id"]],
                    deletion_kind=payload.get("deletion_kind", "actual"),
                    run_id=run_id,
                )
                retried += 1
                continue
            try:
                record = record_from_json(e.payload or {})
            except ValueError:
                continue  # a payload this version cannot read: left for an operator
            records.append(record)
            pairs.append((e, record))
        if records:
            apply_batch(session, settings, src, stream, records, run_id=run_id)
            retried += len(records)
        for e, r in pairs:
            session.refresh(e)
            if e.status != "open":
                continue
            line_at = session.scalar(
                select(ActualLine.source_modified_at).where(
                    ActualLine.source == src,
                    ActualLine.stream == stream,
                    ActualLine.external_id == e.external_id,
                )
            )
            if older_version(r.source_modified_at, line_at):
                e.status, e.resolution, e.resolved_at = "resolved", "superseded", utcnow()
                superseded += 1
    session.flush()
    still_open = (
        session.scalar(
            select(func.count()).select_from(Quarantine).where(Quarantine.status == "open")
        )
        or 0
    )
    return {
        "remapped": remapped,
        "retried": retried,
        "superseded": superseded,
        "open": int(still_open),
    }


def quarantine_purge(session: Session, resolved_before: date) -> int:
    """Drop the payloads of entries resolved before `resolved_before` (the rows stay as history)."""
    cutoff = datetime.combine(resolved_before, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    res = cast(
        CursorResult[Any],
        session.execute(
            update(Quarantine)
            .where(
                Quarantine.status == "resolved",
                Quarantine.resolved_at < cutoff,
                Quarantine.payload.is_not(None),
            )
            .values(payload=None)
        ),
    )
    return int(res.rowcount or 0)
