"""Analyst views of migration 0004, on SQLite and PostgreSQL, with hand-computed figures.

Each view is read with a raw SELECT. On SQLite every `x_e4` integer must equal its TEXT `x`
times 10^4 (the helper checks it); both engines then compare `x` as an exact Decimal.
"""

from __future__ import annotations

import importlib
import sqlite3
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Project, Variance
from pmo_ledger.ledger.records import (
    ActualRecord,
    AllocationRecord,
    BudgetLineRecord,
    BudgetRecord,
    CapacityRecord,
    ProgressRecord,
    ResourceRecord,
    TaskRecord,
)
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import actual, load
from tests.ledger.reconcile.portfolio import CFG, NOW, base_portfolio, projects, spend

D = Decimal


def view(session: Session, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a query as dicts; on SQLite each `x_e4` is checked against `x` and dropped."""
    out = []
    for row in session.execute(text(sql), params).mappings():
        values = dict(row)
        for key in [k for k in values if k.endswith("_e4")]:
            e4, name = values.pop(key), key.removesuffix("_e4")
            if values[name] is None:
                assert e4 is None, key
                continue
            assert isinstance(e4, int) and isinstance(values[name], str), (key, e4, values[name])
            values[name] = Decimal(values[name])
            assert values[name] * 10000 == e4, (key, e4, values[name])
        out.append(values)
    return out


def pick(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(r[n] for n in names) for r in rows]


def link_erp(session: Session, code: str) -> None:
    """Let source 'erp' post to project `code` (it is not an authority: its lines never count)."""
    pid = session.scalar(select(Project.id).where(Project.code == code))
    session.execute(
        text(
            "INSERT INTO project_link (source, object_type, external_id, project_id, origin,"
            " created_at, updated_at) VALUES ('erp', 'project', :c, :p, 'manual', :t, :t)"
        ),
        {"c": code, "p": pid, "t": NOW},
    )
    session.commit()


def post(session: Session, *records: ActualRecord, source: str = "psa") -> None:
    load(session, records, source=source, cfg=CFG, at=NOW)


def extra_lines(session: Session) -> None:
    """On top of base_portfolio: P1 hours and revenue in 2025-11, a deleted line, a
    non-counting erp line, and a EUR line on P2 that waits for a rate."""
    link_erp(session, "P1")
    post(
        session,
        actual("H1", "100.00", project_ref="P1", cost_type="labor", posted_on=date(2025, 11, 5),
               hours=D("7.5"), source_url="https://psa.example/H1"),
        actual("R1", "250.00", project_ref="P1", kind="revenue", posted_on=date(2025, 11, 6)),
        actual("D1", "999.99", project_ref="P1", cost_type="labor", posted_on=date(2025, 11, 7)),
        actual("U1", "100.00", project_ref="P2", cost_type="travel", currency="EUR",
               posted_on=date(2025, 10, 9)),
    )  # fmt: skip
    load(session, [], deletions=["D1"], cfg=CFG, at=NOW)
    post(
        session,
        actual("E9", "700.00", project_ref="P1", cost_type="labor", posted_on=date(2025, 10, 8),
               source_url="https://erp.example/E9"),
        source="erp",
    )  # fmt: skip


# --- budget vs actual ---------------------------------------------------------------------------


def test_budget_vs_actual_by_period_with_cumulative_figures(session: Session) -> None:
    """P1: Sep budget 1,000 / actual 1,500; Oct 1,500 / 2,900 (labor 900 + travel 2,000; erp's
    700 does not count); Nov 0 / 100 with 7.5 h and 250 revenue (the deleted 999.99 is gone).
    Cumulative: 1,000/1,500, 2,500/4,400, 2,500/4,500. P2: Oct 5,000 / 5,600 and the EUR line
    counted as a line waiting for a rate (0 in the sums)."""
    base_portfolio(session)
    extra_lines(session)
    rows = view(
        session,
        "SELECT * FROM v_project_budget_vs_actual_by_period"
        " WHERE project_code IN ('P1', 'P2') ORDER BY project_code, period",
    )
    assert pick(rows, "project_code", "portfolio_code", "program_code", "period") == [
        ("P1", "PF", "PG", "2025-09"),
        ("P1", "PF", "PG", "2025-10"),
        ("P1", "PF", "PG", "2025-11"),
        ("P2", "PF", "PG", "2025-10"),
    ]
    assert pick(rows, "budget", "actual", "variance", "actual_hours", "revenue") == [
        (D("1000"), D("1500"), D("-500"), D("0"), D("0")),
        (D("1500"), D("2900"), D("-1400"), D("0"), D("0")),
        (D("0"), D("100"), D("-100"), D("7.5"), D("250")),
        (D("5000"), D("5600"), D("-600"), D("0"), D("0")),
    ]
    assert pick(rows, "lines", "unconverted_lines") == [(1, 0), (2, 0), (2, 0), (3, 1)]
    assert pick(rows, "cumulative_budget", "cumulative_actual", "cumulative_variance") == [
        (D("1000"), D("1500"), D("-500")),
        (D("2500"), D("4400"), D("-1900")),
        (D("2500"), D("4500"), D("-2000")),
        (D("5000"), D("5600"), D("-600")),
    ]


def test_budget_vs_actual_keeps_its_columns_and_agrees_with_the_last_cumulative_row(
    session: Session,
) -> None:
    """The project view still has 0001's columns and totals: P1 budget 2,500, actual 4,500,
    7.5 h, revenue 250, 5 counting lines; P2 5,600 with one unconverted line."""
    base_portfolio(session)
    extra_lines(session)
    rows = view(session, "SELECT * FROM v_project_budget_vs_actual ORDER BY project_code")
    assert pick(rows, "project_code", "portfolio_code", "program_code", "budget", "actual",
                "variance", "actual_hours", "revenue", "lines", "unconverted_lines") == [
        ("P1", "PF", "PG", D("2500"), D("4500"), D("-2000"), D("7.5"), D("250"), 5, 0),
        ("P2", "PF", "PG", D("5000"), D("5600"), D("-600"), D("0"), D("0"), 3, 1),
        ("UNMAPPED", None, None, D("0"), D("0"), D("0"), D("0"), D("0"), 0, 0),
    ]  # fmt: skip


# --- at CURRENT_DATE: to date and earned value --------------------------------------------------


def database_today(session: Session) -> date:
    """CURRENT_DATE as the database sees it (UTC on SQLite)."""
    value = session.execute(text("SELECT CURRENT_DATE")).scalar_one()
    return value if isinstance(value, date) else date.fromisoformat(value)


def _version(project: str, key: str, kind: Literal["baseline", "current"], effective: date,
             *lines: tuple[str | None, str, str], number: int = 1,
             label: str | None = None) -> BudgetRecord:  # fmt: skip
    """A budget version of (task, period, amount) lines in USD."""
    return BudgetRecord(
        external_id=f"{project}/{key}", project_ref=project, kind=kind,
        effective_from=effective, number=number, label=label,
        lines=tuple(
            BudgetLineRecord(external_id=f"{project}/{key}/{i}", amount=D(a), currency="USD",
                             cost_type="labor", period=p, task_ref=t)
            for i, (t, p, a) in enumerate(lines)
        ),
    )  # fmt: skip


def evm_ledger(session: Session) -> tuple[date, str, str]:
    """Projects E1-E4 around the database's today, every date a whole fiscal year away from
    it so that no figure depends on the day the test runs. Returns (today, last year's and
    next year's fiscal year prefix)."""
    today = database_today(session)
    y = today.year
    ly, ny = f"{y - 1}", f"{y + 1}"
    ensure_periods(session, CFG.calendar, date(y - 1, 1, 1), date(y + 1, 12, 31))
    projects(session, "E1", "E2", "E3", "E4")
    tasks = [TaskRecord(external_id=t, project_ref="E1", name=t) for t in ("T1", "T2", "T3")]
    load(session, tasks, stream="tasks", cfg=CFG, at=NOW)
    versions = [
        _version("E1", "BL", "baseline", date(y - 1, 1, 1),
                 ("T1", f"{ly}-06", "4000"), ("T1", f"{ny}-06", "4000"),
                 ("T2", f"{ly}-03", "2000"), ("T3", f"{ny}-02", "33.33"),
                 (None, f"{ly}-06", "500")),
        _version("E1", "CUR", "current", date(y - 1, 1, 1),
                 (None, f"{ly}-06", "5000"), (None, f"{ny}-01", "2000")),
        _version("E2", "BL1", "baseline", date(y - 1, 1, 1), (None, f"{ly}-02", "1000")),
        _version("E2", "BL2", "baseline", date(y - 1, 6, 1),
                 (None, f"{ly}-07", "3000"), (None, f"{ny}-01", "1000.01"), label="rebaseline"),
        _version("E2", "BL3", "baseline", date(y + 1, 1, 1), (None, f"{ny}-01", "99999"),
                 number=3),
        _version("E3", "A", "baseline", date(y - 1, 3, 1), (None, f"{ly}-03", "100")),
        _version("E3", "B", "baseline", date(y - 1, 3, 1),
                 (None, f"{ly}-03", "123456789012.34"), number=2),
        _version("E4", "BL", "baseline", date(y + 1, 1, 1), (None, f"{ny}-01", "10")),
    ]  # fmt: skip
    load(session, versions, stream="budgets", cfg=CFG, at=NOW)

    def pct(project: str, day: date, percent: str, task: str | None = None) -> ProgressRecord:
        return ProgressRecord(project_ref=project, task_ref=task, status_date=day,
                              percent=D(percent))  # fmt: skip

    load(
        session,
        [
            pct("E1", date(y - 1, 9, 30), "30", "T1"),
            pct("E1", date(y - 1, 12, 15), "40", "T1"),
            pct("E1", date(y + 1, 1, 10), "100", "T1"),
            pct("E1", date(y - 1, 5, 1), "10", "T2"),
            pct("E1", date(y - 1, 7, 1), "33.3333", "T3"),
            pct("E1", date(y - 1, 7, 1), "80"),
            pct("E2", date(y - 1, 8, 1), "25"),
            pct("E2", date(y - 1, 11, 1), "0.5"),
            pct("E2", date(y + 1, 2, 1), "90"),
            pct("E3", date(y - 1, 4, 1), "33.3333"),
        ],
        stream="progress",
        cfg=CFG,
        at=NOW,
    )
    # Same status date, recorded later: the later snapshot is the one in force.
    load(session, [pct("E1", date(y - 1, 12, 15), "50", "T1")], stream="progress", cfg=CFG,
         at=NOW + timedelta(hours=1))  # fmt: skip
    spend(session, "E1-a", "E1", "labor", date(y - 1, 6, 10), "3000.00")
    spend(session, "E1-b", "E1", "labor", date(y - 1, 12, 10), "1500.50")
    spend(session, "E1-c", "E1", "labor", date(y + 1, 3, 10), "700.00")
    spend(session, "E1-r", "E1", "labor", date(y - 1, 6, 11), "999.00", kind="revenue")
    session.commit()
    return today, ly, ny


def test_evm_per_project_at_current_date(session: Session) -> None:
    """E1 (task basis): BAC 8,000 + 2,000 + 33.33 + 500 = 10,533.33; PV 4,000 + 2,000 + 500 =
    6,500; EV 8,000 x 50% (the later of two snapshots on one day; next year's 100% ignored) +
    2,000 x 10% + 33.33 x 33.3333% (11.10998889) = 4,211.10998889 -> 4,211.1100 (the line with
    no task earns nothing, the project's own 80% is not used); AC 3,000 + 1,500.50 (next year's
    700 and the revenue do not count). E2 (project basis): the June baseline is in force (not
    January's, not next year's): BAC 4,000.01, PV 3,000, EV 4,000.01 x 0.5% = 20.00005 ->
    20.0001 (half up). E3: two baselines on one day, number 2 wins: 123,456,789,012.34 x
    33.3333% = 41,152,221,851.85032922 (past 64-bit x10^8 products on SQLite). E4: no baseline
    in force yet, no row."""
    today, ly, _ny = evm_ledger(session)
    rows = view(session, "SELECT * FROM v_project_evm ORDER BY project_code")
    status_period = f"{today.year}-{today.month:02d}"
    assert pick(rows, "project_code", "status_period", "ev_basis", "baseline_label",
                "baseline_number") == [
        ("E1", status_period, "task", None, 1),
        ("E2", status_period, "project", "rebaseline", 1),
        ("E3", status_period, "project", None, 2),
    ]  # fmt: skip
    assert [str(r["status_date"]) for r in rows] == [today.isoformat()] * 3
    assert [str(r["baseline_effective_from"]) for r in rows] == [
        f"{ly}-01-01", f"{ly}-06-01", f"{ly}-03-01",
    ]  # fmt: skip
    assert pick(rows, "bac", "pv", "ev", "ac", "cv", "sv") == [
        (D("10533.33"), D("6500"), D("4211.1100"), D("4500.50"), D("-289.39"), D("-2288.89")),
        (D("4000.01"), D("3000"), D("20.0001"), D("0"), D("20.0001"), D("-2979.9999")),
        (D("123456789012.34"), D("123456789012.34"), D("41152221851.8503"), D("0"),
         D("41152221851.8503"), D("-82304567160.4897")),
    ]  # fmt: skip


def test_budget_vs_actual_to_date_uses_the_status_period(session: Session) -> None:
    """E1's current budget 5,000 last year + 2,000 next year; actual 3,000 + 1,500.50 last
    year + 700 next year: to date 5,000 vs 4,500.50 (variance 499.50)."""
    today, _ly, _ny = evm_ledger(session)
    rows = view(session, "SELECT * FROM v_project_budget_vs_actual WHERE project_code = 'E1'")
    assert pick(rows, "budget", "actual", "status_period", "budget_to_date", "actual_to_date",
                "variance_to_date") == [(
        D("7000"), D("5200.50"), f"{today.year}-{today.month:02d}",
        D("5000"), D("4500.50"), D("499.50"),
    )]  # fmt: skip


# --- resources ----------------------------------------------------------------------------------


def resources(session: Session) -> None:
    """R1: 160 h capacity in Oct, 100 + 40 h allocated on P1 and P2, 8 + 7.5 h booked (a
    deleted 20 h line does not count); 10 h allocated in Nov with no capacity. R2: 150 h
    capacity, 100 h booked, nothing allocated. R3 is deleted."""
    load(session, [ResourceRecord(external_id=r, name=f"Res {r}", role="dev")
                   for r in ("R1", "R2", "R3")], stream="resources", cfg=CFG, at=NOW)  # fmt: skip
    load(
        session,
        [
            CapacityRecord(resource_ref="R1", period="2025-10", hours=D("160")),
            CapacityRecord(resource_ref="R2", period="2025-10", hours=D("150")),
            CapacityRecord(resource_ref="R3", period="2025-10", hours=D("150")),
        ],
        stream="capacity",
        cfg=CFG,
        at=NOW,
    )
    load(
        session,
        [
            AllocationRecord(external_id="AL1", project_ref="P1", period="2025-10",
                             planned_hours=D("100"), resource_ref="R1"),
            AllocationRecord(external_id="AL2", project_ref="P2", period="2025-10",
                             planned_hours=D("40"), resource_ref="R1"),
            AllocationRecord(external_id="AL3", project_ref="P1", period="2025-11",
                             planned_hours=D("10"), resource_ref="R1"),
        ],
        stream="allocations",
        cfg=CFG,
        at=NOW,
    )  # fmt: skip
    post(
        session,
        actual("W1", "800.00", project_ref="P1", cost_type="labor", resource_ref="R1",
               hours=D("8"), posted_on=date(2025, 10, 13), source_url="https://psa.example/W1"),
        actual("W2", "750.00", project_ref="P2", cost_type="labor", resource_ref="R1",
               hours=D("7.5"), posted_on=date(2025, 10, 14)),
        actual("W3", "2000.00", project_ref="P1", cost_type="labor", resource_ref="R1",
               hours=D("20"), posted_on=date(2025, 10, 15)),
        actual("W4", None, project_ref="P1", cost_type="labor", resource_ref="R2",
               hours=D("100"), posted_on=date(2025, 10, 16)),
    )  # fmt: skip
    load(session, [], deletions=["W3"], cfg=CFG, at=NOW)
    load(session, [], deletions=["R3"], stream="resources", deletion_kind="resource", cfg=CFG,
         at=NOW)  # fmt: skip


def test_resource_utilization(session: Session) -> None:
    """R1 Oct: planned 140 / 160 = 87.5%, actual 15.5 / 160 = 9.6875%; Nov: 10 h planned, no
    capacity, no percent. R2 Oct: 100 / 150 = 66.66666... -> 66.6667% (half up), 0% planned."""
    base_portfolio(session)
    resources(session)
    rows = view(
        session, "SELECT * FROM v_resource_utilization ORDER BY resource_external_id, period"
    )
    assert pick(rows, "resource_source", "resource_external_id", "resource_name", "role",
                "period") == [
        ("psa", "R1", "Res R1", "dev", "2025-10"),
        ("psa", "R1", "Res R1", "dev", "2025-11"),
        ("psa", "R2", "Res R2", "dev", "2025-10"),
    ]  # fmt: skip
    assert pick(rows, "capacity_hours", "planned_hours", "actual_hours", "planned_pct",
                "actual_pct") == [
        (D("160"), D("140"), D("15.5"), D("87.5"), D("9.6875")),
        (None, D("10"), D("0"), None, None),
        (D("150"), D("0"), D("100"), D("0"), D("66.6667")),
    ]  # fmt: skip


# --- variances ----------------------------------------------------------------------------------


def variance(session: Session, key: tuple[str, str, str, str, str], status: str,
             severity: str, measures: dict[str, Any] | None = None,
             project: str | None = None) -> int:  # fmt: skip
    """A stored variance row keyed (rule, subject_type, subject_id, dimension, period)."""
    rule, subject_type, subject_id, dimension, period = key
    pid = session.scalar(select(Project.id).where(Project.code == project)) if project else None
    at = NOW
    v = Variance(
        rule=rule, subject_type=subject_type, subject_id=subject_id, dimension=dimension,
        period=period, severity=severity, status=status, measures=measures, as_known_at=at,
        first_seen_at=at, last_seen_at=at, reopened_count=0, project_id=pid,
    )  # fmt: skip
    session.add(v)
    session.flush()
    return v.id


def variances(session: Session) -> dict[str, int]:
    """Six variances over base_portfolio + extra_lines + resources."""
    ids = {
        "labor_oct": variance(session, ("budget_overrun", "project", "P1", "labor", "2025-10"),
                              "open", "medium", project="P1"),
        "labor_to_sep": variance(session, ("budget_overrun", "project", "P1", "labor", ""),
                                 "acknowledged", "high", {"through": "2025-09"}, project="P1"),
        "p2_total": variance(session, ("budget_overrun", "project", "P2", "total", ""),
                             "resolved", "low", {"through": "2025-10"}, project="P2"),
        "travel_all": variance(session, ("budget_overrun", "project", "P1", "travel", ""),
                               "open", "low", None, project="P1"),
        "disagree": variance(session, ("source_disagreement", "project", "P1",
                                       "psa~erp:labor", "2025-10"), "open", "medium",
                             project="P1"),
        "r1_hours": variance(session, ("under_utilization", "resource", "psa/R1", "hours",
                                       "2025-10"), "open", "high"),
    }  # fmt: skip
    session.commit()
    return ids


def test_open_variances_with_project_and_severity_rank(session: Session) -> None:
    """Open and acknowledged only (the resolved P2 one is left out), with the project's code
    and a rank that sorts high before medium before low."""
    base_portfolio(session)
    ids = variances(session)
    rows = view(
        session,
        "SELECT * FROM v_open_variances ORDER BY severity_rank DESC, variance_id",
    )
    assert pick(rows, "variance_id", "rule", "dimension", "period", "severity", "severity_rank",
                "status", "project_code", "project_name", "portfolio_code") == [
        (ids["labor_to_sep"], "budget_overrun", "labor", "", "high", 3, "acknowledged", "P1",
         "Project P1", "PF"),
        (ids["r1_hours"], "under_utilization", "hours", "2025-10", "high", 3, "open", None,
         None, None),
        (ids["labor_oct"], "budget_overrun", "labor", "2025-10", "medium", 2, "open", "P1",
         "Project P1", "PF"),
        (ids["disagree"], "source_disagreement", "psa~erp:labor", "2025-10", "medium", 2,
         "open", "P1", "Project P1", "PF"),
        (ids["travel_all"], "budget_overrun", "travel", "", "low", 1, "open", "P1",
         "Project P1", "PF"),
    ]  # fmt: skip


def test_variance_lines_over_the_key(session: Session) -> None:
    """P1 labor in 2025-10: A2 and W1 (erp's E9 does not count, W3 is deleted, W4 has hours and
    no money); labor to date through 2025-09 (from measures): A1; P2 total through 2025-10:
    every counting cost line of P2 (any cost type, the EUR line with no base amount too);
    travel with no 'through': every period; source_disagreement reads all lines, erp's and
    the pure-hours W4 too;
    R1's hours in 2025-10: W1 and W2 on both projects."""
    base_portfolio(session)
    extra_lines(session)
    resources(session)
    ids = variances(session)
    post(session, actual("A9", "40.00", project_ref="P1", cost_type="travel",
                         posted_on=date(2025, 12, 1)))  # fmt: skip
    rows = view(
        session,
        "SELECT * FROM v_variance_lines ORDER BY variance_id, source, external_id",
    )
    got: dict[int, list[str]] = {}
    for r in rows:
        got.setdefault(r["variance_id"], []).append(f"{r['source']}/{r['external_id']}")
    assert got == {
        ids["labor_oct"]: ["psa/A2", "psa/W1"],
        ids["labor_to_sep"]: ["psa/A1"],
        ids["p2_total"]: ["psa/A4", "psa/A5", "psa/U1", "psa/W2"],
        ids["travel_all"]: ["psa/A3", "psa/A9"],
        ids["disagree"]: ["erp/E9", "psa/A2", "psa/W1", "psa/W4"],
        ids["r1_hours"]: ["psa/W1", "psa/W2"],
    }
    e9 = next(r for r in rows if r["external_id"] == "E9")
    assert (e9["stream"], e9["project_code"], e9["kind"], e9["cost_type"], e9["period"],
            str(e9["posted_on"]), e9["currency"], e9["amount"], e9["base_amount"], e9["hours"],
            bool(e9["counts_amount"]), e9["source_url"], e9["through_period"]) == (
        "actuals", "P1", "cost", "labor", "2025-10", "2025-10-08", "USD", D("700"), D("700"),
        None, False, "https://erp.example/E9", "2025-10",
    )  # fmt: skip
    u1 = next(r for r in rows if r["external_id"] == "U1")
    assert (u1["currency"], u1["amount"], u1["base_amount"], u1["through_period"]) == (
        "EUR", D("100"), None, "2025-10",
    )  # fmt: skip
    w1 = [r for r in rows if r["external_id"] == "W1" and r["variance_id"] == ids["r1_hours"]]
    assert pick(w1, "hours", "base_amount", "source_url", "variance_period") == [
        (D("8"), D("800"), "https://psa.example/W1", "2025-10"),
    ]
    travel = [r for r in rows if r["variance_id"] == ids["travel_all"]]
    assert [r["through_period"] for r in travel] == ["9999-99", "9999-99"]


# --- the exact integer arithmetic the views use --------------------------------------------------

VIEWS_0004 = importlib.import_module("pmo_ledger.migrations.versions.0004_analyst_views")
E6 = 10**6


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(2 * 10**18), 2 * 10**18), st.integers(0, E6)),
        min_size=1,
        max_size=4,
    )
)
def test_sqlite_ev_is_the_exact_product_rounded_half_up(tasks: list[tuple[int, int]]) -> None:
    """EV x10^4 = sum(bac_e4 x pct_e4) / 10^6 rounded half away from zero, for task BACs of any
    sign whose sum stays within 64 bits (as the view's own sum of BAC must): the split products
    and the integer rounding never overflow, where bac_e4 x pct_e4 alone would."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (bac INTEGER, pct INTEGER)")
    db.executemany("INSERT INTO t VALUES (?, ?)", tasks)
    ev = VIEWS_0004._round_e6("e.whole + e.frac / 1000000", "e.frac % 1000000")
    (got, kind), = db.execute(
        f"SELECT {ev}, typeof({ev}) FROM (SELECT sum((bac / 1000000) * pct) AS whole,"
        " sum((bac % 1000000) * pct) AS frac FROM t) e"
    ).fetchall()  # fmt: skip
    exact = sum((Decimal(b) * p for b, p in tasks), Decimal(0)) / E6
    assert kind == "integer"
    assert got == int(exact.quantize(Decimal(1), ROUND_HALF_UP))


@pytest.mark.parametrize(
    "num,den,expected",
    [
        (140, 160, 875000), (1, 3, 333333), (2, 3, 666667), (-2, 3, -666667), (2, -3, -666667),
        (1, 2 * E6, 1), (-1, 2 * E6, -1), (1, 2 * E6 + 1, 0), (0, 5, 0), (7, 0, None),
        (None, 5, None), (7, None, None),
    ],
)  # fmt: skip
def test_percent_is_rounded_half_away_from_zero_on_both_engines(
    engine: Engine, num: int | None, den: int | None, expected: int | None
) -> None:
    """num / den x 100 to 4 places (x10^4), exact in integers: 1/3 -> 33.3333%, a tie at the
    fifth place (1 / 2,000,000) rounds away from zero, no capacity gives NULL."""
    sqlite = engine.dialect.name == "sqlite"
    expr = VIEWS_0004._pct_e4(sqlite, "x.num", "x.den")
    kind = "INTEGER" if sqlite else "numeric"
    with engine.connect() as conn:
        got = conn.execute(
            text(
                f"SELECT {expr} FROM (SELECT CAST(:num AS {kind}) AS num,"
                f" CAST(:den AS {kind}) AS den) x"
            ),
            {"num": num, "den": den},
        ).scalar_one()
    assert (None if got is None else int(got)) == expected
