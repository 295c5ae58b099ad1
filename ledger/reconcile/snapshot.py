"""The portfolio snapshot (issue 24, item 6): what the dashboard's portfolio page shows of each
project's figures (current budget, counting actual cost, and BAC, PV, EV and AC at the status
date), written by a live reconcile of the whole portfolio in its own transaction, so the first
request after a reconcile reads 2,000 rows instead of computing them (the earned value and
current budgets took seconds).

- The earned value figures are the ones the run's `forecast_overrun` computed (`evm_rows`,
  kept in the rule's context under `evm_rules.EVM_KEY`), not a second computation; the
  current budgets and actual totals are read in the same transaction (`current_budgets`,
  `counting_actuals`).
- `figure_markers` are the ledger's change markers of everything those figures depend on (the
  append-only histories' last ids, the last change of projects, portfolios, programs, links,
  tasks, budget versions and aggregates). The run reads them *before* its rules read the
  ledger: a change committed while the rules run (a sync on another connection) moves them
  past the stored ones, so the snapshot is never taken for true while it misses a change. The
  variance markers are not among them: the page reads open variances itself (one cheap query).
- Writers that commit out of order (PostgreSQL: a batch with ids under another's committing
  after it, an `updated_at` taken before another's) move no last id nor latest time. So the
  markers also count the last `TAIL` ids of each history (`tail_count`) and name the write
  transactions in flight at the read (`in_flight_writers`); `markers_hold` takes stored
  markers as true while the others are equal and every writer in flight then still is.
- A snapshot is true for a page (`valid_snapshot`) when it is the latest, for the page's status
  date, made under the same settings the figures depend on (`settings_key`: the budget
  authority and the fiscal calendar), and the markers read now equal the stored ones.
  Otherwise the page computes the figures as it did before.

A read-only run (a past status date, `as_known_at`) and a `--project` run write none. Each run
that writes one adds a `portfolio_snapshot` row (its `id` numbers the live runs that wrote a
snapshot) and keeps only its own figures' rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Text

from pmo_ledger.ledger.evm import Evm
from pmo_ledger.ledger.models import (
    ActualPeriodTotal,
    AggregateState,
    BudgetEntry,
    BudgetLine,
    BudgetVersion,
    LedgerEntry,
    Portfolio,
    PortfolioSnapshot,
    PortfolioSnapshotRow,
    Program,
    ProgressSnapshot,
    Project,
    ProjectLink,
    Task,
)
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.types import Money, as_decimal

TAIL = 1000
"""How many of an append-only history's last ids `tail_count` covers."""


def tail_count(column: InstrumentedAttribute[int]) -> Any:
    """SQL: how many rows have an id among the `TAIL` below the table's last (a range of its
    primary key index, at most `TAIL` entries): it moves when a row whose id is under the
    last commits after the last, which the last id alone does not show."""
    table = column.class_
    return (
        select(func.count())
        .select_from(table)
        .where(column > select(func.max(column)).scalar_subquery() - TAIL)
        .scalar_subquery()
    )


class in_flight_writers(FunctionElement[str]):
    """SQL: the write transactions in flight when the statement's snapshot was taken, as a
    text of their ids in order (NULL when none): what the statement cannot see yet. On
    PostgreSQL the ids of `pg_current_snapshot()`, but those of transactions of the cluster's
    other databases; on SQLite always NULL (a write transaction holds the database from its
    `BEGIN IMMEDIATE` to its commit, so writes commit in the order they take ids)."""

    type = Text()
    inherit_cache = True


@compiles(in_flight_writers)
def _in_flight_default(element: in_flight_writers, compiler: SQLCompiler, **kw: Any) -> str:
    return "NULL"


@compiles(in_flight_writers, "postgresql")
def _in_flight_pg(element: in_flight_writers, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        "(SELECT string_agg(x::text, ',' ORDER BY x)"
        " FROM pg_snapshot_xip(pg_current_snapshot()) AS x"
        " WHERE mod(x::text::bigint, 4294967296)::text NOT IN ("
        "SELECT a.backend_xid::text FROM pg_stat_activity AS a"
        " WHERE a.backend_xid IS NOT NULL AND a.datname <> current_database()))"
    )


def figure_marker_columns() -> tuple[Any, ...]:
    """SQL: the markers that move whenever a figure of the snapshot could change (see the
    module docstring); also the first part of the page's `portfolio_version`. The last is
    `in_flight_writers` (`markers_hold` compares it apart)."""
    return (
        func.max(LedgerEntry.id), func.max(BudgetEntry.id), func.max(ProgressSnapshot.id),
        tail_count(LedgerEntry.id), tail_count(BudgetEntry.id), tail_count(ProgressSnapshot.id),
        func.max(Project.updated_at), func.count(Project.id), func.max(Portfolio.updated_at),
        func.max(Program.updated_at), func.max(ProjectLink.updated_at),
        func.count(ProjectLink.id), func.max(Task.updated_at),
        func.max(BudgetVersion.updated_at), func.max(AggregateState.rebuilt_at),
        func.max(AggregateState.stale_since), in_flight_writers(),
    )  # fmt: skip


def _plain(value: Any) -> Any:
    """A marker as JSON keeps it: timestamps as ISO text, numbers as int or text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def read_markers(session: Session, *columns: Any) -> Row[Any]:
    """`columns` (aggregates and scalar subqueries) in one SELECT: one snapshot of the
    database, in which `in_flight_writers` names the transactions it does not see. On
    PostgreSQL the session's view of `pg_stat_activity` (kept for the whole transaction) is
    dropped first, so the other databases' writers left out are those of now."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_stat_clear_snapshot()))
    return session.execute(select(*(select(c).scalar_subquery() for c in columns))).one()


