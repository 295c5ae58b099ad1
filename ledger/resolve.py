"""Which ledger project, task and resource a source's keys mean, and which source counts.

Project keys resolve through `project_link`, then `cost_object_map`, then the configured
link rules (a regex over the key giving a project code; a match is stored as a `rule` link);
what stays unresolved goes to the built-in UNMAPPED project (rule 5). Lookups are one
set-based query per batch over the staged keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, literal, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    CostObjectMap,
    Portfolio,
    Program,
    Project,
    ProjectLink,
    Resource,
    Task,
    table_of,
)
from pmo_ledger.ledger.settings import AuthoritySettings, LedgerSettings, LinkRule
from pmo_ledger.ledger.upsert import upsert

Ref = tuple[str, str]  # (object_type, external_id)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a project key lands: project, and from a cost object map maybe a task/cost type."""

    project_id: int
    task_id: int | None = None
    cost_type: str | None = None

    @property
    def mapped(self) -> bool:
        return self.project_id != UNMAPPED_ID


UNMAPPED = Placement(UNMAPPED_ID)


def rule_project_code(rule: LinkRule, source: str, ref: Ref) -> str | None:
    """The project code `rule` gives for `ref` of `source`, or None when it does not apply."""
    if rule.source not in ("*", source) or rule.object_type not in ("*", ref[0]):
        return None
    match = re.fullmatch(rule.pattern, ref[1])
    if match is None:
        return None
    named = {k: v for k, v in match.groupdict().items() if v is not None}
    try:
        return rule.project.format(match.group(0), *match.groups(), **named)
    except (IndexError, KeyError) as exc:
        raise ValueError(
            f"link rule {rule.pattern!r}: template {rule.project!r} names {exc}"
        ) from None


def resolve_projects(
    session: Session, settings: LedgerSettings, source: str, refs: Iterable[Ref], now: datetime
) -> dict[Ref, Placement]:
    """Placement of every (object_type, key) of `source`; UNMAPPED where nothing applies."""
    wanted = set(refs)
    if not wanted:
        return {}
    staging.fill(session, staging.stage_key, [{"ref_type": t, "ref": r} for t, r in wanted])
    k = staging.stage_key
    links = select(
        k.c.ref_type,
        k.c.ref,
        ProjectLink.project_id,
        literal(None).label("task_id"),
        literal(None).label("cost_type"),
    ).join(
        ProjectLink,
        and_(
            ProjectLink.source == source,
            ProjectLink.object_type == k.c.ref_type,
            ProjectLink.external_id == k.c.ref,
        ),
    )
    maps = select(
        k.c.ref_type,
        k.c.ref,
        CostObjectMap.project_id,
        CostObjectMap.task_id,
        CostObjectMap.cost_type,
    ).join(
        CostObjectMap,
        and_(
            CostObjectMap.source == source,
            CostObjectMap.object_type == k.c.ref_type,
            CostObjectMap.external_id == k.c.ref,
        ),
    )
    found: dict[Ref, Placement] = {}
    for query in (maps, links):  # a project link wins over a cost object map of the same key
        for ref_type, ref, project_id, task_id, cost_type in session.execute(query):
            found[(ref_type, ref)] = Placement(project_id, task_id, cost_type)
    missing = [r for r in wanted if r not in found]
    if missing and settings.link_rules:
        found.update(_apply_rules(session, settings.link_rules, source, missing, now))
    return {r: found.get(r, UNMAPPED) for r in wanted}


