"""A reconciliation run: `reconcile(session, settings, rules, ...)` (see the package
docstring). The package itself imports this module only when one of its names is used, so
reading the rules' settings (`ledger.reconcile.settings`, the configuration) loads no
SQLAlchemy."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import structlog
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger import aggregates, staging
from pmo_ledger.ledger.db import local_setting, work_mem
from pmo_ledger.ledger.models import Project
from pmo_ledger.ledger.reconcile.budget_rules import budget_overrun, burn_rate
from pmo_ledger.ledger.reconcile.context import RuleContext, load_projects, period_of
from pmo_ledger.ledger.reconcile.evm_rules import EVM_KEY, evm_rows, forecast_overrun
from pmo_ledger.ledger.reconcile.findings import Finding
from pmo_ledger.ledger.reconcile.quality_rules import data_quality, source_disagreement
from pmo_ledger.ledger.reconcile.release_rules import released_overrun
from pmo_ledger.ledger.reconcile.rendered import Rendered
from pmo_ledger.ledger.reconcile.resource_rules import (
    hours_overrun,
    over_allocation,
    under_utilization,
)
from pmo_ledger.ledger.reconcile.settings import RULES, ReconcileRules
from pmo_ledger.ledger.reconcile.snapshot import figure_markers, write_snapshot
from pmo_ledger.ledger.reconcile.store import (
    Lifecycle,
    apply_staged,
    report_findings,
    stage,
    staged_counts,
    staged_findings,
)
from pmo_ledger.ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)
#: work_mem of the rules on PostgreSQL: their groupings (a few hundred thousand aggregate and
#: budget rows) sort and hash in memory instead of spilling to disk at the default 4MB.
RULES_WORK_MEM = "64MB"

#: A rule: its findings, rendered in SQL, or None (nothing to find: the rule still ran, so its
#: open variances are resolved).
Rule = Callable[[RuleContext], list[Finding] | Rendered | None]
RULE_FUNCTIONS: dict[str, Rule] = {
    "budget_overrun": budget_overrun,
    "forecast_overrun": forecast_overrun,
    "burn_rate": burn_rate,
    "hours_overrun": hours_overrun,
    "over_allocation": over_allocation,
    "under_utilization": under_utilization,
    "source_disagreement": source_disagreement,
    "data_quality": data_quality,
    "released_overrun": released_overrun,
}


@dataclass
class ReconcileResult:
    status_date: date
    period: str
    as_known_at: datetime | None
    lifecycle: Lifecycle | None = None  # None: a read-only report
    rules_run: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # findings per rule
    #: The findings themselves: a report's, or a live run's when asked for (`keep_findings`).
    findings: list[Finding] | None = None

    @property
    def total(self) -> int:
        """How many findings the run made."""
        return sum(self.counts.values())

    def count_by_rule(self) -> dict[str, int]:
        return {rule: self.counts.get(rule, 0) for rule in self.rules_run}


#: The rules a parallel live run computes on the run's own connection while the others run on a
#: second one: the budget rules, whose findings are most of a run's and share one statement.
HERE_RULES = frozenset({"budget_overrun", "burn_rate"})


def _run(ctx: RuleContext, names: list[str]) -> tuple[list[Rendered], list[Finding]]:
    """Run the named rules in order: their rendered SELECTs and their Findings."""
    rendered: list[Rendered] = []
    found: list[Finding] = []
    for name in names:
        start = time.perf_counter()
        out = RULE_FUNCTIONS[name](ctx)
        if isinstance(out, Rendered):
            rendered.append(out)
        elif out is not None:
            found.extend(out)
        log.info(
            "reconcile_rule",
            rule=name,
            findings="in SQL" if isinstance(out, Rendered) else len(out or ()),
            seconds=round(time.perf_counter() - start, 3),
        )
    return rendered, found


def _aside(session: Session) -> Session | None:
    """A second session for the rules other than the budget rules (`HERE_RULES`): PostgreSQL,
    a session bound to an engine, and a READ COMMITTED transaction that has written nothing
    yet (else the second connection would not see what it wrote, e.g. aggregates rebuilt for
    this run, or would read newer data than a REPEATABLE READ snapshot)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return None
    written, isolation = session.execute(
        text("SELECT pg_current_xact_id_if_assigned(), current_setting('transaction_isolation')")
    ).one()
    if written is not None or isolation != "read committed":
        return None
    return Session(bind=bind)


