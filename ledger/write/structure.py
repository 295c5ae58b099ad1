"""Applying ProjectRecords: ledger projects, their portfolios, programs and source links (rule 8).

Only the `projects` authority creates and updates ledger projects: it upserts the portfolio
and program by code, the project by code (or, when its code changed, through the project's
existing link) and the link (source, 'project', external_id) with origin 'authority'. Any
other source only links its projects to existing ones, through an existing link or the
configured link rules; what no rule places waits in quarantine as 'unmapped_project'.
Every write is diffed against the stored row first, so a replay writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine, staging
from pmo_ledger.ledger.currencies import is_currency
from pmo_ledger.ledger.models import (
    UNMAPPED_CODE,
    Portfolio,
    Program,
    Project,
    ProjectLink,
    table_of,
)
from pmo_ledger.ledger.models.structure import CONDITION_LENGTH
from pmo_ledger.ledger.records import ProjectRecord
from pmo_ledger.ledger.resolve import resolve_projects
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.keyed_rows import (
    differs,
    held_item,
    percent_problem,
    q,
    stored_rows,
    update_by_id,
)
from pmo_ledger.ledger.write.progress import Progress, append_progress
from pmo_ledger.ledger.write.record_writer import RecordWriter
from pmo_ledger.ledger.write.stats import ApplyStats

_project: Table = table_of(Project)
_link: Table = table_of(ProjectLink)
_portfolio: Table = table_of(Portfolio)
_program: Table = table_of(Program)
_FIELDS = (
    "name",
    "status",
    "condition",
    "currency",
    "manager",
    "planned_start",
    "planned_finish",
    "actual_start",
    "actual_finish",
    "closed_on",
    "source_url",
)


def validate_project(r: ProjectRecord) -> tuple[str, str] | None:
    """(reason, detail) when a project record cannot be applied, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if not r.code:
        return "missing_code", "the project has no code"
    if r.code == UNMAPPED_CODE:
        return "reserved_code", f"{UNMAPPED_CODE} is the ledger's own project"
    if not r.name:
        return "missing_name", "the project has no name"
    if r.condition is not None and not 0 < len(r.condition) <= CONDITION_LENGTH:
        too = f"is not 1 to {CONDITION_LENGTH} characters"
        return "invalid_condition", f"condition {r.condition!r} {too}"
    if r.currency is not None and not is_currency(r.currency):
        return "unknown_currency", f"unknown currency {r.currency!r}"
    return percent_problem("percent_complete", r.percent_complete)


class ProjectWriter(RecordWriter[ProjectRecord]):
    """Create/update (projects authority) or link (any other source) the batch's projects.

    Deletions by the authority set project.deleted_at; other sources' deletions only close
    their quarantine entries. Held: validation reasons, 'duplicate_code', 'unmapped_project'.
    """

    record_type = ProjectRecord
    table = _project

    def check(
        self, latest: Mapping[str, ProjectRecord], deletions: Sequence[str]
    ) -> dict[str, ProjectRecord]:
        """Valid projects, a code given once: a second project with the same code is held."""
        valid: dict[str, ProjectRecord] = {}
        codes: dict[str, str] = {}
        for key, r in latest.items():
            problem = validate_project(r)
            if problem is None and r.code in codes:
                problem = ("duplicate_code", f"code {r.code!r} is also project {codes[r.code]!r}")
            if problem is not None:
                self.hold(key, *problem, r)
                continue
            valid[key] = r
            codes[r.code] = key
        return valid

    def load(self, valid: Mapping[str, ProjectRecord]) -> dict[str, datetime | None]:
        if self._authority():
            return _upsert_projects(self.ctx, valid, self.stats, self.held)
        return _link_projects(self.ctx, valid, self.stats, self.held)

    def delete(self, deletions: Sequence[str]) -> int:
        return _delete_projects(self.ctx, deletions) if self._authority() else 0

    def _authority(self) -> bool:
        return self.ctx.authority.creates_projects(self.ctx.source)


apply_projects = ProjectWriter.apply


def _upsert_projects(
    ctx: WriteContext,
    valid: Mapping[str, ProjectRecord],
    stats: ApplyStats,
    held: list[quarantine.Held],
) -> dict[str, datetime | None]:
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    portfolios = _upsert_coded(
        s,
        _portfolio,
        {r.portfolio: {"name": r.portfolio_name} for r in valid.values() if r.portfolio},
        now,
    )
    programs = _upsert_coded(
        s,
        _program,
        {
            r.program: {
                "name": r.program_name,
                "portfolio_id": portfolios.get(r.portfolio) if r.portfolio else None,
            }
            for r in valid.values()
            if r.program
        },
        now,
    )
    linked = _linked_projects(s, source, valid)
    by_code = stored_rows(s, _project, "code", (r.code for r in valid.values()))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    changed: list[str] = []
    for key, r in valid.items():
        row: dict[str, Any] = {f: getattr(r, f) for f in _FIELDS}
        row.update(
            code=r.code,
            portfolio_id=portfolios.get(r.portfolio) if r.portfolio else None,
            program_id=programs.get(r.program) if r.program else None,
            percent_complete=q(r.percent_complete),
            source=source,
            external_id=r.external_id,
            deleted_at=None,
        )
        old = linked.get(key) or by_code.get(r.code)
        clash = by_code.get(r.code)
        if old is not None and clash is not None and clash["id"] != old["id"]:
            # The source renamed its project to a code another ledger project already has.
            held.append(held_item(key, "duplicate_code", f"code {r.code!r} is taken", r))
            continue
        if old is None:
            inserts.append({**row, "created_at": now, "updated_at": now})
            changed.append(key)
            continue
        ids[key] = old["id"]
        if differs(old, row):
            updates.append({**row, "updated_at": now, "b_id": old["id"]})
            changed.append(key)
        else:
            stats.unchanged += 1
    if inserts:
        s.execute(insert(_project), inserts)
        fresh = stored_rows(s, _project, "code", (row["code"] for row in inserts))
        ids.update({row["external_id"]: fresh[row["code"]]["id"] for row in inserts})
    update_by_id(s, _project, updates)
    links = _upsert_links(ctx, ids, linked)
    stats.written += len(set(changed) | links)
    append_progress(ctx, _snapshots(valid, {k: ids[k] for k in changed}, now.date()))
    return {k: valid[k].source_modified_at for k in ids}


