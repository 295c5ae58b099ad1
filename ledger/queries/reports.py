"""The budget report (`pmo-ledger report`, also printed by `demo`): budget vs actual per
project, what waits on UNMAPPED and what does not count because another source is the
authority."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import (
    UNMAPPED_CODE,
    UNMAPPED_ID,
    ActualLine,
    BudgetLine,
    BudgetVersion,
    Project,
)
from pmo_ledger.ledger.queries.mappings import UnmappedKey, unmapped_keys


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


class NotCounted(NamedTuple):
    """Live money lines of one source, kind and cost type that do not count."""

    source: str
    kind: str
    cost_type: str
    lines: int
    base_amount: Decimal


@dataclass(frozen=True)
class BudgetReport:
    """What `report` prints, read in one session."""

    rows: list[BudgetVsActual]
    unmapped: list[UnmappedKey]
    ignored: list[NotCounted]
    #: Project code -> its released budget (base currency), for the projects a source states
    #: one for (SAP's budget release); empty when none does.
    released: dict[str, Decimal] = field(default_factory=dict)


def budget_report(session: Session) -> BudgetReport:
    """Budget vs actual of the mapped projects, the unmapped keys, the lines not counted and
    the released budgets."""
    rows = [r for r in budget_vs_actual(session) if r.project_code != UNMAPPED_CODE]
    return BudgetReport(
        rows, unmapped_keys(session), not_counted(session), released_budgets(session)
    )


def released_budgets(session: Session) -> dict[str, Decimal]:
    """Each project's released budget: the live lines of its live `released` versions (any
    source: only SAP states one), in the base currency. Never part of the budget."""
    bl, bv = BudgetLine, BudgetVersion
    rows = session.execute(
        select(Project.code, func.sum(func.coalesce(bl.base_amount, 0)))
        .join(bv, bv.id == bl.version_id)
        .join(Project, Project.id == bl.project_id)
        .where(bv.kind == "released", bv.deleted_at.is_(None), bl.deleted_at.is_(None),
               Project.id != UNMAPPED_ID)
        .group_by(Project.code)
    ).all()  # fmt: skip
    return {code: Decimal(total or 0) for code, total in rows}


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


def not_counted(session: Session) -> list[NotCounted]:
    """Live money lines on projects that do not count (their source is not the authority for
    the line's measure), by source, kind and cost type, with their base amount."""
    al = ActualLine
    return [
        NotCounted(source, kind, cost_type, lines, total or Decimal(0))
        for source, kind, cost_type, lines, total in session.execute(
            select(al.source, al.kind, al.cost_type, func.count(), func.sum(al.base_amount))
            .where(
                al.deleted_at.is_(None),
                al.project_id != UNMAPPED_ID,
                al.counts_amount.is_(False),
                al.amount.is_not(None),
            )
            .group_by(al.source, al.kind, al.cost_type)
            .order_by(al.source, al.kind, al.cost_type)
        )
    ]
