"""v_project_evm (migration 0008) with two sources sending baselines: the baseline in force is
the budget authority's (rule 8), as in forecast_overrun. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.records import ProgressRecord
from pmo_ledger.ledger.settings import LedgerSettings
from tests.builders import load
from tests.ledger.reconcile.portfolio import CFG, NOW
from tests.ledger.reconcile.test_evm_authority import budget_on_erp_for_e1, two_sources
from tests.migrations.test_analyst_views import database_today, pick, view


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


@pytest.mark.xfail(
    strict=True,
    reason="v_project_evm ranks progress_snapshot by date across every source; reconcile "
    "(ledger.reconcile.evm_rules._latest_percent) ranks the projects authority's first. "
    "Needs a view change (a migration): order the ranking by `ps.source = project.source` "
    "first, as the report of branch leftovers writes out for both engines.",
)
def test_the_views_ev_takes_the_projects_authoritys_progress_as_reconcile_does(
    session: Session,
) -> None:
    """psa (the projects authority, which created E1) says E1 is 40% done on Oct 1; erp says
    100% on Oct 15. Reconcile's EV stays on psa's 40% (tests/ledger/reconcile/
    test_evm_authority.py, `test_progress_comes_from_the_project_authority_...`): 4,000 of
    BAC 10,000, SV -6,000; the view must say the same, not erp's 10,000."""
    year = database_today(session).year - 1
    two_sources(session, CFG, 3, 6, year=year)
    done = ProgressRecord(project_ref="E1", status_date=date(year, 10, 15), percent=D("100"))
    load(session, [done], source="erp", stream="progress", cfg=CFG, at=NOW)
    session.commit()
    e1 = read_evm(session)[0]
    assert (e1[0], e1[6], e1[8], e1[9]) == ("E1", D("4000"), D("-1000"), D("-6000"))