def _upsert_coded(
    session: Session, table: Table, wanted: Mapping[str, Mapping[str, Any]], now: datetime
) -> dict[str, int]:
    """Upsert portfolios or programs by code; ids by code. A None value keeps what is
    stored (a new row's name defaults to its code)."""
    if not wanted:
        return {}
    stored = stored_rows(session, table, "code", wanted)
    inserts, updates = [], []
    for code, values in wanted.items():
        old = stored.get(code)
        if old is None:
            row = {c: v for c, v in values.items()}
            row["name"] = row.get("name") or code
            inserts.append({**row, "code": code, "created_at": now, "updated_at": now})
            continue
        row = {c: (old[c] if v is None else v) for c, v in values.items()}
        if differs(old, row):
            updates.append({**row, "updated_at": now, "b_id": old["id"]})
    if inserts:
        session.execute(insert(table), inserts)
    update_by_id(session, table, updates)
    if inserts:
        stored = stored_rows(session, table, "code", wanted)
    return {code: row["id"] for code, row in stored.items()}


def _linked_projects(
    session: Session, source: str, valid: Mapping[str, ProjectRecord]
) -> dict[str, dict[str, Any]]:
    """The ledger project each key is already linked to, with the link's project_id."""
    if not valid:
        return {}
    staging.fill(session, staging.stage_key, [{"external_id": k} for k in valid])
    k = staging.stage_key
    rows = session.execute(
        select(_project, _link.c.external_id.label("link_key"))
        .join(_link, _link.c.project_id == _project.c.id)
        .join(k, _link.c.external_id == k.c.external_id)
        .where(_link.c.source == source, _link.c.object_type == "project")
    ).mappings()
    out = {}
    for r in rows:
        row = dict(r)
        out[row.pop("link_key")] = row
    return out


def _upsert_links(
    ctx: WriteContext, ids: Mapping[str, int], linked: Mapping[str, Mapping[str, Any]]
) -> set[str]:
    """Point (source, 'project', key) at each project; returns the keys whose link changed."""
    now = ctx.recorded_at
    rows: list[dict[str, Any]] = [
        {
            "source": ctx.source,
            "object_type": "project",
            "external_id": key,
            "project_id": pid,
            "origin": "authority",
            "created_at": now,
            "updated_at": now,
        }
        for key, pid in ids.items()
        if key not in linked or linked[key]["id"] != pid
    ]
    upsert(
        ctx.session,
        _link,
        rows,
        ["source", "object_type", "external_id"],
        update=["project_id", "origin", "updated_at"],
    )
    return {row["external_id"] for row in rows}


def _delete_projects(ctx: WriteContext, deletions: Sequence[str]) -> int:
    """Mark the authority's deleted projects (found through their links) in one UPDATE;
    rows stay for their history. Returns how many projects it marked."""
    keys = {k for k in deletions if k}
    if not keys:
        return 0
    staging.fill(ctx.session, staging.stage_key, [{"external_id": k} for k in keys])
    linked = (
        select(_link.c.project_id)
        .join(staging.stage_key, _link.c.external_id == staging.stage_key.c.external_id)
        .where(_link.c.source == ctx.source, _link.c.object_type == "project")
    )
    result = ctx.session.execute(
        update(_project)
        .where(_project.c.id.in_(linked), _project.c.deleted_at.is_(None))
        .values(deleted_at=ctx.recorded_at, updated_at=ctx.recorded_at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _link_projects(
    ctx: WriteContext,
    valid: Mapping[str, ProjectRecord],
    stats: ApplyStats,
    held: list[quarantine.Held],
) -> dict[str, datetime | None]:
    """A non-authority source's projects: linked already, linked now by a rule, or held."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    existing = stored_rows(
        s, _link, "external_id", valid, _link.c.source == source, _link.c.object_type == "project"
    )
    placed = {k: row["project_id"] for k, row in existing.items()}
    stats.unchanged += len(placed)
    rest = [k for k in valid if k not in placed]
    placements = resolve_projects(s, ctx.settings, source, {("project", k) for k in rest}, now)
    for key in rest:
        placement = placements[("project", key)]
        if placement.mapped:
            placed[key] = placement.project_id
            stats.written += 1
        else:
            detail = f"no ledger project for {source} project {key!r} ({valid[key].code})"
            held.append(held_item(key, "unmapped_project", detail, valid[key]))
    append_progress(ctx, _snapshots(valid, placed, now.date()))
    return {k: valid[k].source_modified_at for k in placed}


def _snapshots(
    valid: Mapping[str, ProjectRecord], ids: Mapping[str, int], today: date
) -> list[Progress]:
    """Project-level percent complete of these keys (status date defaults to the batch's)."""
    out = []
    for key, pid in ids.items():
        r = valid[key]
        if r.percent_complete is not None:
            out.append(Progress(pid, None, r.status_date or today, r.percent_complete))
    return out