def figure_markers(session: Session) -> list[Any]:
    """The figure markers now, as JSON values."""
    return [_plain(v) for v in read_markers(session, *figure_marker_columns())]


def markers_hold(stored: Sequence[Any], now: Sequence[Any]) -> bool:
    """Whether figures read under the `stored` figure markers are still true under those read
    `now`: every marker equal but the last, and every write transaction in flight at the
    stored read still in flight now (one that has ended since may have committed rows the
    stored read could not see and that move no other marker: ids under the last one, a
    timestamp under the latest)."""
    if len(stored) != len(now) or list(stored[:-1]) != list(now[:-1]):
        return False
    then, current = (set((v or "").split(",")) - {""} for v in (stored[-1], now[-1]))
    return then <= current


def settings_key(settings: LedgerSettings) -> str:
    """A digest of the settings the figures depend on: the budget and progress authority and
    the fiscal calendar (a service restarted with others must not show the old figures)."""
    text = json.dumps(
        {
            "authority": settings.authority.model_dump(mode="json"),
            "calendar": settings.calendar.model_dump(mode="json"),
            "base_currency": settings.base_currency,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def current_budgets(session: Session, project_id: int | None = None) -> dict[int, Decimal]:
    """The current budget per project: counting lines of live `current` versions not
    superseded (as `v_project_budget_vs_actual` has it)."""
    bl, bv = BudgetLine, BudgetVersion
    q = (
        select(bl.project_id, type_coerce(func.sum(bl.base_amount), Money()))
        .join(bv, bv.id == bl.version_id)
        .where(
            bl.counts,
            bl.deleted_at.is_(None),
            bv.deleted_at.is_(None),
            bv.kind == "current",
            bv.superseded_at.is_(None),
        )
        .group_by(bl.project_id)
    )
    if project_id is not None:
        q = q.where(bl.project_id == project_id)
    return {pid: as_decimal(total) for pid, total in session.execute(q)}


def counting_actuals(session: Session, project_id: int | None = None) -> dict[int, Decimal]:
    """Each project's (or one project's) counting actual cost, every period, in the base
    currency (aggregates)."""
    apt = ActualPeriodTotal
    q = (
        select(apt.project_id, type_coerce(func.sum(apt.base_amount), Money()))
        .where(apt.counts_amount, apt.kind == "cost")
        .group_by(apt.project_id)
    )
    if project_id is not None:
        q = q.where(apt.project_id == project_id)
    return {pid: as_decimal(total) for pid, total in session.execute(q)}


def write_snapshot(
    session: Session,
    settings: LedgerSettings,
    *,
    status_date: date,
    period: str,
    projects: list[int],
    figures: dict[int, Evm],
    markers: list[Any],
    now: datetime,
) -> int:
    """Store a snapshot of `projects` (the run's live projects) with the run's earned value
    `figures` and the `markers` read before the run's rules; the older snapshots' rows are
    deleted. Returns the snapshot's id. The caller's transaction commits it."""
    budgets = current_budgets(session)
    actuals = counting_actuals(session)
    head = PortfolioSnapshot(
        status_date=status_date,
        period=period,
        computed_at=now,
        markers=markers,
        settings_key=settings_key(settings),
    )
    session.execute(delete(PortfolioSnapshotRow))
    session.add(head)
    session.flush()
    rows = []
    for pid in projects:
        evm = figures.get(pid)
        rows.append(
            {
                "snapshot_id": head.id,
                "project_id": pid,
                "budget": budgets.get(pid, Decimal(0)),
                "actual": actuals.get(pid, Decimal(0)),
                "bac": None if evm is None else evm.bac,
                "pv": None if evm is None else evm.pv,
                "ev": None if evm is None else str(evm.ev),
                "ac": None if evm is None else evm.ac,
            }
        )
    if rows:
        session.execute(insert(PortfolioSnapshotRow), rows)
    return head.id


@dataclass(frozen=True, slots=True)
class SnapshotFigures:
    """One project's figures in a snapshot (`evm` None: no baseline in force)."""

    budget: Decimal
    actual: Decimal
    evm: Evm | None


@dataclass(frozen=True)
class Snapshot:
    """A snapshot still true: its number, status date and period, when it was computed, and
    the figures by project id."""

    id: int
    status_date: date
    period: str
    computed_at: datetime
    figures: dict[int, SnapshotFigures]


def valid_snapshot(
    session: Session,
    settings: LedgerSettings,
    status_date: date,
    markers: Sequence[Any] | None = None,
) -> Snapshot | None:
    """The latest snapshot when it is still true for `status_date` (see the module docstring),
    else None (the caller computes). `markers`: the values of `figure_marker_columns` the
    caller has just read (the page's `portfolio_version` starts with them), else read here."""
    head = session.scalars(
        select(PortfolioSnapshot).order_by(PortfolioSnapshot.id.desc()).limit(1)
    ).first()
    if (
        head is None
        or head.status_date != status_date
        or head.settings_key != settings_key(settings)
        or not markers_hold(
            head.markers,
            figure_markers(session) if markers is None else [_plain(v) for v in markers],
        )
    ):
        return None
    r = PortfolioSnapshotRow
    figures = {
        pid: SnapshotFigures(
            budget,
            actual,
            None if bac is None else Evm(bac=bac, pv=pv, ev=Decimal(ev), ac=ac),
        )
        for pid, budget, actual, bac, pv, ev, ac in session.execute(
            select(r.project_id, r.budget, r.actual, r.bac, r.pv, r.ev, r.ac).where(
                r.snapshot_id == head.id
            )
        )
    }
    if not figures:  # a newer run replaced the rows since the head was read
        return None
    return Snapshot(head.id, head.status_date, head.period, head.computed_at, figures)
