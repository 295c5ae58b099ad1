"""Applying TaskRecords and DependencyRecords: the WBS and its precedence links.

Tasks are upserted by (source, external_id) with a content hash, under the project their
`project_ref` resolves to (UNMAPPED plus an open quarantine entry when none does, rule 5).
`parent_id` is set in a second, set-based pass so a parent may come later in the same batch;
a parent that is still missing leaves the task loaded with an 'unknown_parent' entry, which
`quarantine retry` resolves once the parent exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, and_, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine, staging
from pmo_ledger.ledger.models import Task, TaskDependency, table_of
from pmo_ledger.ledger.records import DependencyRecord, TaskRecord
from pmo_ledger.ledger.resolve import UNMAPPED, resolve_keys, resolve_projects
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.hashing import content_hash
from pmo_ledger.ledger.write.keyed_rows import (
    differs,
    latest_by_key,
    number_problem,
    percent_problem,
    q,
    soft_delete,
    stored_rows,
)
from pmo_ledger.ledger.write.keyed_rows import held as held_item
from pmo_ledger.ledger.write.progress import Progress, append_progress
from pmo_ledger.ledger.write.stats import ApplyStats

_task: Table = table_of(Task)
_dep: Table = table_of(TaskDependency)
_FIELDS = (
    "name",
    "wbs_code",
    "planned_start",
    "planned_finish",
    "actual_start",
    "actual_finish",
    "source_url",
)
_HOURS = ("effort_hours", "optimistic_days", "most_likely_days", "pessimistic_days")
#: Columns a re-sent task overwrites (parent_id is the second pass's; created_at stays).
_TASK_UPDATE = [
    *_FIELDS,
    *_HOURS,
    "project_id",
    "percent_complete",
    "content_hash",
    "deleted_at",
    "updated_at",
]
_META = MetaData()
#: Tasks whose parent the second pass sets (parent_ref NULL clears it).
stage_task_parent = Table(
    "stage_task_parent",
    _META,
    Column("external_id", String(255)),
    Column("parent_ref", String(255)),
    prefixes=["TEMPORARY"],
)


def validate_task(r: TaskRecord) -> tuple[str, str] | None:
    """(reason, detail) when a task record cannot be applied, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if not r.name:
        return "missing_name", "the task has no name"
    if r.parent_ref is not None and r.parent_ref == r.external_id:
        return "bad_parent", "a task cannot be its own parent"
    for name in _HOURS:
        problem = number_problem(name, getattr(r, name))
        if problem is not None:
            return problem
    return percent_problem("percent_complete", r.percent_complete)


