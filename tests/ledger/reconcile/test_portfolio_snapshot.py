"""The portfolio snapshot (issue 24, item 6): a live reconcile stores, per project, the figures
the portfolio page shows; the page reads them while they are true (same status date, the
ledger unchanged since) and computes them otherwise. Figures by hand: see `_ledger`."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import LedgerEntry, PortfolioSnapshot, PortfolioSnapshotRow, Project
from pmo_ledger.ledger.queries import dashboard
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.reconcile.snapshot import figure_marker_columns
from pmo_ledger.ledger.records import ProgressRecord
from tests.builders import actual, leave_ids_free, load
from tests.ledger.reconcile.portfolio import CFG, NOW, budget, projects, rules, run, spend
from tests.ledger.reconcile.test_evm_rule import _baseline, evm_portfolio

D = Decimal
DAY = NOW.date()  # 2025-10-20: the live run's status date


def _ledger(session: Session) -> None:
    """E1 and E2 of `evm_portfolio` (E1: BAC 10,000, PV 8,000, EV 4,200, AC 6,000, actual 7,000
    with November's; E2: BAC 5,000, PV 5,000, EV 2,000, AC 1,000); E1's current budget 9,000.50;
    E3: BAC 1,000.01 in October, 33.3333% done: EV 1,000.01 x 33.3333 / 100 = 333.33633333
    (more places than a money column keeps), no actuals; E4: no baseline, no figures."""
    evm_portfolio(session)
    budget(session, "E1", ("labor", "2025-10", "9000.50"))
    projects(session, "E3", "E4")
    _baseline(session, "E3", (None, "2025-10", "1000.01"))
    load(session, [ProgressRecord(project_ref="E3", status_date=date(2025, 10, 1),
                                  percent=D("33.3333"))], stream="progress", cfg=CFG, at=NOW)  # fmt: skip
    session.commit()


def _figures(data: dashboard.PortfolioData) -> dict[str, tuple[object, ...]]:
    return {
        r.code: (r.budget, r.actual, *((r.evm.bac, r.evm.pv, r.evm.ev, r.evm.ac) if r.evm else ()),
                 r.eac_method, r.forecast)
        for r in data.rows
    }  # fmt: skip


def _page(session: Session, cfg: ReconcileRules, day: date = DAY) -> dashboard.PortfolioData:
    return dashboard.portfolio(session, CFG, cfg, day)


def _computed(session: Session, cfg: ReconcileRules, day: date = DAY) -> dashboard.PortfolioData:
    """The page as it computes without a snapshot."""
    session.query(PortfolioSnapshotRow).delete()
    try:
        return _page(session, cfg, day)
    finally:
        session.rollback()


def test_the_snapshot_holds_the_figures_the_page_computes_exactly(session: Session) -> None:
    """After a live reconcile the page reads the snapshot: the hand-computed figures, to the
    last Decimal place, equal to what the page computes without it."""
    _ledger(session)
    cfg = rules()
    run(session, cfg)
    (snap,) = session.scalars(select(PortfolioSnapshot)).all()
    assert (snap.status_date, snap.period, snap.computed_at) == (DAY, "2025-10", NOW)
    stored = {
        code: (r.budget, r.actual, r.bac, r.pv, None if r.ev is None else D(r.ev), r.ac)
        for code, r in session.execute(
            select(Project.code, PortfolioSnapshotRow).join(
                PortfolioSnapshotRow, PortfolioSnapshotRow.project_id == Project.id
            )
        ).tuples()
    }
    assert stored["E1"] == (D("9000.50"), D("7000.00"), D(10000), D(8000), D(4200), D(6000))
    assert stored["E3"] == (D(0), D(0), D("1000.01"), D("1000.01"), D("333.33633333"), D(0))
    assert stored["E4"] == (D(0), D(0), None, None, None, None)
    data = _page(session, cfg)
    assert (data.snapshot_id, data.figures_at, data.status_period) == (snap.id, NOW, "2025-10")
    figures = _figures(data)
    assert figures == {
        "E1": (D("9000.50"), D(7000), D(10000), D(8000), D(4200), D(6000), "cpi",
               D(10000) / (D(4200) / D(6000))),
        "E2": (D(0), D(1000), D(5000), D(5000), D(2000), D(1000), "cpi", D(2500)),
        "E3": (D(0), D(0), D("1000.01"), D("1000.01"), D("333.33633333"), D(0), "cpi", None),
        "E4": (D(0), D(0), "cpi", None),
    }  # fmt: skip
    computed = _computed(session, cfg)
    assert computed.snapshot_id is None
    assert _figures(computed) == figures


def test_the_eac_method_applies_to_snapshot_figures_at_read(session: Session) -> None:
    """The snapshot keeps BAC, PV, EV and AC; the page applies the EAC method it is configured
    with: remaining_at_budget, E1 6,000 + 10,000 - 4,200 = 11,800 (the snapshot was taken
    under cpi)."""
    _ledger(session)
    run(session, rules())
    cfg = rules(forecast_overrun={"eac": "remaining_at_budget"})
    data = _page(session, cfg)
    assert data.snapshot_id is not None
    e1 = next(r for r in data.rows if r.code == "E1")
    assert (e1.eac_method, e1.forecast) == ("remaining_at_budget", D(11800))
    assert data.eac_methods == {"remaining_at_budget"}
    assert _figures(_computed(session, cfg)) == _figures(data)


def test_a_sync_after_the_reconcile_makes_the_page_compute(session: Session) -> None:
    """500.00 more on E2 in October after the reconcile: the snapshot is no longer true; the
    page computes and shows actual 1,500 and AC 1,500."""
    _ledger(session)
    cfg = rules()
    run(session, cfg)
    spend(session, "E2-10b", "E2", "labor", date(2025, 10, 12), "500.00")
    session.commit()
    data = _page(session, cfg)
    assert data.snapshot_id is None
    e2 = next(r for r in data.rows if r.code == "E2")
    assert e2.actual == D(1500)
    assert e2.evm is not None and e2.evm.ac == D(1500)
    run(session, cfg)  # the next reconcile's snapshot has it
    again = _page(session, cfg)
    assert again.snapshot_id is not None and again.snapshot_id > 0
    assert _figures(again) == _figures(data)


def test_a_status_date_other_than_the_snapshots_computes(session: Session) -> None:
    """The snapshot is at 2025-10-20; the page at 2025-11-03 (period 2025-11) computes: E1's
    PV takes T2's November 2,000 and AC November's 1,000."""
    _ledger(session)
    cfg = rules()
    run(session, cfg)
    data = _page(session, cfg, date(2025, 11, 3))
    assert (data.snapshot_id, data.status_period) == (None, "2025-11")
    e1 = next(r for r in data.rows if r.code == "E1")
    assert e1.evm is not None and (e1.evm.pv, e1.evm.ac) == (D(10000), D(7000))


def test_read_only_and_project_runs_write_no_snapshot(session: Session) -> None:
    """A past status date, an as-known-at report and a --project run store nothing."""
    _ledger(session)
    cfg = rules()
    run(session, cfg, status_date=DAY - timedelta(days=1))
    run(session, cfg, as_known_at=NOW)
    run(session, cfg, project="E1")
    assert session.scalar(select(func.count()).select_from(PortfolioSnapshot)) == 0
    assert session.scalar(select(func.count()).select_from(PortfolioSnapshotRow)) == 0
    assert _page(session, cfg).snapshot_id is None


def test_a_new_snapshot_replaces_the_rows_of_the_last(session: Session) -> None:
    """Two live runs: two numbered snapshots, the rows of the second only."""
    _ledger(session)
    run(session, rules())
    run(session, rules())
    ids = session.scalars(select(PortfolioSnapshot.id).order_by(PortfolioSnapshot.id)).all()
    assert len(ids) == 2
    kept = session.scalars(select(PortfolioSnapshotRow.snapshot_id).distinct()).all()
    assert kept == [ids[1]]
    assert _page(session, rules()).snapshot_id == ids[1]


def test_the_markers_the_caller_read_decide(session: Session) -> None:
    """The page passes the `portfolio_version` it keyed its rows by: read after the reconcile,
    the snapshot; read after a sync that followed it, the computed figures (actual 1,500)."""
    _ledger(session)
    cfg = rules()
    run(session, cfg)
    version = dashboard.portfolio_version(session)
    assert dashboard.portfolio(session, CFG, cfg, DAY, version).snapshot_id is not None
    spend(session, "E2-10b", "E2", "labor", date(2025, 10, 12), "500.00")
    session.commit()
    data = dashboard.portfolio(session, CFG, cfg, DAY, dashboard.portfolio_version(session))
    assert data.snapshot_id is None
    assert next(r.actual for r in data.rows if r.code == "E2") == D(1500)


def test_a_batch_committed_late_under_the_last_id_makes_the_page_compute(
    session: Session,
) -> None:
    """Ids 1..n, then a batch with ids n+50 commits first and the reconcile snapshots (last id
    n+50); the batch that took ids under it (500.00 on E2) commits after: the last id has not
    moved, the rows under it have: the snapshot is not true, the page shows E2's 1,500."""
    _ledger(session)
    top = leave_ids_free(session)
    cfg = rules()
    run(session, cfg)
    assert _page(session, cfg).snapshot_id is not None
    spend(session, "E2-10b", "E2", "labor", date(2025, 10, 12), "500.00")
    session.execute(update(LedgerEntry).where(LedgerEntry.id > top).values(id=LedgerEntry.id - 40))
    session.commit()
    assert session.scalar(select(func.max(LedgerEntry.id))) == top
    version = dashboard.portfolio_version(session)
    data = dashboard.portfolio(session, CFG, cfg, DAY, version)
    assert data.snapshot_id is None
    e2 = next(r for r in data.rows if r.code == "E2")
    assert (e2.actual, e2.evm.ac if e2.evm else None) == (D(1500), D(1500))


@pytest.mark.postgres
def test_a_writer_in_flight_at_the_reconcile_commits_after_it(pg: Engine) -> None:
    """Two connections on PostgreSQL: a sync batch (500.00 on E2) takes its ids and stays
    open; another (100.00 on E1) takes later ids and commits; the reconcile snapshots (its
    markers see the second batch's last id); then the first commits. No marker of the
    ledger moved, but a writer in flight at the snapshot's read has ended: the page computes
    E2's 1,500 (and E1's 7,100) and the page's version differs from the one read before."""
    with Session(pg) as session:
        _ledger(session)
        cfg = rules()
        with Session(pg) as early:
            late = actual("E2-10b", "500.00", project_ref="E2", cost_type="labor",
                          posted_on=date(2025, 10, 12))  # fmt: skip
            load(early, [late], cfg=CFG, at=NOW, commit=False)
            spend(session, "E1-10c", "E1", "labor", date(2025, 10, 13), "100.00")
            session.commit()
            run(session, cfg)
            before = dashboard.portfolio_version(session)
            session.commit()
            assert _page(session, cfg).snapshot_id is not None
            session.commit()
            early.commit()
        assert dashboard.portfolio_version(session) != before
        data = _page(session, cfg)
        assert data.snapshot_id is None
        actuals = {r.code: r.actual for r in data.rows}
        assert (actuals["E1"], actuals["E2"]) == (D(7100), D(1500))


@pytest.mark.postgres
def test_a_timestamp_under_the_latest_committed_late_is_seen(pg: Engine) -> None:
    """A change whose `updated_at` was taken before another's commits after it (the latest
    `updated_at` does not move, no id moves): the writer was in flight when the reconcile
    read its markers, so the snapshot is not true once it has committed."""
    with Session(pg) as session:
        _ledger(session)
        cfg = rules()
        at = session.scalar(select(func.max(Project.updated_at)))
        assert at is not None
        with Session(pg) as early:
            e4 = early.scalars(select(Project).where(Project.code == "E4")).one()
            e4.name, e4.updated_at = "E4 renamed", at + timedelta(seconds=1)
            early.flush()
            e3 = session.scalars(select(Project).where(Project.code == "E3")).one()
            e3.updated_at = at + timedelta(seconds=2)
            session.commit()
            run(session, cfg)
            before = dashboard.portfolio_version(session)
            assert _page(session, cfg).snapshot_id is not None
            session.commit()
            early.commit()
        data = _page(session, cfg)
        assert data.snapshot_id is None
        assert next(r.name for r in data.rows if r.code == "E4") == "E4 renamed"
        after = dashboard.portfolio_version(session)
        writers = len(figure_marker_columns()) - 1  # only the writers in flight moved
        assert [v for i, v in enumerate(after) if i != writers] == [
            v for i, v in enumerate(before) if i != writers
        ]
        assert before[writers] is not None and after[writers] != before[writers]
