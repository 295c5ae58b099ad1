"""v_project_evm with two sources sending baselines and progress, as in forecast_overrun: the
baseline in force is the budget authority's (rule 8, migration 0008), the percent complete the
project's own source's when it sent one, else the latest of any source (migration 0018).
SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.models import ProgressSnapshot, Project, Task
from pmo_ledger.ledger.records import ProgressRecord, TaskRecord
from pmo_ledger.ledger.settings import LedgerSettings
from tests.builders import actual, load
from tests.ledger.reconcile.portfolio import CFG, NOW, link, projects
from tests.ledger.reconcile.test_evm_authority import (
    baseline,
    budget_on_erp_for_e1,
    two_sources,
)
from tests.migrations.test_analyst_views import _version, database_today, pick, view

REVISION = importlib.import_module("pmo_ledger.migrations.versions.0018_evm_progress_authority")


def evm_rows(
    session: Session, cfg: LedgerSettings, psa_from: int, erp_from: int
) -> list[tuple[Any, ...]]:
    """The view's rows after `two_sources` a year before the database's today (every figure
    is then to date, whatever the day the test runs), with each baseline's source."""
    year = database_today(session).year - 1
    two_sources(session, cfg, psa_from, erp_from, year=year)
    session.commit()
    return read_evm(session)


def read_evm(session: Session) -> list[tuple[Any, ...]]:
    """(project, baseline source, baseline date, EV basis, BAC, PV, EV, AC, CV, SV) rows."""
    rows = view(
        session,
        "SELECT e.*, bv.source AS baseline_source FROM v_project_evm e"
        " JOIN budget_version bv ON bv.id = e.baseline_id ORDER BY e.project_code",
    )
    for r in rows:
        r["baseline_effective_from"] = str(r["baseline_effective_from"])
    return pick(rows, "project_code", "baseline_source", "baseline_effective_from", "ev_basis",
                "bac", "pv", "ev", "ac", "cv", "sv")  # fmt: skip


def test_the_view_takes_the_budget_authority_baseline(session: Session) -> None:
    """psa is the budget authority, erp's baselines (June) the newer: E1 on psa's March
    baseline, BAC 10,000 (all of it past: PV 10,000), EV 40% = 4,000, AC 5,000, CV -1,000,
    SV -6,000; E2 BAC 5,000, EV 2,500, AC 1,000, CV 1,500, SV -2,500."""
    year = database_today(session).year - 1
    assert evm_rows(session, CFG, psa_from=3, erp_from=6) == [
        ("E1", "psa", f"{year}-03-01", "project", D("10000"), D("10000"), D("4000"),
         D("5000"), D("-1000"), D("-6000")),
        ("E2", "psa", f"{year}-03-01", "project", D("5000"), D("5000"), D("2500"), D("1000"),
         D("1500"), D("-2500")),
    ]  # fmt: skip


def test_a_project_override_takes_the_other_sources_baseline_in_the_view(
    session: Session,
) -> None:
    """erp is E1's budget authority, psa's baselines (June) the newer: E1 on erp's March
    baseline, BAC 11,000, EV 4,400, AC 5,000, CV -600, SV -6,600; E2 on psa's."""
    year = database_today(session).year - 1
    assert evm_rows(session, budget_on_erp_for_e1(), psa_from=6, erp_from=3) == [
        ("E1", "erp", f"{year}-03-01", "project", D("11000"), D("11000"), D("4400"),
         D("5000"), D("-600"), D("-6600")),
        ("E2", "psa", f"{year}-06-01", "project", D("5000"), D("5000"), D("2500"), D("1000"),
         D("1500"), D("-2500")),
    ]  # fmt: skip


def test_the_downgrade_restores_0004s_view_and_the_upgrade_this_one(
    engine: Engine, session: Session
) -> None:
    """Down to 0007, v_project_evm is 0004's again (the latest baseline of any source: erp's,
    whose lines do not count, so BAC, PV and EV are 0); up again, the authority's. The data
    is untouched either way."""
    year = database_today(session).year - 1
    erp_e1 = ("E1", "erp", f"{year}-06-01", "project", D(0), D(0), D(0), D(5000), D(-5000),
              D(0))  # fmt: skip
    psa_e1 = ("E1", "psa", f"{year}-03-01", "project", D(10000), D(10000), D(4000), D(5000),
              D(-1000), D(-6000))  # fmt: skip
    assert evm_rows(session, CFG, psa_from=3, erp_from=6)[0] == psa_e1
    session.close()
    try:
        migrate.downgrade(engine, "0007")
        assert read_evm(session)[0] == erp_e1
        session.close()
    finally:
        migrate.upgrade(engine)
    assert read_evm(session)[0] == psa_e1


def test_the_views_ev_takes_the_projects_authoritys_progress_as_reconcile_does(
    session: Session,
) -> None:
    """psa (the projects authority, which created E1) says E1 is 40% done on Oct 1; erp says
    100% on Oct 15. Reconcile's EV stays on psa's 40% (tests/ledger/reconcile/
    test_evm_authority.py, `test_progress_comes_from_the_project_authority_...`): 4,000 of
    BAC 10,000, SV -6,000; the view must say the same, not erp's 10,000."""
    erp_says_e1_is_done(session, database_today(session).year - 1)
    e1 = read_evm(session)[0]
    assert (e1[0], e1[6], e1[8], e1[9]) == ("E1", D("4000"), D("-1000"), D("-6000"))


