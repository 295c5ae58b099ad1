"""forecast_overrun: BAC, PV, EV and AC from SQL, the EVM figures to the cent."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, ProgressRecord, TaskRecord
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import load
from tests.ledger.reconcile.portfolio import CFG, NOW, projects, rules, run, spend

D = __import__("decimal").Decimal


def _baseline(session: Session, project: str, *lines: tuple[str | None, str, str]) -> None:
    record = BudgetRecord(
        external_id=f"{project}/BL", project_ref=project, kind="baseline",
        effective_from=date(2025, 1, 1),
        lines=tuple(
            BudgetLineRecord(external_id=f"{project}/{t}/{p}", amount=D(a), currency="USD",
                             cost_type="labor", period=p, task_ref=t)
            for t, p, a in lines
        ),
    )  # fmt: skip
    load(session, [record], stream="budgets", cfg=CFG, at=NOW)


def evm_portfolio(session: Session) -> None:
    """E1: tasks T1 (BAC 8,000 over Sep-Oct) and T2 (2,000 in Nov); T1 50% and T2 10% at the
    status date (later snapshots ignored); AC 6,000 through October (November's 1,000 not).
    E2: no task lines, BAC 5,000 in October, project 40% done, AC 1,000."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "E1", "E2")
    tasks = [TaskRecord(external_id=t, project_ref="E1", name=t) for t in ("T1", "T2")]
    load(session, tasks, stream="tasks", cfg=CFG, at=NOW)
    _baseline(session, "E1", ("T1", "2025-09", "4000"), ("T1", "2025-10", "4000"),
              ("T2", "2025-11", "2000"))  # fmt: skip
    _baseline(session, "E2", (None, "2025-10", "5000"))
    progress = [
        ProgressRecord(project_ref="E1", task_ref="T1", status_date=date(2025, 9, 30), percent=D(30)),
        ProgressRecord(project_ref="E1", task_ref="T1", status_date=date(2025, 10, 15), percent=D(50)),
        ProgressRecord(project_ref="E1", task_ref="T2", status_date=date(2025, 10, 1), percent=D(10)),
        ProgressRecord(project_ref="E1", task_ref="T2", status_date=date(2025, 11, 15), percent=D(90)),
        ProgressRecord(project_ref="E2", status_date=date(2025, 10, 10), percent=D(40)),
    ]  # fmt: skip
    load(session, progress, stream="progress", cfg=CFG, at=NOW)
    spend(session, "E1-9", "E1", "labor", date(2025, 9, 10), "3000.00")
    spend(session, "E1-10", "E1", "labor", date(2025, 10, 10), "3000.00")
    spend(session, "E1-11", "E1", "labor", date(2025, 11, 10), "1000.00")
    spend(session, "E2-10", "E2", "labor", date(2025, 10, 10), "1000.00")
    session.commit()


def test_forecast_overrun_figures_to_the_cent(session: Session) -> None:
    """E1: BAC 10,000, PV 8,000, EV 8,000 x 50% + 2,000 x 10% = 4,200, AC 6,000;
    CV -1,800, SV -3,800, CPI 0.7, SPI 0.525, EAC 10,000 / 0.7 = 14,285.71 (over by 4,285.71,
    42.857%: high), ETC 8,285.71, VAC -4,285.71, TCPI 5,800 / 4,000 = 1.45.
    E2: EV 5,000 x 40% = 2,000, AC 1,000, CPI 2: EAC 2,500, no finding."""
    evm_portfolio(session)
    only = rules(budget_overrun={"enabled": False}, burn_rate={"enabled": False})
    (f,) = [f for f in run(session, only, status_date=date(2025, 10, 20)).findings
            if f.rule == "forecast_overrun"]  # fmt: skip
    assert (f.subject_id, f.dimension, f.period, f.severity) == ("E1", "evm", "", "high")
    assert f.measures == {
        "bac": "10000.00", "pv": "8000.00", "ev": "4200.00", "ac": "6000.00",
        "cv": "-1800.00", "sv": "-3800.00", "cpi": "0.7000", "spi": "0.5250",
        "eac": "14285.71", "etc": "8285.71", "vac": "-4285.71", "tcpi": "1.4500",
        "eac_method": "cpi", "over": "4285.71", "over_pct": "42.8571",
        "through": "2025-10", "status_date": "2025-10-20",
    }  # fmt: skip


def test_the_eac_method_and_thresholds_are_configurable(session: Session) -> None:
    """remaining_at_budget: EAC = 6,000 + (10,000 - 4,200) = 11,800: 18% over (medium); with
    pct 20 for E1 no finding."""
    evm_portfolio(session)
    cfg = rules(budget_overrun={"enabled": False}, burn_rate={"enabled": False},
                forecast_overrun={"eac": "remaining_at_budget"})  # fmt: skip
    (f,) = run(session, cfg, status_date=date(2025, 10, 20)).findings
    assert (f.severity, f.measures["eac"], f.measures["over_pct"]) == (
        "medium", "11800.00", "18.0000",
    )  # fmt: skip
    stricter = rules(
        overrides=[{"project": "E1", "rule": "forecast_overrun", "pct": 20}],
        budget_overrun={"enabled": False}, burn_rate={"enabled": False},
        forecast_overrun={"eac": "remaining_at_budget"},
    )  # fmt: skip
    assert run(session, stricter, status_date=date(2025, 10, 20)).findings == []