def _run_aside(ctx: RuleContext, names: list[str]) -> tuple[list[Finding], list[bytes]]:
    """`_run` on the second session, read only, closed after: the Findings, and the rows of the
    rendered SELECTs as COPY text for the run's own connection (`staging.copy_out`)."""
    session = ctx.session
    try:
        # No parallel workers: the two connections already keep the cores busy, and workers
        # slowed the run's own connection (its budget statement 0.8 s -> 0.6 s without them).
        with (
            work_mem(session, RULES_WORK_MEM),
            local_setting(session, "max_parallel_workers_per_gather", "0"),
        ):
            rendered, found = _run(ctx, names)
            copied = [b for r in rendered for s in r.selects for b in staging.copy_out(session, s)]
        return found, copied
    finally:
        session.rollback()
        session.close()


def reconcile(
    session: Session,
    settings: LedgerSettings,
    rules: ReconcileRules,
    *,
    now: datetime,
    status_date: date | None = None,
    as_known_at: datetime | None = None,
    project: str | None = None,
    write: bool = True,
    keep_findings: bool = False,
    parallel: bool = True,
) -> ReconcileResult:
    """Run the enabled rules. A live run (no `status_date` in the past, no `as_known_at`, and
    `write`) rebuilds stale aggregates first and writes the variances; otherwise the result is
    a read-only report, with its findings. `keep_findings`: a live run's findings too (reading
    tens of thousands back costs a noticeable part of a run). `parallel`: on PostgreSQL, a live
    run whose transaction has written nothing yet runs the rules other than the budget rules on
    a second connection while this one computes the budget rules (each rule reads committed
    data, as every statement of a READ COMMITTED run does). A live run of the whole portfolio
    also writes the portfolio snapshot (ledger/reconcile/snapshot.py). Raises LookupError for
    an unknown project or a date the calendar has no period for."""
    live = write and as_known_at is None and (status_date is None or status_date >= now.date())
    day = status_date or now.date()
    project_id = None
    if project is not None:
        project_id = session.scalar(select(Project.id).where(Project.code == project))
        if project_id is None:
            raise LookupError(f"no project {project!r}")
    if live:
        for source in aggregates.stale_sources(session):
            aggregates.rebuild(session, source, now=now)
    current, closed = period_of(session, settings.calendar, day)
    ctx = RuleContext(
        session=session,
        settings=settings,
        rules=rules,
        status_date=day,
        period=current,
        last_closed=closed,
        as_known_at=as_known_at,
        project_id=project_id,
        projects=load_projects(session, project_id),
    )
    result = ReconcileResult(day, current, as_known_at)
    result.rules_run = [
        name
        for name in RULES
        if name in RULE_FUNCTIONS and (rules.rule(name).enabled or rules.has_overrides(name))
    ]
    aside = _aside(session) if live and parallel else None
    # Read before any rule reads the ledger: a change committed meanwhile moves them on.
    markers = figure_markers(session) if live and project_id is None else None
    side = ctx
    with work_mem(session, RULES_WORK_MEM), ThreadPoolExecutor(1, "reconcile-rules") as pool:
        later: Future[tuple[list[Finding], list[bytes]]] | None = None
        here = result.rules_run
        if aside is not None:
            # The other rules run on a second connection while this one computes and stages
            # the budget rules: two server processes at work at once.
            others = [n for n in result.rules_run if n not in HERE_RULES]
            here = [n for n in result.rules_run if n in HERE_RULES]
            side = replace(ctx, session=aside, cache={}, _settings={}, _thresholds={})
            later = pool.submit(contextvars.copy_context().run, _run_aside, side, others)
        rendered, found = _run(ctx, here)
        start = time.perf_counter()
        if live:
            stage(session, rendered, found)
            if later is not None:
                found_aside, copied = later.result()
                stage(session, [], found_aside, append=True, copied=copied)
            result.counts = staged_counts(session)
        else:
            result.findings = report_findings(session, rendered, found)
            for f in result.findings:
                result.counts[f.rule] = result.counts.get(f.rule, 0) + 1
        log.info(
            "reconcile_staged" if live else "reconcile_reported",
            findings=result.total,
            seconds=round(time.perf_counter() - start, 3),
        )
        if live:
            if keep_findings:
                result.findings = staged_findings(session)
            start = time.perf_counter()
            # In work_mem too: the transitions join the stage to `variance`.
            result.lifecycle = apply_staged(
                session, result.rules_run, as_known_at=now, now=now, project_code=project
            )
            log.info("reconcile_lifecycle", seconds=round(time.perf_counter() - start, 3))
    if markers is not None:
        start = time.perf_counter()
        figures = side.cache.get(EVM_KEY)  # forecast_overrun's, wherever it ran
        if figures is None:  # the rule did not run
            figures = evm_rows(ctx)
        number = write_snapshot(
            session, settings, status_date=day, period=current, projects=sorted(ctx.projects),
            figures=figures, markers=markers, now=now,
        )  # fmt: skip
        log.info(
            "reconcile_snapshot", snapshot=number, seconds=round(time.perf_counter() - start, 3)
        )
    return result
