"""budget_overrun and burn_rate on a hand-computed portfolio, and the variance lifecycle."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Project, Variance
from pmo_ledger.ledger.reconcile.store import acknowledge
from tests.ledger.reconcile.portfolio import NOW, base_portfolio, rules, run, spend


def found(result) -> dict[tuple[str, str, str, str], tuple[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    return {
        (f.rule, f.subject_id, f.dimension, f.period): (f.severity, {
            k: f.measures[k] for k in ("actual", "budget", "over", "over_pct")
        })
        for f in result.findings
    }  # fmt: skip


def test_budget_overrun_to_date_and_per_period_and_burn_rate(session: Session) -> None:
    """Status date 2025-10-20 (period 2025-10), rules at 10% and 100.
    P1 labor to date: 1500 + 900 = 2400 vs 1000 + 1000 = 2000 -> 400 over, 20% (medium).
    P1 travel to date: 2000 vs 500 -> 1500 over, 300% (high); the same in 2025-10.
    P1 labor in 2025-09: 1500 vs 1000 -> 500 over, 50% (high); 2025-10 is under budget.
    P2 has a 'total' budget of 5000: labor 3000 + travel 2600 = 5600 -> 600 over, 12%.
    burn_rate on the last closed period 2025-09 (25%, 100): P1 labor 50% (medium, high above
    50%)."""
    base_portfolio(session)
    result = run(session)
    assert found(result) == {
        ("budget_overrun", "P1", "labor", ""): (
            "medium", {"actual": "2400.00", "budget": "2000.00", "over": "400.00", "over_pct": "20.0000"}),
        ("budget_overrun", "P1", "travel", ""): (
            "high", {"actual": "2000.00", "budget": "500.00", "over": "1500.00", "over_pct": "300.0000"}),
        ("budget_overrun", "P1", "labor", "2025-09"): (
            "high", {"actual": "1500.00", "budget": "1000.00", "over": "500.00", "over_pct": "50.0000"}),
        ("budget_overrun", "P1", "travel", "2025-10"): (
            "high", {"actual": "2000.00", "budget": "500.00", "over": "1500.00", "over_pct": "300.0000"}),
        ("budget_overrun", "P2", "total", ""): (
            "medium", {"actual": "5600.00", "budget": "5000.00", "over": "600.00", "over_pct": "12.0000"}),
        ("budget_overrun", "P2", "total", "2025-10"): (
            "medium", {"actual": "5600.00", "budget": "5000.00", "over": "600.00", "over_pct": "12.0000"}),
        ("burn_rate", "P1", "labor", "2025-09"): (
            "medium", {"actual": "1500.00", "budget": "1000.00", "over": "500.00", "over_pct": "50.0000"}),
    }  # fmt: skip
    assert result.lifecycle is not None and result.lifecycle.opened == 7
    # As stored (rendered in SQL): the message, the measures and thresholds as JSON objects.
    v = session.scalars(
        select(Variance).where(Variance.rule == "budget_overrun", Variance.subject_id == "P2",
                               Variance.period == "")
    ).one()  # fmt: skip
    p2 = session.scalar(select(Project.id).where(Project.code == "P2"))
    assert (v.severity, v.status, v.project_id) == ("medium", "open", p2)
    assert v.message == (
        "P2 total: actual cost 5600.00 against a budget of 5000.00 to date: 600.00 over (12.0000%)"
    )
    assert v.measures == {"actual": "5600.00", "budget": "5000.00", "over": "600.00",
                          "over_pct": "12.0000", "through": "2025-10", "last_period": None}  # fmt: skip
    assert v.thresholds == {"pct": "10", "amount": "100", "high_pct": "25", "high_amount": "0"}
    burn = session.scalars(select(Variance).where(Variance.rule == "burn_rate")).one()
    assert burn.message == (
        "P1 labor: spent 1500.00 against a budget of 1000.00 in 2025-09: 500.00 over (50.0000%)"
    )
    assert burn.thresholds == {"pct": "25", "amount": "100", "high_pct": "50", "high_amount": "0"}


def test_an_override_for_a_project_wins_over_the_global_threshold(session: Session) -> None:
    """P2 at 15%: its 12% overrun is no longer a finding; P1 keeps the global 10%. P1 at 19%
    high above 20% (its labor 20% to date turns high, and stores its own thresholds)."""
    base_portfolio(session)
    cfg = rules(overrides=[{"project": "P2", "rule": "budget_overrun", "pct": 15}])
    subjects = {f.subject_id for f in run(session, cfg).findings if f.rule == "budget_overrun"}
    assert subjects == {"P1"}
    cfg = rules(overrides=[{"project": "P2", "rule": "budget_overrun", "pct": 15},
                           {"project": "P1", "rule": "budget_overrun", "pct": "19.99",
                            "high_pct": "19.9999"}])  # fmt: skip
    (labor,) = [f for f in run(session, cfg).findings
                if f.rule == "budget_overrun" and f.dimension == "labor" and not f.period]  # fmt: skip
    assert labor.severity == "high"
    assert labor.thresholds == {"pct": "19.99", "amount": "100", "high_pct": "19.9999",
                                "high_amount": "0"}
    stored = session.scalars(select(Variance).where(Variance.rule == "budget_overrun")).all()
    assert {v.subject_id: v.thresholds["pct"] for v in stored if v.status == "open"} == {"P1": "19.99"}


def test_the_lifecycle_open_unchanged_escalate_resolve_reopen(session: Session) -> None:
    """A re-run changes nothing; more spend escalates an acknowledged variance back to open;
    the overrun gone resolves it; its return reopens it."""
    base_portfolio(session)
    run(session)
    again = run(session, now=NOW + timedelta(hours=1))
    assert again.lifecycle is not None
    assert (again.lifecycle.opened, again.lifecycle.unchanged, again.lifecycle.updated) == (0, 7, 0)

    key = (Variance.rule == "budget_overrun", Variance.subject_id == "P1",
           Variance.dimension == "labor", Variance.period == "")  # fmt: skip
    v = session.scalars(select(Variance).where(*key)).one()
    acknowledge(session, v.id, "known: extra consultant", "pmo", NOW)
    session.commit()
    # P1 labor to date 2400 + 300 = 2700 vs 2000: 35% -> high: escalated, back to open.
    spend(session, "A6", "P1", "labor", date(2025, 10, 9), "300.00")
    escalated = run(session, now=NOW + timedelta(hours=2))
    assert escalated.lifecycle is not None and escalated.lifecycle.escalated >= 1
    session.refresh(v)
    assert (v.status, v.severity, v.note) == ("open", "high", "known: extra consultant")
    assert v.escalated_at is not None and v.measures["over_pct"] == "35.0000"

    # A credit brings labor to date to 2000: resolved.
    spend(session, "A7", "P1", "labor", date(2025, 10, 10), "-700.00")
    resolved = run(session, now=NOW + timedelta(hours=3))
    session.refresh(v)
    assert (v.status, v.resolved_at is not None) == ("resolved", True)
    assert resolved.lifecycle is not None and resolved.lifecycle.resolved >= 1

    spend(session, "A8", "P1", "labor", date(2025, 10, 11), "500.00")
    run(session, now=NOW + timedelta(hours=4))
    session.refresh(v)
    assert (v.status, v.reopened_count, v.resolved_at) == ("open", 1, None)
    assert v.measures["over"] == "500.00"


def test_as_known_at_reports_without_touching_the_variances(session: Session) -> None:
    """A report as known before the travel posting finds no travel overrun and writes nothing."""
    base_portfolio(session)
    report = run(session, as_known_at=NOW - timedelta(days=1))
    assert report.lifecycle is None and report.findings == []
    assert session.scalars(select(Variance)).all() == []


def test_a_project_run_touches_only_that_projects_variances(session: Session) -> None:
    """reconcile --project P2 after P1's and P2's overruns are gone: P2's resolve, P1's stay
    open until a run that covers P1."""
    base_portfolio(session)
    run(session)
    spend(session, "C1", "P1", "labor", date(2025, 10, 12), "-2000.00")
    spend(session, "C2", "P1", "travel", date(2025, 10, 12), "-2000.00")
    spend(session, "C3", "P2", "labor", date(2025, 10, 12), "-2000.00")
    scoped = run(session, project="P2", now=NOW + timedelta(hours=1))
    assert scoped.lifecycle is not None and scoped.lifecycle.resolved == 2
    status = {
        (v.subject_id, v.rule, v.dimension, v.period): v.status
        for v in session.scalars(select(Variance))
    }
    assert {k: s for k, s in status.items() if k[0] == "P2"} == {
        ("P2", "budget_overrun", "total", ""): "resolved",
        ("P2", "budget_overrun", "total", "2025-10"): "resolved",
    }
    assert all(s == "open" for k, s in status.items() if k[0] == "P1")


def test_as_known_at_uses_the_budget_as_it_was_then(session: Session) -> None:
    """P1's October labor budget goes from 1,000 to 2,000 a day later: live, P1 labor to date
    (2,400 vs 3,000) is no overrun; as known an hour after the first load it still is (2,400 vs
    2,000), from the budget entries recorded by then."""
    from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord
    from tests.builders import load
    from tests.ledger.reconcile.portfolio import CFG

    base_portfolio(session)
    raised = BudgetRecord(
        external_id="P1/CUR", project_ref="P1", kind="current", effective_from=date(2025, 1, 1),
        lines=tuple(
            BudgetLineRecord(external_id=f"P1/{ct}/{p}", amount=D(a), currency="USD",
                             cost_type=ct, period=p)
            for ct, p, a in (("labor", "2025-09", "1000"), ("labor", "2025-10", "2000"),
                             ("travel", "2025-10", "500"))
        ),
    )  # fmt: skip
    load(session, [raised], stream="budgets", cfg=CFG, at=NOW + timedelta(days=1))
    later = NOW + timedelta(days=2)
    live = {(f.subject_id, f.dimension, f.period) for f in run(session, now=later).findings
            if f.rule == "budget_overrun"}  # fmt: skip
    assert ("P1", "labor", "") not in live
    then = run(session, now=later, as_known_at=NOW + timedelta(hours=1))
    to_date = [f for f in then.findings
               if (f.rule, f.subject_id, f.dimension, f.period) == ("budget_overrun", "P1", "labor", "")]  # fmt: skip
    assert [(f.measures["actual"], f.measures["budget"]) for f in to_date] == [
        ("2400.00", "2000.00")
    ]


def test_each_project_stores_its_thresholds_as_written(session: Session) -> None:
    """Overrides equal in value but written differently ('30' and '30.0') are stored as each
    project's own, and a run scoped to one project rewrites nothing a full run wrote."""
    base_portfolio(session)
    cfg = rules(overrides=[{"project": "P1", "rule": "budget_overrun", "high_pct": "30"},
                           {"project": "P2", "rule": "budget_overrun", "high_pct": "30.0"}])  # fmt: skip
    run(session, cfg)
    stored = session.scalars(
        select(Variance).where(Variance.rule == "budget_overrun", Variance.period == "")
    ).all()
    assert {(v.subject_id, v.dimension): v.thresholds["high_pct"] for v in stored} == {
        ("P1", "labor"): "30", ("P1", "travel"): "30", ("P2", "total"): "30.0"}  # fmt: skip
    scoped = run(session, cfg, project="P2").lifecycle
    full = run(session, cfg).lifecycle
    assert scoped is not None and full is not None
    assert (scoped.updated, scoped.unchanged, full.updated, full.unchanged) == (0, 2, 0, 7)


def test_a_report_reads_only(session: Session) -> None:
    """A report writes nothing, not even a TEMP table: it runs in a read-only transaction
    (a PostgreSQL standby) and finds what a live run would."""
    base_portfolio(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET TRANSACTION READ ONLY"))
    else:
        session.execute(text("PRAGMA query_only = ON"))
    try:
        report = run(session, status_date=date(2025, 10, 20), write=False)
    finally:
        session.rollback()
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("PRAGMA query_only = OFF"))
    assert report.lifecycle is None
    assert report.count_by_rule()["budget_overrun"] == 6
    assert [(f.subject_id, f.dimension, f.period) for f in report.findings or []
            if f.rule == "budget_overrun"] == [
        ("P1", "labor", ""), ("P1", "labor", "2025-09"), ("P1", "travel", ""),
        ("P1", "travel", "2025-10"), ("P2", "total", ""), ("P2", "total", "2025-10")]  # fmt: skip
    (burn,) = [f for f in report.findings or [] if f.rule == "burn_rate"]
    assert burn.measures["over_pct"] == "50.0000" and burn.thresholds["high_pct"] == "50"