def apply_tasks(
    ctx: WriteContext,
    stream: str,
    records: Sequence[TaskRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert tasks, set their parents, append changed percent complete; deletions set
    deleted_at. Held: validation reasons, 'unmapped' (loaded under UNMAPPED), 'unknown_parent'
    (loaded without a parent)."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    valid: dict[str, TaskRecord] = {}
    for key, r in latest_by_key(records).items():
        problem = validate_task(r)
        if problem is None:
            valid[key] = r
        else:
            held.append(held_item(key, *problem, r))
    placements = resolve_projects(
        s, ctx.settings, source, {(r.project_ref_type, r.project_ref) for r in valid.values()}, now
    )
    existing = stored_rows(s, _task, "external_id", valid, _task.c.source == source)
    rows: list[dict[str, Any]] = []
    parents: dict[str, str | None] = {}
    unmapped: set[str] = set()
    for key, r in valid.items():
        pid = placements.get((r.project_ref_type, r.project_ref), UNMAPPED).project_id
        if pid == UNMAPPED.project_id:
            unmapped.add(key)
            detail = f"no project for {r.project_ref_type} {r.project_ref!r}"
            held.append(held_item(key, "unmapped", detail, r))
        digest = content_hash(r)
        old = existing.get(key)
        row = _task_row(r, pid, digest)
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            if r.parent_ref and old["parent_id"] is None:
                parents[key] = r.parent_ref  # its parent may have arrived since
            continue
        rows.append({**row, "source": source, "created_at": now, "updated_at": now})
        parents[key] = r.parent_ref
    upsert(s, _task, rows, ["source", "external_id"], update=_TASK_UPDATE)
    stats.written = len(rows)
    orphans = _set_parents(s, source, parents)
    for key in orphans - unmapped:
        detail = f"no task {valid[key].parent_ref!r} (the parent) yet"
        held.append(held_item(key, "unknown_parent", detail, valid[key]))
    ids = resolve_keys(s, source, "task", (row["external_id"] for row in rows))
    snapshots = []
    for row in rows:
        key, percent = row["external_id"], row["percent_complete"]
        if percent is not None and key not in unmapped:  # progress under UNMAPPED means nothing
            day = valid[key].status_date or now.date()
            snapshots.append(Progress(row["project_id"], ids[key], day, percent))
    append_progress(ctx, snapshots)
    stats.deleted = soft_delete(s, _task, "external_id", deletions, now, _task.c.source == source)
    loaded = {k: r.source_modified_at for k, r in valid.items() if k not in unmapped | orphans}
    quarantine.resolve(s, source, stream, loaded, "loaded", now)
    quarantine.resolve(s, source, stream, dict.fromkeys(deletions), "deleted", now)
    return stats


def _task_row(r: TaskRecord, project_id: int, digest: str) -> dict[str, Any]:
    """The columns of a task's new version (parent_id excepted: the second pass sets it)."""
    row: dict[str, Any] = {f: getattr(r, f) for f in _FIELDS}
    row.update({f: q(getattr(r, f)) for f in _HOURS})
    row.update(
        external_id=r.external_id,
        project_id=project_id,
        percent_complete=q(r.percent_complete),
        content_hash=digest,
        deleted_at=None,
    )
    return row


def _set_parents(session: Session, source: str, parents: Mapping[str, str | None]) -> set[str]:
    """Set parent_id of these tasks from their parent_ref in one UPDATE; returns the keys whose
    parent_ref names no task of the source."""
    if not parents:
        return set()
    st = stage_task_parent
    staging.fill(session, st, [{"external_id": k, "parent_ref": p} for k, p in parents.items()])
    p = _task.alias("parent")
    parent_id = (
        select(p.c.id)
        .select_from(st.join(p, and_(p.c.source == source, p.c.external_id == st.c.parent_ref)))
        .where(st.c.external_id == _task.c.external_id)
        .scalar_subquery()
    )
    session.execute(
        update(_task)
        .where(_task.c.source == source, _task.c.external_id.in_(select(st.c.external_id)))
        .values(parent_id=parent_id)
    )
    orphans = session.execute(
        select(_task.c.external_id)
        .join(st, and_(_task.c.source == source, _task.c.external_id == st.c.external_id))
        .where(st.c.parent_ref.is_not(None), _task.c.parent_id.is_(None))
    ).scalars()
    return set(orphans)


def validate_dependency(r: DependencyRecord) -> tuple[str, str] | None:
    """(reason, detail) when a dependency record cannot be applied, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if r.dependency_type not in ("FS", "SS", "FF", "SF"):
        return "bad_dependency_type", f"type must be FS, SS, FF or SF, got {r.dependency_type!r}"
    if r.predecessor_ref == r.successor_ref:
        return "bad_dependency", "a task cannot precede itself"
    return number_problem("lag_days", r.lag_days)


def apply_dependencies(
    ctx: WriteContext,
    stream: str,
    records: Sequence[DependencyRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert task_dependency rows by (source, external_id); deletions set deleted_at.
    Held: validation reasons, 'unknown_task' when either end is not a task of the source."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    valid: dict[str, DependencyRecord] = {}
    for key, r in latest_by_key(records).items():
        problem = validate_dependency(r)
        if problem is None:
            valid[key] = r
        else:
            held.append(held_item(key, *problem, r))
    refs = {r.predecessor_ref for r in valid.values()} | {r.successor_ref for r in valid.values()}
    tasks = resolve_keys(s, source, "task", refs)
    existing = stored_rows(s, _dep, "external_id", valid, _dep.c.source == source)
    rows: list[dict[str, Any]] = []
    loaded: dict[str, datetime | None] = {}
    for key, r in valid.items():
        missing = [t for t in (r.predecessor_ref, r.successor_ref) if t not in tasks]
        if missing:
            detail = f"no task {', '.join(repr(t) for t in missing)}"
            held.append(held_item(key, "unknown_task", detail, r))
            continue
        loaded[key] = r.source_modified_at
        row = {
            "external_id": key,
            "predecessor_id": tasks[r.predecessor_ref],
            "successor_id": tasks[r.successor_ref],
            "dependency_type": r.dependency_type,
            "lag_days": q(r.lag_days),
            "deleted_at": None,
        }
        old = existing.get(key)
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            continue
        rows.append({**row, "source": source, "created_at": now, "updated_at": now})
    upsert(
        s,
        _dep,
        rows,
        ["source", "external_id"],
        update=[
            "predecessor_id",
            "successor_id",
            "dependency_type",
            "lag_days",
            "deleted_at",
            "updated_at",
        ],
    )
    stats.written = len(rows)
    stats.deleted = soft_delete(s, _dep, "external_id", deletions, now, _dep.c.source == source)
    quarantine.resolve(s, source, stream, loaded, "loaded", now)
    quarantine.resolve(s, source, stream, dict.fromkeys(deletions), "deleted", now)
    return stats
