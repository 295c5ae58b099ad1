"""Read-side queries: budget vs actual, totals as known at a time, listings for the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import FxRate, LedgerEntry, Project, Quarantine


@dataclass(frozen=True, slots=True)
class BudgetVsActual:
    project_code: str
    project_name: str
    portfolio: str | None
    program: str | None
    budget: Decimal
    actual: Decimal
    variance: Decimal
    actual_hours: Decimal
    unconverted_lines: int


def budget_vs_actual(session: Session) -> list[BudgetVsActual]:
    """Rows of v_project_budget_vs_actual as Decimals (exact TEXT on SQLite, NUMERIC on PG)."""
    rows = session.execute(
        text(
            "SELECT project_code, project_name, portfolio_code, program_code, budget, actual,"
            " variance, actual_hours, unconverted_lines FROM v_project_budget_vs_actual"
            " ORDER BY project_code"
        )
    ).all()
    return [
        BudgetVsActual(
            r[0],
            r[1],
            r[2],
            r[3],
            Decimal(r[4]),
            Decimal(r[5]),
            Decimal(r[6]),
            Decimal(r[7]),
            int(r[8]),
        )
        for r in rows
    ]


def project_totals_as_known_at(session: Session, at: datetime | None = None) -> dict[str, Decimal]:
    """Counting base amount per project code from the entries recorded at or before `at`."""
    q = (
        select(Project.code, func.coalesce(func.sum(LedgerEntry.base_delta), 0))
        .join(Project, Project.id == LedgerEntry.project_id)
        .where(LedgerEntry.counts_amount.is_(True))
        .group_by(Project.code)
        .order_by(Project.code)
    )
    if at is not None:
        q = q.where(LedgerEntry.recorded_at <= at)
    return {code: Decimal(total) for code, total in session.execute(q)}


def quarantine_entries(
    session: Session,
    *,
    status: str = "open",
    source: str | None = None,
    reason: str | None = None,
    limit: int = 200,
) -> list[Quarantine]:
    """Quarantine entries, newest first."""
    q = select(Quarantine).where(Quarantine.status == status)
    if source:
        q = q.where(Quarantine.source == source)
    if reason:
        q = q.where(Quarantine.reason == reason)
    return list(
        session.scalars(
            q.order_by(Quarantine.last_seen_at.desc(), Quarantine.id.desc()).limit(limit)
        )
    )


def fx_rates(session: Session, currency: str | None = None, limit: int = 200) -> list[FxRate]:
    """Stored rates, newest first, optionally those touching one currency."""
    q = select(FxRate)
    if currency:
        q = q.where((FxRate.from_ccy == currency) | (FxRate.to_ccy == currency))
    return list(session.scalars(q.order_by(FxRate.valid_from.desc(), FxRate.from_ccy).limit(limit)))
