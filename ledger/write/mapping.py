"""Mappings from source keys to ledger projects, and re-pointing what waited as UNMAPPED.

`map add` / `map import` store explicit project_link or cost_object_map rows; then every
live UNMAPPED line whose key now resolves is re-pointed with `remap` entries (a reversal
under UNMAPPED and the full line under its project) and its quarantine entry resolves.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine
from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    ActualLine,
    CostObjectMap,
    Project,
    ProjectLink,
    Task,
    table_of,
)
from pmo_ledger.ledger.resolve import Authority, Placement, resolve_projects, rule_project_code
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.entries import LINE_COLUMNS, LineChange, LineWriter

_al = table_of(ActualLine)

#: Object types stored in project_link; every other type is a cost object.
PROJECT_OBJECT_TYPES = ("project", "opportunity", "program")


class MappingError(ValueError):
    """A mapping that names an unknown project or task, or a malformed import row."""


@dataclass(frozen=True, slots=True)
class Mapping:
    source: str
    object_type: str
    external_id: str
    project_code: str
    task: str | None = None
    cost_type: str | None = None


def add_mappings(
    session: Session, mappings: Iterable[Mapping], now: Any, origin: str = "manual"
) -> int:
    """Store mappings (replacing an earlier mapping of the same key). Raises MappingError
    naming the first unknown project code or task."""
    items = list(mappings)
    codes = {m.project_code for m in items}
    ids = dict(
        session.execute(select(Project.code, Project.id).where(Project.code.in_(codes)))
        .tuples()
        .all()
    )
    links: list[dict[str, Any]] = []
    maps: list[dict[str, Any]] = []
    for m in items:
        if m.project_code not in ids:
            raise MappingError(f"unknown project code {m.project_code!r}")
        key = {"source": m.source, "object_type": m.object_type, "external_id": m.external_id}
        row = {
            **key,
            "project_id": ids[m.project_code],
            "origin": origin,
            "created_at": now,
            "updated_at": now,
        }
        if m.object_type in PROJECT_OBJECT_TYPES and m.task is None and m.cost_type is None:
            links.append(row)
            continue
        task_id = None
        if m.task:
            task_id = session.scalar(
                select(Task.id).where(
                    Task.project_id == ids[m.project_code],
                    (Task.external_id == m.task) | (Task.wbs_code == m.task),
                )
            )
            if task_id is None:
                raise MappingError(f"unknown task {m.task!r} in project {m.project_code!r}")
        maps.append({**row, "task_id": task_id, "cost_type": m.cost_type})
    keys = ["source", "object_type", "external_id"]
    upsert(
        session, table_of(ProjectLink), links, keys, update=["project_id", "origin", "updated_at"]
    )
    upsert(
        session,
        table_of(CostObjectMap),
        maps,
        keys,
        update=["project_id", "task_id", "cost_type", "origin", "updated_at"],
    )
    return len(items)


def read_mapping_csv(path: Path) -> list[Mapping]:
    """Rows of a CSV with header source,object_type,external_id,project_code[,task,cost_type].
    Raises MappingError with the line number of the first bad row."""
    required = ("source", "object_type", "external_id", "project_code")
    out: list[Mapping] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MappingError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            empty = [c for c in required if not (row.get(c) or "").strip()]
            if empty:
                raise MappingError(f"{path}: line {reader.line_num}: empty {', '.join(empty)}")
            out.append(
                Mapping(
                    row["source"].strip(),
                    row["object_type"].strip(),
                    row["external_id"].strip(),
                    row["project_code"].strip(),
                    (row.get("task") or "").strip() or None,
                    (row.get("cost_type") or "").strip() or None,
                )
            )
    return out


def repointed(old: dict[str, Any], placement: Placement, auth: Authority) -> dict[str, Any]:
    """A line's version placed on `placement`'s project (task and cost type from a cost object
    map where it gives them), with counting flags re-evaluated there."""
    new = {c: old[c] for c in LINE_COLUMNS}
    cost_type = placement.cost_type or old["cost_type"]
    src, pid = old["source"], placement.project_id
    new.update(
        project_id=pid,
        task_id=placement.task_id if placement.task_id is not None else old["task_id"],
        cost_type=cost_type,
        counts_amount=auth.counts(src, auth.money_measure(old["kind"], cost_type), pid),
        counts_hours=old["hours"] is not None and auth.counts(src, "hours", pid),
    )
    return new


_PLACEMENT = ("project_id", "task_id", "cost_type", "counts_amount", "counts_hours")


def remap_unmapped(
    ctx: WriteContext,
    writer: LineWriter,
    source: str | None = None,
    refs: Iterable[tuple[str, str, str]] | None = None,
) -> int:
    """Re-point live lines whose key now resolves elsewhere: every UNMAPPED line, plus the
    lines of `refs` (source, object_type, key) whose mapping changed. The caller flushes
    `writer`. Returns the number of lines re-pointed."""
    s = ctx.session
    live = and_(_al.c.deleted_at.is_(None), _al.c.project_ref.is_not(None))
    which: Any = _al.c.project_id == UNMAPPED_ID
    changed = set(refs or ())
    if changed:
        which = or_(
            which,
            tuple_(_al.c.source, _al.c.project_ref_type, _al.c.project_ref).in_(sorted(changed)),
        )
    where = and_(live, which) if source is None else and_(live, which, _al.c.source == source)
    # First the distinct keys (few, however many lines wait on them), then only the lines of
    # the keys that now resolve somewhere else: a batch of projects stays cheap.
    key_cols = (_al.c.source, _al.c.project_ref_type, _al.c.project_ref)
    keys_by_source: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for src, ref_type, ref in s.execute(select(*key_cols).where(where).distinct()):
        keys_by_source[src].add((ref_type, ref))
    moved = 0
    auth = ctx.authority
    for src, keys in keys_by_source.items():
        placements = resolve_projects(s, ctx.settings, src, keys, ctx.recorded_at)
        movable = [
            (src, t, r) for (t, r), p in placements.items() if p.mapped or (src, t, r) in changed
        ]
        if not movable:
            continue
        group = [
            dict(row)
            for row in s.execute(
                select(_al).where(where, tuple_(*key_cols).in_(sorted(movable)))
            ).mappings()
        ]
        auth.load_scopes(s, {p.project_id for p in placements.values()})
        resolved: dict[str, dict[str, Any]] = defaultdict(dict)
        for old in group:
            p = placements[(old["project_ref_type"], old["project_ref"])]
            if not p.mapped and old["project_id"] == UNMAPPED_ID:
                continue
            new = repointed(old, p, auth)
            if all(new[c] == old[c] for c in _PLACEMENT):
                continue
            writer.add(LineChange(old["id"], old, new, "remap"))
            if p.mapped:
                resolved[old["stream"]][old["external_id"]] = None
            moved += 1
        for stream, stream_keys in resolved.items():
            quarantine.resolve(
                s, src, stream, stream_keys, "remapped", ctx.recorded_at, reasons=("unmapped",)
            )
    return moved


def remap(
    session: Session,
    settings: LedgerSettings,
    source: str | None = None,
    run_id: int | None = None,
    refs: Iterable[tuple[str, str, str]] | None = None,
) -> int:
    """Re-point UNMAPPED lines, and the lines of `refs` whose mapping changed, in the caller's
    transaction. Returns the number of lines re-pointed."""
    ctx = WriteContext(session, settings, source or "", run_id)
    writer = LineWriter(
        session,
        run_id=run_id,
        recorded_at=ctx.recorded_at,
        inline_max=settings.aggregate_inline_max,
    )
    moved = remap_unmapped(ctx, writer, source, refs)
    writer.flush()
    return moved


def match_rule(
    settings: LedgerSettings, source: str, object_type: str, external_id: str
) -> tuple[int, str] | None:
    """(rule index, project code) of the first link rule matching the key, or None."""
    for i, rule in enumerate(settings.link_rules):
        code = rule_project_code(rule, source, (object_type, external_id))
        if code is not None:
            return i, code
    return None
