"""The variance history (`variance_event`, migration 0015): one event per transition, written
by the live reconcile that made it and by acknowledge, with the run's time; none for a finding
found again unchanged or whose figures alone moved, none from a read-only run. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Variance, VarianceEvent
from pmo_ledger.ledger.reconcile.store import acknowledge
from tests.ledger.reconcile.portfolio import NOW, base_portfolio, rules, run, spend
from tests.ledger.reconcile.test_runs import DISAGREE, _acknowledged_run, _again, _erp_later_in_may

H = timedelta(hours=1)
P1_LABOR = (Variance.rule == "budget_overrun", Variance.subject_id == "P1",
            Variance.dimension == "labor", Variance.period == "")  # fmt: skip


def history(session: Session, variance_id: int) -> list[tuple[object, ...]]:
    """(event, at, severity, status, by, note, run) of a variance, in writing order."""
    e = VarianceEvent
    return [
        tuple(r)
        for r in session.execute(
            select(e.event, e.at, e.severity, e.status, e.acknowledged_by, e.note,
                   e.reconcile_run_id)
            .where(e.variance_id == variance_id)
            .order_by(e.id)
        )
    ]  # fmt: skip


def events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(VarianceEvent)) or 0)


def test_each_transition_is_one_dated_event(session: Session) -> None:
    """P1 labor to date against 2,000: opened at 2,400 (run 1, 20%: medium); an unchanged
    re-run writes nothing; acknowledged; 2,700 (35%: high) escalates it back to open (run 2);
    2,500 (25%: medium) lowers it (`updated`, run 3); 2,000 resolves it (run 4); 2,500 reopens
    it (run 5), then an unchanged run writes nothing. Each event has the time of its run or
    acknowledgement and the severity and status after it."""
    base_portfolio(session)
    run(session)
    opened = events(session)
    v = session.scalars(select(Variance).where(*P1_LABOR)).one()
    assert opened == session.scalar(select(func.count()).select_from(Variance)) == 7
    run(session, now=NOW + H)
    assert events(session) == opened  # nothing changed: nothing written
    acknowledge(session, v.id, "known: extra consultant", "pmo", NOW + 2 * H)
    session.commit()
    for hour, (key, amount) in enumerate(
        (("A6", "300.00"), ("A7", "-200.00"), ("A8", "-500.00"), ("A9", "500.00"), (None, "")),
        start=3,
    ):
        if key is not None:
            spend(session, key, "P1", "labor", date(2025, 10, hour), amount)
        run(session, now=NOW + hour * H)
    session.refresh(v)
    assert (v.status, v.severity, v.reopened_count) == ("open", "medium", 1)
    assert history(session, v.id) == [
        ("opened", NOW, "medium", "open", None, None, 1),
        ("acknowledged", NOW + 2 * H, "medium", "acknowledged", "pmo",
         "known: extra consultant", None),
        ("escalated", NOW + 3 * H, "high", "open", None, None, 2),
        ("updated", NOW + 4 * H, "medium", "open", None, None, 3),
        ("resolved", NOW + 5 * H, "medium", "resolved", None, None, 4),
        ("reopened", NOW + 6 * H, "medium", "open", None, None, 5),
    ]  # fmt: skip
    assert events(session) == opened + 5


def test_figures_that_move_alone_write_no_event(session: Session) -> None:
    """P1 labor over budget by more, still medium (2,400 -> 2,450 vs 2,000): the variance is
    updated (its figures), and no event is written for it or for any unchanged finding."""
    base_portfolio(session)
    run(session)
    before = events(session)
    spend(session, "A6", "P1", "labor", date(2025, 10, 9), "50.00")
    again = run(session, now=NOW + H)
    assert again.lifecycle is not None and again.lifecycle.updated >= 1
    v = session.scalars(select(Variance).where(*P1_LABOR)).one()
    assert (v.severity, v.measures["over"] if v.measures else None) == ("medium", "450.00")
    assert events(session) == before


def test_read_only_runs_write_no_event(session: Session) -> None:
    """A report at a past status date and one as known at a past time, after the overruns
    have gone and come back in the ledger: no event, no variance change."""
    base_portfolio(session)
    run(session)
    before = events(session)
    spend(session, "C1", "P1", "labor", date(2025, 10, 12), "-2000.00")
    run(session, status_date=date(2025, 9, 30), now=NOW + H)
    run(session, as_known_at=NOW - timedelta(days=1), now=NOW + 2 * H)
    assert events(session) == before
    assert session.scalars(select(Variance).where(*P1_LABOR)).one().status == "open"


def test_a_carried_acknowledgement_is_an_event_on_both_variances(session: Session) -> None:
    """The acknowledged run 06..08 loses 06: 07..08 (new) is opened, then takes the
    acknowledgement (`carried`, from the old id, by ana); 06..08 is resolved, then `carried`
    to the new id. Both in the second run."""
    old = _acknowledged_run(session)
    spend(session, "S6b", "P1", "labor", date(2025, 6, 9), "300")
    session.commit()
    _again(session)
    new = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-07")).one()
    later = NOW + timedelta(days=1)
    assert history(session, new.id) == [
        ("opened", later, "high", "open", None, None, 2),
        ("carried", later, "high", "acknowledged", "ana", f"from variance {old.id}", 2),
    ]
    assert history(session, old.id) == [
        ("opened", NOW, "high", "open", None, None, 1),
        ("acknowledged", NOW, "high", "acknowledged", "ana", "erp books labor a month late",
         None),
        ("resolved", later, "high", "resolved", None, None, 2),
        ("carried", later, "high", "resolved", "ana", f"to variance {new.id}", 2),
    ]  # fmt: skip


def test_a_worse_successor_is_carried_and_escalated(session: Session) -> None:
    """06..08 medium and acknowledged; 05 alone (medium, open since the first run) becomes
    05..08, high: escalated by the lifecycle, then it takes the acknowledgement over (`carried`,
    still open: worse than what it continues), one escalation only."""
    old = _acknowledged_run(session, high_amount="1200")
    _erp_later_in_may(session)
    _again(session, high_amount="1200")
    new = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-05")).one()
    later = NOW + timedelta(days=1)
    assert history(session, new.id) == [
        ("opened", NOW, "medium", "open", None, None, 1),  # 05 alone, in the first run
        ("escalated", later, "high", "open", None, None, 2),
        ("carried", later, "high", "open", "ana", f"from variance {old.id}", 2),
    ]


def test_an_unchanged_portfolio_writes_no_event_however_many_findings(session: Session) -> None:
    """The budget rule with a tiny amount and pct finds every cost type of both projects; a
    second and third run over the same ledger write nothing."""
    base_portfolio(session)
    cfg = rules(budget_overrun={"amount": 1, "pct": "0.01"})
    first = run(session, cfg)
    written = events(session)
    assert first.lifecycle is not None and written == first.lifecycle.opened > 0
    run(session, cfg, now=NOW + H)
    run(session, cfg, now=NOW + 2 * H)
    assert events(session) == written
