"""What every rule gets: the session, the settings, the status date and its fiscal period, the
project scope, each project's portfolio and program (for threshold overrides), and the actuals
source: the live aggregates, or the ledger's entries as known at a past time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Text, and_, func, literal, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import (
    ActualPeriodTotal,
    FiscalPeriod,
    LedgerEntry,
    Portfolio,
    Program,
    Project,
    table_of,
)
from pmo_ledger.ledger.reconcile.findings import knobs
from pmo_ledger.ledger.reconcile.rendered import Sql
from pmo_ledger.ledger.reconcile.settings import KNOBS, ReconcileRules, RuleSettings
from pmo_ledger.ledger.settings import CalendarSettings, LedgerSettings
from pmo_ledger.ledger.time.calendar import fiscal_year_of, generate_year

_apt = table_of(ActualPeriodTotal)
_le = table_of(LedgerEntry)


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: int
    code: str
    portfolio: str | None
    program: str | None
    planned_start: date | None
    planned_finish: date | None
    closed_on: date | None


@dataclass
class RuleContext:
    session: Session
    settings: LedgerSettings
    rules: ReconcileRules
    status_date: date
    period: str  # the fiscal period holding status_date ('YYYY-PP')
    last_closed: str | None  # the last closed period on or before it
    as_known_at: datetime | None
    project_id: int | None  # a --project run
    projects: dict[int, ProjectInfo] = field(default_factory=dict)
    #: What several rules read, computed once per run.
    cache: dict[str, Any] = field(default_factory=dict)
    #: Each (rule, project)'s settings and each set of thresholds as stored, made once per run
    #: (tens of thousands of findings share a few).
    _settings: dict[tuple[str, int | None], RuleSettings] = field(default_factory=dict)
    _thresholds: dict[tuple[int, tuple[str, ...]], tuple[RuleSettings, dict[str, Any]]] = field(
        default_factory=dict
    )

    def rule_for(self, name: str, project_id: int) -> RuleSettings:
        """The rule's settings for one project (its overrides applied)."""
        found = self._settings.get((name, project_id))
        if found is None:
            info = self.projects.get(project_id)
            if info is None or not self.rules.has_overrides(name):
                found = self.global_rule(name)
            else:
                found = self.rules.for_subject(
                    name, portfolio=info.portfolio, program=info.program, project=info.code
                )
            self._settings[(name, project_id)] = found
        return found

    def global_rule(self, name: str) -> RuleSettings:
        """The rule's global settings."""
        found = self._settings.get((name, None))
        if found is None:
            found = self._settings[(name, None)] = self.rules.rule(name)
        return found

    def thresholds(self, s: RuleSettings, *names: str) -> dict[str, Any]:
        """`knobs` of the named settings of `s`: one shared dict per settings object (findings
        never change theirs)."""
        key = (id(s), names)
        found = self._thresholds.get(key)
        if found is None or found[0] is not s:  # the object kept: its id is not reused
            found = self._thresholds[key] = (s, knobs(**{n: getattr(s, n) for n in names}))
        return found[1]

    @property
    def sql(self) -> Sql:
        """Money expressions of this session's engine (findings rendered in SQL)."""
        return Sql(self.session.get_bind().dialect.name)

    def project_groups(self, name: str) -> list[tuple[RuleSettings, list[int]]]:
        """The rule's settings and the projects (in scope) they apply to, for `Sql.knob`: the
        groups that overrides make, then the global settings (last, with no project list:
        every other project)."""
        cached: list[tuple[RuleSettings, list[int]]] | None = self.cache.get(f"groups:{name}")
        if cached is not None:
            return cached
        default = self.global_rule(name)
        if not self.rules.has_overrides(name):
            return [(default, [])]

        def key(s: RuleSettings) -> tuple[str, ...]:
            # As written, not as compared: '30' and '30.0' are stored as given.
            return tuple(str(getattr(s, k)) for k in KNOBS)

        groups: dict[tuple[str, ...], tuple[RuleSettings, list[int]]] = {}
        for project_id in sorted(self.projects):
            s = self.rule_for(name, project_id)
            if key(s) != key(default):
                groups.setdefault(key(s), (s, []))[1].append(project_id)
        cached = self.cache[f"groups:{name}"] = [*groups.values(), (default, [])]
        return cached

    def thresholds_text(self, name: str, project_id: Any, *names: str) -> Any:
        """SQL: each project's `thresholds` of the rule as stored (JSON text)."""
        return self.sql.knob(
            self.project_groups(name),
            project_id,
            lambda s: literal(json.dumps(self.thresholds(s, *names)), Text()),
        )

    def min_knob(self, name: str, knob: str) -> Decimal:
        """The smallest value of a threshold over the global setting and its overrides: a
        set-based pre-filter that no project's own threshold can be below."""
        values: list[Decimal] = [getattr(self.rules.rule(name), knob)]
        values += [
            getattr(o, knob)
            for o in self.rules.overrides
            if o.rule in (None, name) and getattr(o, knob, None) is not None
        ]
        return min(values)

    def in_scope(self, column: Any) -> Any:
        return literal(True) if self.project_id is None else column == self.project_id

    def actuals(self) -> Select[Any]:
        """(source, project_id, kind, cost_type, period, counts_amount, counts_hours,
        base_amount, hours): the live aggregates, or entries recorded up to as_known_at."""
        if self.as_known_at is None:
            return select(
                _apt.c.source,
                _apt.c.project_id,
                _apt.c.kind,
                _apt.c.cost_type,
                _apt.c.period,
                _apt.c.counts_amount,
                _apt.c.counts_hours,
                _apt.c.base_amount,
                _apt.c.hours,
            ).where(self.in_scope(_apt.c.project_id))
        dims = (
            _le.c.source,
            _le.c.project_id,
            _le.c.kind,
            _le.c.cost_type,
            _le.c.period,
            _le.c.counts_amount,
            _le.c.counts_hours,
        )
        return (
            select(
                *dims,
                func.sum(func.coalesce(_le.c.base_delta, 0)).label("base_amount"),
                func.sum(func.coalesce(_le.c.hours_delta, 0)).label("hours"),
            )
            .where(and_(_le.c.recorded_at <= self.as_known_at, self.in_scope(_le.c.project_id)))
            .group_by(*dims)
        )


