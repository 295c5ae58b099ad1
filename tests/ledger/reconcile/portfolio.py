"""A small portfolio for the rule tests, every figure chosen so the expectations can be
computed by hand (see each test's docstring)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Project, ProjectLink
from pmo_ledger.ledger.reconcile import ReconcileResult, reconcile
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, ProjectRecord
from pmo_ledger.ledger.time.periods import close_period, ensure_periods
from tests.builders import actual, load, settings

NOW = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)
CFG = settings()


def projects(session: Session, *codes: str) -> None:
    records = [
        ProjectRecord(external_id=c, code=c, name=f"Project {c}", portfolio="PF", program="PG")
        for c in codes
    ]
    load(session, records, stream="projects", cfg=CFG, at=NOW)


def link(session: Session, source: str, code: str) -> None:
    """`source`'s project `code` is the ledger project of that code (a manual link)."""
    pid = session.query(Project.id).filter(Project.code == code).scalar()
    session.add(ProjectLink(source=source, object_type="project", external_id=code,
                            project_id=pid, origin="manual", created_at=NOW, updated_at=NOW))  # fmt: skip
    session.commit()


def budget(session: Session, project: str, *lines: tuple[str, str, str]) -> None:
    """The project's current budget: (cost type, period, amount) lines in USD."""
    record = BudgetRecord(
        external_id=f"{project}/CUR",
        project_ref=project,
        kind="current",
        effective_from=date(2025, 1, 1),
        lines=tuple(
            BudgetLineRecord(
                external_id=f"{project}/{ct}/{p}", amount=Decimal(a), currency="USD",
                cost_type=ct, period=p,
            )
            for ct, p, a in lines
        ),
    )  # fmt: skip
    load(session, [record], stream="budgets", cfg=CFG, at=NOW)


def spend(session: Session, key: str, project: str, cost_type: str, day: date, amount: str,
          **kw: Any) -> None:  # fmt: skip
    load(
        session,
        [actual(key, amount, project_ref=project, cost_type=cost_type, posted_on=day, **kw)],
        cfg=CFG,
        at=NOW,
    )


def base_portfolio(session: Session) -> None:
    """P1 budgets labor and travel by period; P2 has one 'total' budget line."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "P1", "P2")
    budget(session, "P1", ("labor", "2025-09", "1000"), ("labor", "2025-10", "1000"),
           ("travel", "2025-10", "500"))  # fmt: skip
    budget(session, "P2", ("total", "2025-10", "5000"))
    spend(session, "A1", "P1", "labor", date(2025, 9, 15), "1500.00")
    spend(session, "A2", "P1", "labor", date(2025, 10, 2), "900.00")
    spend(session, "A3", "P1", "travel", date(2025, 10, 3), "2000.00")
    spend(session, "A4", "P2", "labor", date(2025, 10, 6), "3000.00")
    spend(session, "A5", "P2", "travel", date(2025, 10, 7), "2600.00")
    close_period(session, CFG.calendar.name, "2025-09", NOW)
    session.commit()


def rules(
    overrides: list[dict[str, Any]] | None = None, **by_rule: dict[str, Any]
) -> ReconcileRules:
    """Rules with small amounts so the hand-made figures trip them, and no materiality
    amount for high (the percent decides; `test_materiality` tests the amounts)."""
    base: dict[str, dict[str, Any]] = {
        "budget_overrun": {"amount": 100, "high_amount": 0},
        "burn_rate": {"amount": 100, "high_amount": 0},
        "forecast_overrun": {"high_amount": 0},
        "source_disagreement": {"high_amount": 0},
        "hours_overrun": {"high_hours": 0},
        "over_allocation": {"high_hours": 0},
    }
    for name, knobs in by_rule.items():
        base[name] = {**base.get(name, {}), **knobs}
    return ReconcileRules.model_validate({"rules": base, "overrides": overrides or []})


def run(session: Session, cfg: ReconcileRules | None = None, **kw: Any) -> ReconcileResult:
    kw.setdefault("now", NOW)
    kw.setdefault("keep_findings", True)
    result = reconcile(session, CFG, cfg or rules(), **kw)
    session.commit()
    return result
