"""Mappings from source keys to ledger projects, and re-pointing what waited as UNMAPPED.

`map add` / `map import` store explicit project_link or cost_object_map rows (a key has one
explicit mapping: storing it in one table drops the key's row in the other); `map remove` drops
one. Then every live line whose placement changed is re-pointed with `remap` entries (a
reversal where it was and the full line where it goes): a line that lands on a project resolves
its `unmapped` quarantine entry, a line that goes back to UNMAPPED opens one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, or_, select, tuple_
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine
from pmo_ledger.ledger.models import (
    UNMAPPED_CODE,
    UNMAPPED_ID,
    ActualLine,
    ActualPeriodTotal,
    BudgetLine,
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
#: The cost object types connectors name (records.py); a source's lines may name others.
COST_OBJECT_TYPES = ("cost_center", "order", "wbs")
#: The longest key the mapping tables hold (external_id is String(255)).
KEY_MAX = 255
#: Link origins `map remove` leaves alone: the projects authority's identity, a rule's match.
_NOT_REMOVABLE = {
    "authority": "is the projects authority's own key",
    "rule": "is placed by a link rule, not a mapping (change [[ledger.link_rules]])",
}


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


class MappingCheck:
    """What is wrong with a mapping, in one line, or None (`problem`). The source must be one
    of `sources` (the configured connectors), the object type one the ledger maps (a
    project-like type, a cost object type, or a type the source's lines already name), the
    key non-empty, without surrounding blanks or control characters and at most 255
    characters, the cost type one the ledger knows (`known_cost_types`), the project an
    existing, unmerged project other than UNMAPPED. A project key the projects authority
    linked is its identity: never mapped. What the ledger knows is read once per check."""

    def __init__(self, session: Session, settings: LedgerSettings, sources: Collection[str]):
        self.session = session
        self.settings = settings
        self.sources = sources
        self._types: dict[str, set[str]] = {}
        self._costs: set[str] | None = None

    def problem(self, m: Mapping) -> str | None:
        if m.source not in self.sources:
            listed = _listed(self.sources)
            return f"unknown source {m.source!r}: expected a configured connector ({listed})"
        types = self._types.get(m.source)
        if types is None:
            types = self._types[m.source] = object_types(self.session, m.source)
        if m.object_type not in types:
            return f"unknown object type {m.object_type!r}: expected one of {_listed(types)}"
        key_problem = _key_problem(m.external_id)
        if key_problem is not None:
            return key_problem
        if m.cost_type is not None:
            if self._costs is None:
                self._costs = known_cost_types(self.session, self.settings)
            if m.cost_type not in self._costs:
                listed = _listed(self._costs)
                return f"unknown cost type {m.cost_type!r}: expected one of {listed}"
        return self._project_problem(m)

    def _project_problem(self, m: Mapping) -> str | None:
        if m.project_code == UNMAPPED_CODE:
            return f"{UNMAPPED_CODE} is not a mapping target: a key without a mapping lands there"
        s = self.session
        row = s.execute(
            select(Project.id, Project.merged_into_id).where(Project.code == m.project_code)
        ).first()
        if row is None:
            return f"unknown project code {m.project_code!r}"
        if row[1] is not None:
            into = s.scalar(select(Project.code).where(Project.id == row[1]))
            return f"project {m.project_code!r} was merged into {into!r}: map to {into!r}"
        key = _key_of(ProjectLink, m.source, m.object_type, m.external_id)
        if s.scalar(select(ProjectLink.origin).where(*key)) == "authority":
            return f"{m.source} {m.object_type} {m.external_id} {_NOT_REMOVABLE['authority']}"
        return None


def _key_problem(key: str) -> str | None:
    if not key.strip():
        return "the key is empty"
    if key != key.strip():
        return f"the key {key!r} has leading or trailing blanks"
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return f"the key {key!r} holds a control character"
    if len(key) > KEY_MAX:
        return f"the key is {len(key)} characters long; at most {KEY_MAX} are held"
    return None


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def object_types(session: Session, source: str) -> set[str]:
    """The object types a mapping of `source` may name: project-like types, the cost object
    types, and any other type the source's lines name."""
    named = session.scalars(
        select(_al.c.project_ref_type)
        .where(_al.c.source == source, _al.c.project_ref_type.is_not(None))
        .distinct()
    )
    return {*PROJECT_OBJECT_TYPES, *COST_OBJECT_TYPES, *(t for t in named if t)}


def known_cost_types(session: Session, settings: LedgerSettings) -> set[str]:
    """The cost types the ledger knows: `labor_cost_types`, those its actuals (by their
    per-period totals) and budget lines carry, and those mappings give."""
    known = set(settings.labor_cost_types)
    for column in (ActualPeriodTotal.cost_type, BudgetLine.cost_type, CostObjectMap.cost_type):
        known.update(c for c in session.scalars(select(column).distinct()) if c)
    return known


def _key_of(
    model: type[ProjectLink] | type[CostObjectMap], source: str, object_type: str, key: str
) -> tuple[Any, ...]:
    return (model.source == source, model.object_type == object_type, model.external_id == key)


def add_mappings(
    session: Session, mappings: Iterable[Mapping], now: Any, origin: str = "manual"
) -> int:
    """Store mappings (replacing an earlier mapping of the same key, in either table: a key
    has one explicit mapping). Raises MappingError naming the first unknown project code or
    task, or UNMAPPED as a target."""
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
        if m.project_code == UNMAPPED_CODE:
            raise MappingError(
                f"{UNMAPPED_CODE} is not a mapping target: a key without a mapping lands there"
            )
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
    # A project link wins over a cost object map of the same key (resolve.py): the table a key
    # is stored in now must be the only one holding it. Authority links are never dropped.
    _drop_keys(session, CostObjectMap, links)
    _drop_keys(session, ProjectLink, maps, ProjectLink.origin != "authority")
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


def _drop_keys(
    session: Session,
    model: type[ProjectLink] | type[CostObjectMap],
    rows: list[dict[str, Any]],
    *where: Any,
) -> None:
    if not rows:
        return
    wanted = sorted({(r["source"], r["object_type"], r["external_id"]) for r in rows})
    session.execute(
        delete(model)
        .where(tuple_(model.source, model.object_type, model.external_id).in_(wanted), *where)
        .execution_options(synchronize_session=False)
    )


def remove_mapping(session: Session, source: str, object_type: str, key: str) -> str:
    """Drop the explicit mapping of a key (its manual or imported project link, or its cost
    object map); returns the table it was in. Raises MappingError when the key has none, or
    when its link is the projects authority's or a link rule's."""
    for model in (ProjectLink, CostObjectMap):
        where = _key_of(model, source, object_type, key)
        origin = session.scalar(select(model.origin).where(*where))
        if origin is None:
            continue
        if origin in _NOT_REMOVABLE:
            raise MappingError(f"{source} {object_type} {key} {_NOT_REMOVABLE[origin]}")
        session.execute(delete(model).where(*where).execution_options(synchronize_session=False))
        return model.__tablename__
    raise MappingError(f"no mapping of {source} {object_type} {key}")


def read_mapping_csv(
    path: Path, check: Callable[[Mapping], str | None] | None = None
) -> list[Mapping]:
    """Rows of a CSV with header source,object_type,external_id,project_code[,task,cost_type].
    Raises MappingError with the line number of the first row with an empty column, else of
    the first row `check` (MappingCheck.problem) finds a problem with."""
    required = ("source", "object_type", "external_id", "project_code")
    out: list[tuple[int, Mapping]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MappingError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            empty = [c for c in required if not (row.get(c) or "").strip()]
            if empty:
                raise MappingError(f"{path}: line {reader.line_num}: empty {', '.join(empty)}")
            item = Mapping(
                row["source"].strip(),
                row["object_type"].strip(),
                row["external_id"].strip(),
                row["project_code"].strip(),
                (row.get("task") or "").strip() or None,
                (row.get("cost_type") or "").strip() or None,
            )
            out.append((reader.line_num, item))
    for line, item in out:
        problem = check(item) if check is not None else None
        if problem is not None:
            raise MappingError(f"{path}: line {line}: {problem}")
    return [item for _, item in out]


def repointed(old: dict[str, Any], placement: Placement, auth: Authority) -> dict[str, Any]:
    """A line's version placed on `placement`'s project, with counting flags re-evaluated
    there. As the writer places a line: a line naming its own task keeps it, any other takes
    the task the placement gives (none when it gives none: a task of the project it leaves
    does not follow it); the cost type is the placement's where it gives one, else the line's
    own (a cost type an earlier map gave stays until the source changes the line)."""
    new = {c: old[c] for c in LINE_COLUMNS}
    cost_type = placement.cost_type or old["cost_type"]
    src, pid = old["source"], placement.project_id
    new.update(
        project_id=pid,
        task_id=old["task_id"] if old["task_ref"] else placement.task_id,
        cost_type=cost_type,
        counts_amount=auth.counts(src, auth.money_measure(old["kind"], cost_type), pid),
        counts_hours=old["hours"] is not None and auth.counts(src, "hours", pid),
    )
    return new


_PLACEMENT = ("project_id", "task_id", "cost_type", "counts_amount", "counts_hours")


@dataclass
class Move:
    """Lines re-pointed from one project to another, and their amounts per currency."""

    from_code: str
    to_code: str
    lines: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Moves:
    """What `remap_unmapped` re-pointed, by (from project id, to project id)."""

    by_pair: dict[tuple[int, int], Move] = field(default_factory=dict)

    def add(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        pair = (old["project_id"], new["project_id"])
        move = self.by_pair.setdefault(pair, Move("", ""))
        move.lines += 1
        if old["currency"] is not None and old["amount"] is not None:
            move.amounts[old["currency"]] = (
                move.amounts.get(old["currency"], Decimal(0)) + old["amount"]
            )

    def named(self, session: Session) -> list[Move]:
        """The moves with their project codes, by from and to code."""
        ids = {i for pair in self.by_pair for i in pair}
        codes = dict(
            session.execute(select(Project.id, Project.code).where(Project.id.in_(ids)))
            .tuples()
            .all()
        )
        out = [
            Move(codes[a], codes[b], m.lines, dict(sorted(m.amounts.items())))
            for (a, b), m in self.by_pair.items()
        ]
        return sorted(out, key=lambda m: (m.from_code, m.to_code))


def remap_unmapped(
    ctx: WriteContext,
    writer: LineWriter,
    source: str | None = None,
    refs: Iterable[tuple[str, str, str]] | None = None,
    moves: Moves | None = None,
) -> int:
    """Re-point live lines whose key now resolves elsewhere: every UNMAPPED line, plus the
    lines of `refs` (source, object_type, key) whose mapping changed (or was removed: they go
    where the link rules put them, else back to UNMAPPED with an open `unmapped` entry). The
    caller flushes `writer`. Returns the number of lines re-pointed; `moves` collects them."""
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
        parked: dict[str, list[quarantine.Held]] = defaultdict(list)
        for old in group:
            p = placements[(old["project_ref_type"], old["project_ref"])]
            if not p.mapped and old["project_id"] == UNMAPPED_ID:
                continue
            new = repointed(old, p, auth)
            if all(new[c] == old[c] for c in _PLACEMENT):
                continue
            writer.add(LineChange(old["id"], old, new, "remap"))
            if moves is not None:
                moves.add(old, new)
            if p.mapped:
                resolved[old["stream"]][old["external_id"]] = None
            else:
                parked[old["stream"]].append(_unmapped(old))
            moved += 1
        for stream, stream_keys in resolved.items():
            quarantine.resolve(
                s, src, stream, stream_keys, "remapped", ctx.recorded_at, reasons=("unmapped",)
            )
        for stream, items in parked.items():
            quarantine.hold(s, src, stream, items, run_id=ctx.run_id, now=ctx.recorded_at)
    return moved


def _unmapped(line: dict[str, Any]) -> quarantine.Held:
    """The `unmapped` entry of a line whose mapping went: no record to replay (a mapping, not
    a retry, places it), so no payload."""
    detail = (
        f"no project for {line['project_ref_type']} {line['project_ref']!r} "
        "(its mapping was removed)"
    )
    return quarantine.Held(line["external_id"], "unmapped", detail, None)


def remap(
    session: Session,
    settings: LedgerSettings,
    source: str | None = None,
    run_id: int | None = None,
    refs: Iterable[tuple[str, str, str]] | None = None,
) -> int:
    """Re-point UNMAPPED lines, and the lines of `refs` whose mapping changed, in the caller's
    transaction. Returns the number of lines re-pointed."""
    return _remap(session, settings, source, run_id, refs, None)


def remap_moves(
    session: Session,
    settings: LedgerSettings,
    source: str | None = None,
    refs: Iterable[tuple[str, str, str]] | None = None,
) -> list[Move]:
    """`remap`, saying what moved: lines and amounts per currency, by from and to project."""
    moves = Moves()
    _remap(session, settings, source, None, refs, moves)
    return moves.named(session)


def _remap(
    session: Session,
    settings: LedgerSettings,
    source: str | None,
    run_id: int | None,
    refs: Iterable[tuple[str, str, str]] | None,
    moves: Moves | None,
) -> int:
    ctx = WriteContext(session, settings, source or "", run_id)
    writer = LineWriter(
        session,
        run_id=run_id,
        recorded_at=ctx.recorded_at,
        inline_max=settings.aggregate_inline_max,
    )
    moved = remap_unmapped(ctx, writer, source, refs, moves)
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