def erp_says_e1_is_done(session: Session, year: int) -> None:
    """`two_sources` (psa: E1 40% on Oct 1), then erp: E1 100% on Oct 15."""
    two_sources(session, CFG, 3, 6, year=year)
    done = ProgressRecord(project_ref="E1", status_date=date(year, 10, 15), percent=D("100"))
    load(session, [done], source="erp", stream="progress", cfg=CFG, at=NOW)
    session.commit()


def test_the_views_ev_takes_another_sources_progress_where_the_project_source_sends_none(
    session: Session,
) -> None:
    """E3, created by psa, has progress from erp only (30% on Oct 1): the view takes it, as
    reconcile does (`test_progress_of_another_source_counts_where_the_authority_sends_none`):
    BAC 10,000, PV 10,000, EV 3,000, AC 6,000, CV -3,000, SV -7,000. E1 and E2 keep psa's."""
    year = database_today(session).year - 1
    two_sources(session, CFG, 3, 6, year=year)
    projects(session, "E3")
    link(session, "erp", "E3")
    bl = baseline("psa", "E3", date(year, 3, 1), (f"{year}-10", "10000"))
    load(session, [bl], stream="budgets", cfg=CFG, at=NOW)
    pct = ProgressRecord(project_ref="E3", status_date=date(year, 10, 1), percent=D("30"))
    load(session, [pct], source="erp", stream="progress", cfg=CFG, at=NOW)
    spend = actual("E3-a", "6000.00", project_ref="E3", cost_type="labor",
                   posted_on=date(year, 10, 10))  # fmt: skip
    load(session, [spend], cfg=CFG, at=NOW)
    session.commit()
    assert [(r[0], *r[4:]) for r in read_evm(session)] == [
        ("E1", D("10000"), D("10000"), D("4000"), D("5000"), D("-1000"), D("-6000")),
        ("E2", D("5000"), D("5000"), D("2500"), D("1000"), D("1500"), D("-2500")),
        ("E3", D("10000"), D("10000"), D("3000"), D("6000"), D("-3000"), D("-7000")),
    ]  # fmt: skip


def test_a_tasks_percent_comes_from_the_project_source_first(session: Session) -> None:
    """E4 (psa) has a task baseline: T1 8,000, T2 2,000. psa says T1 is 25% done on Oct 1 and
    erp 90% on Oct 20; on T2 only erp, 50%. EV = 8,000 x 25% + 2,000 x 50% = 3,000 (erp's
    newer 90% on T1 would give 8,200)."""
    year = database_today(session).year - 1
    two_sources(session, CFG, 3, 6, year=year)
    projects(session, "E4")
    tasks = [TaskRecord(external_id=t, project_ref="E4", name=t) for t in ("T1", "T2")]
    load(session, tasks, stream="tasks", cfg=CFG, at=NOW)
    bl = _version("E4", "BL", "baseline", date(year, 3, 1),
                  ("T1", f"{year}-09", "8000"), ("T2", f"{year}-10", "2000"))  # fmt: skip
    load(session, [bl], stream="budgets", cfg=CFG, at=NOW)
    psa = ProgressRecord(project_ref="E4", task_ref="T1", status_date=date(year, 10, 1),
                         percent=D("25"))  # fmt: skip
    load(session, [psa], stream="progress", cfg=CFG, at=NOW)
    e4 = session.scalar(select(Project.id).where(Project.code == "E4"))
    task = {t.external_id: t.id for t in session.scalars(select(Task).where(Task.project_id == e4))}
    session.add_all(
        ProgressSnapshot(project_id=e4, task_id=task[t], status_date=date(year, 10, 20),
                         percent=D(p), source="erp", recorded_at=NOW + timedelta(hours=1))
        for t, p in (("T1", "90"), ("T2", "50"))
    )  # fmt: skip
    session.commit()
    rows = [r for r in read_evm(session) if r[0] == "E4"]
    assert rows == [
        ("E4", "psa", f"{year}-03-01", "task", D("10000"), D("10000"), D("3000"), D("0"),
         D("3000"), D("-7000")),
    ]  # fmt: skip


def test_the_downgrade_restores_0008s_progress_ranking_and_the_upgrade_this_one(
    engine: Engine, session: Session
) -> None:
    """Down to the previous revision, the view takes the latest progress of any source again
    (erp's 100%: E1's EV 10,000, CV 5,000, SV 0) and keeps the budget authority's baseline;
    up again, psa's 40% (EV 4,000). The data is untouched either way."""
    year = database_today(session).year - 1
    erp_say_so = ("E1", "psa", f"{year}-03-01", "project", D(10000), D(10000), D(10000),
                  D(5000), D(5000), D(0))  # fmt: skip
    psa_say_so = ("E1", "psa", f"{year}-03-01", "project", D(10000), D(10000), D(4000),
                  D(5000), D(-1000), D(-6000))  # fmt: skip
    erp_says_e1_is_done(session, year)
    assert read_evm(session)[0] == psa_say_so
    session.close()
    try:
        migrate.downgrade(engine, REVISION.down_revision)
        assert migrate.current(engine) == REVISION.down_revision
        assert read_evm(session)[0] == erp_say_so
        session.close()
    finally:
        migrate.upgrade(engine)
    assert migrate.at_head(engine)
    assert read_evm(session)[0] == psa_say_so