def load_projects(session: Session, project_id: int | None) -> dict[int, ProjectInfo]:
    """Live projects (not merged, not deleted) with their portfolio and program codes."""
    q = (
        select(
            Project.id,
            Project.code,
            Portfolio.code,
            Program.code,
            Project.planned_start,
            Project.planned_finish,
            Project.closed_on,
        )
        .outerjoin(Portfolio, Portfolio.id == Project.portfolio_id)
        .outerjoin(Program, Program.id == Project.program_id)
        .where(Project.merged_into_id.is_(None), Project.deleted_at.is_(None))
    )
    if project_id is not None:
        q = q.where(Project.id == project_id)
    return {r[0]: ProjectInfo(*r) for r in session.execute(q)}


def period_of(session: Session, calendar: CalendarSettings, day: date) -> tuple[str, str | None]:
    """The period holding `day` (from the calendar's settings: a read-only report needs no
    stored period) and the last closed period ending on or before it. Raises LookupError when
    the calendar has no period for the day."""
    current = next(
        (
            p.key
            for p in generate_year(calendar, fiscal_year_of(calendar, day))
            if p.start_on <= day <= p.end_on and not p.special
        ),
        None,
    )
    if current is None:
        raise LookupError(f"the fiscal calendar {calendar.name!r} has no period for {day}")
    fp = FiscalPeriod
    closed = session.scalar(
        select(func.max(fp.period)).where(
            fp.calendar == calendar.name, fp.status == "closed", fp.end_on <= day
        )
    )
    return current, closed
