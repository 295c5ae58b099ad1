"""Findings a PMO can act on (issue 18, item 4): high only when material by amount and by
percent together, a period with no budget is not high, consecutive periods over budget are one
finding with its periods, and the lifecycle follows that finding as its run of periods grows.
Default thresholds: budget_overrun pct 10, amount 1000, high_pct 25, high_amount 10000."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Variance
from pmo_ledger.ledger.reconcile.settings import ReconcileRules, RuleSettings
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.ledger.reconcile.portfolio import CFG, NOW, budget, projects, run, spend

DEFAULTS = ReconcileRules()


def _portfolio(session: Session) -> None:
    """Status period 2025-10.
    P1 labor: budget 10,000 a month 2025-06..10; actual 10,000, 30,000, 14,000, 10,000, 12,000:
      07 and 08 over (20,000 at 200%, 4,000 at 40%): one finding 07..08, 44,000 vs 20,000,
      24,000 over (120%): high; 10 alone, 2,000 over (20%): medium; to date 76,000 vs 50,000,
      26,000 over (52%): high.
    P1 travel: no budget, 15,000 in 08: that period medium, to date (no budget at all) high.
    P2 labor: 230,000 vs 200,000 in 10: 30,000 over but 15%: medium.
    P3 labor: 5,000 vs 1,000 in 10: 400% but 4,000: medium.
    P4 labor: budget 50,000 in 10 only, actual 30,000 in 09 and 20,000 in 10: the budget is
      phased later than the spend; 09 has no budget (30,000): medium; to date nothing."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "P1", "P2", "P3", "P4")
    budget(session, "P1", *(("labor", f"2025-{m:02}", "10000") for m in range(6, 11)))
    budget(session, "P2", ("labor", "2025-10", "200000"))
    budget(session, "P3", ("labor", "2025-10", "1000"))
    budget(session, "P4", ("labor", "2025-10", "50000"))
    for i, (month, amount) in enumerate(
        ((6, "10000"), (7, "30000"), (8, "14000"), (9, "10000"), (10, "12000"))
    ):
        spend(session, f"L{i}", "P1", "labor", date(2025, month, 10), amount)
    spend(session, "T1", "P1", "travel", date(2025, 8, 12), "15000")
    spend(session, "Q1", "P2", "labor", date(2025, 10, 6), "230000")
    spend(session, "R1", "P3", "labor", date(2025, 10, 6), "5000")
    spend(session, "S1", "P4", "labor", date(2025, 9, 6), "30000")
    spend(session, "S2", "P4", "labor", date(2025, 10, 6), "20000")
    session.commit()


def _found(result) -> dict[tuple[str, str, str], tuple[str, str, str, str | None, str | None]]:  # type: ignore[no-untyped-def]
    return {
        (f.subject_id, f.dimension, f.period): (
            f.severity, f.measures["actual"], f.measures["budget"], f.measures["over_pct"],
            f.measures["last_period"],
        )
        for f in result.findings
        if f.rule == "budget_overrun"
    }  # fmt: skip


def test_high_needs_amount_and_percent_and_consecutive_periods_are_one(session: Session) -> None:
    _portfolio(session)
    result = run(session, DEFAULTS)
    assert _found(result) == {
        ("P1", "labor", ""): ("high", "76000.00", "50000.00", "52.0000", None),
        ("P1", "labor", "2025-07"): ("high", "44000.00", "20000.00", "120.0000", "2025-08"),
        ("P1", "labor", "2025-10"): ("medium", "12000.00", "10000.00", "20.0000", "2025-10"),
        ("P1", "travel", ""): ("high", "15000.00", "0.00", None, None),
        ("P1", "travel", "2025-08"): ("medium", "15000.00", "0.00", None, "2025-08"),
        ("P2", "labor", ""): ("medium", "230000.00", "200000.00", "15.0000", None),
        ("P2", "labor", "2025-10"): ("medium", "230000.00", "200000.00", "15.0000", "2025-10"),
        ("P3", "labor", ""): ("medium", "5000.00", "1000.00", "400.0000", None),
        ("P3", "labor", "2025-10"): ("medium", "5000.00", "1000.00", "400.0000", "2025-10"),
        ("P4", "labor", "2025-09"): ("medium", "30000.00", "0.00", None, "2025-09"),
    }
    merged = session.scalars(
        select(Variance).where(Variance.subject_id == "P1", Variance.period == "2025-07")
    ).one()
    assert merged.message == (
        "P1 labor: actual cost 44000.00 against a budget of 20000.00 in 2025-07..2025-08 "
        "(2 periods): 24000.00 over (120.0000%)"
    )
    assert merged.thresholds == {"pct": "10", "amount": "1000", "high_pct": "25",
                                 "high_amount": "10000"}  # fmt: skip


def test_a_run_of_periods_that_grows_keeps_its_variance(session: Session) -> None:
    """09 goes over too (15,000 vs 10,000): 07..10 are one run, 71,000 vs 40,000. The variance
    keyed by its first period (07) is updated, not opened again; the one of 10 alone is
    resolved. An acknowledgement stays with it."""
    _portfolio(session)
    run(session, DEFAULTS)
    key = (Variance.subject_id == "P1", Variance.dimension == "labor",
           Variance.period == "2025-07")  # fmt: skip
    v = session.scalars(select(Variance).where(*key)).one()
    v.status, v.note = "acknowledged", "vendor invoices early"
    session.commit()
    spend(session, "L9", "P1", "labor", date(2025, 9, 20), "5000")
    again = run(session, DEFAULTS, now=NOW + timedelta(hours=1))
    assert again.lifecycle is not None
    assert (again.lifecycle.opened, again.lifecycle.resolved) == (0, 1)
    session.refresh(v)
    assert (v.status, v.severity, v.note) == ("acknowledged", "high", "vendor invoices early")
    assert (v.measures["actual"], v.measures["budget"], v.measures["last_period"]) == (
        "71000.00",
        "40000.00",
        "2025-10",
    )
    assert v.message is not None and "in 2025-07..2025-10 (4 periods)" in v.message
    alone = session.scalars(
        select(Variance).where(Variance.subject_id == "P1", Variance.period == "2025-10")
    ).one()
    assert alone.status == "resolved"


def test_an_override_lowers_the_materiality_amount_for_one_project(session: Session) -> None:
    _portfolio(session)
    cfg = ReconcileRules.model_validate(
        {"overrides": [{"project": "P3", "rule": "budget_overrun", "high_amount": "4000"}]}
    )
    found = _found(run(session, cfg))
    assert found[("P3", "labor", "")][0] == "high"
    assert found[("P2", "labor", "")][0] == "medium"


def test_severity_of_the_rules_built_in_python() -> None:
    """forecast_overrun (amount) and the hours rules (hours) use the same materiality."""
    s = RuleSettings()
    assert (s.high_pct, s.high_amount, s.high_hours) == (D(25), D(10000), D(80))
    assert s.severity(D(30), amount=D(10000)) == "high"
    assert s.severity(D(30), amount=D("9999.99")) == "medium"
    assert s.severity(D(25), amount=D(50000)) == "medium"
    assert s.severity(D(300), hours=D(79)) == "medium"
    assert s.severity(None, hours=D(80)) == "high"  # nothing planned, 80 h booked
    assert s.severity(None, hours=D(8)) == "medium"