def _apply_rules(
    session: Session, rules: list[LinkRule], source: str, refs: list[Ref], now: datetime
) -> dict[Ref, Placement]:
    codes: dict[Ref, str] = {}
    for ref in refs:
        for rule in rules:
            code = rule_project_code(rule, source, ref)
            if code is not None:
                codes[ref] = code
                break
    if not codes:
        return {}
    ids = dict(
        session.execute(
            select(Project.code, Project.id).where(
                Project.code.in_(set(codes.values())), Project.merged_into_id.is_(None)
            )
        )
        .tuples()
        .all()
    )
    placed = {ref: Placement(ids[code]) for ref, code in codes.items() if code in ids}
    upsert(
        session,
        table_of(ProjectLink),
        [
            {
                "source": source,
                "object_type": ref[0],
                "external_id": ref[1],
                "project_id": p.project_id,
                "origin": "rule",
                "created_at": now,
                "updated_at": now,
            }
            for ref, p in placed.items()
        ],
        ["source", "object_type", "external_id"],
        update=[],
    )
    return placed


def resolve_keys(session: Session, source: str, kind: str, keys: Iterable[str]) -> dict[str, int]:
    """Ids of the `task`s or `resource`s of `source` with these external ids."""
    wanted = {k for k in keys if k}
    if not wanted:
        return {}
    models: dict[str, type[Task] | type[Resource]] = {"task": Task, "resource": Resource}
    model = models[kind]
    staging.fill(session, staging.stage_key, [{"external_id": k} for k in wanted])
    k = staging.stage_key
    rows = session.execute(
        select(model.external_id, model.id).join(
            k, and_(model.source == source, model.external_id == k.c.external_id)
        )
    )
    return {ext: id_ for ext, id_ in rows}


class Authority:
    """The source that counts for a measure on a project (rule 8); most specific scope wins.

    A measure with no authority configured counts from every source (one-connector ledgers).
    """

    def __init__(self, settings: LedgerSettings) -> None:
        self.settings = settings
        self.auth: AuthoritySettings = settings.authority
        self.labor = set(settings.labor_cost_types)
        self._scopes: dict[int, dict[str, str | None]] = {}
        #: `counts` by (source, measure, project): a batch asks it twice a line, of few
        #: projects. Emptied when a scope is loaded (an override may then apply).
        self._counts: dict[tuple[str, str, int], bool] = {}

    def load_scopes(self, session: Session, project_ids: Iterable[int]) -> None:
        """Portfolio, program and project codes of these projects (for overrides)."""
        if not self.auth.overrides:
            return
        wanted = set(project_ids) - set(self._scopes)
        if not wanted:
            return
        rows = session.execute(
            select(Project.id, Project.code, Program.code, Portfolio.code)
            .outerjoin(Program, Program.id == Project.program_id)
            .outerjoin(Portfolio, Portfolio.id == Project.portfolio_id)
            .where(Project.id.in_(wanted))
        )
        for pid, code, program, portfolio in rows:
            self._scopes[pid] = {"project": code, "program": program, "portfolio": portfolio}
            self._counts.clear()

    def source_for(self, measure: str, project_id: int) -> str | None:
        """The authority for `measure` on `project_id`, or None when any source counts."""
        scope = self._scopes.get(project_id)
        if scope is not None:
            for level in ("project", "program", "portfolio"):
                for override in self.auth.overrides:
                    kind, value = override.scope
                    if kind == level and scope[level] == value and getattr(override, measure):
                        return str(getattr(override, measure))
        value = getattr(self.auth, measure)
        return None if value is None else str(value)

    def money_measure(self, kind: str, cost_type: str) -> str:
        """revenue for revenue lines, labor for labor cost types, else expense."""
        if kind == "revenue":
            return "revenue"
        return "labor" if cost_type in self.labor else "expense"

    def counts(self, source: str, measure: str, project_id: int) -> bool:
        """Does `source`'s value of `measure` count on this project? Never on UNMAPPED."""
        key = (source, measure, project_id)
        known = self._counts.get(key)
        if known is not None:
            return known
        if project_id == UNMAPPED_ID:
            counted = False
        else:
            owner = self.source_for(measure, project_id)
            counted = owner is None or owner == source
        self._counts[key] = counted
        return counted

    def creates_projects(self, source: str) -> bool:
        """Only the `projects` authority creates ledger projects."""
        return self.auth.projects is None or self.auth.projects == source
