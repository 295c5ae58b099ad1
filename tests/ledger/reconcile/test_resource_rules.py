"""hours_overrun, over_allocation and under_utilization on hand-made hours."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from pmo_ledger.ledger.records import AllocationRecord, CapacityRecord, ResourceRecord
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import load
from tests.ledger.reconcile.portfolio import CFG, NOW, link, projects, rules, run, spend

D = Decimal


def hours_portfolio(session: Session) -> None:
    """R1: 160 h capacity in Sep, Oct, Nov; planned P1 100 h in Sep and Oct, 50 h in Nov,
    P2 80 h in Oct; actual on P1 130 h in Sep, 100 h in Oct.
    R2: 160 h capacity in Aug, Sep, Oct; planned P2 40 h in Oct; actual on P2 40 h in Sep and
    20 h in Oct."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "P1", "P2")
    load(session, [ResourceRecord(external_id=r, name=r) for r in ("R1", "R2")],
         stream="resources", cfg=CFG, at=NOW)  # fmt: skip
    capacity = [
        CapacityRecord(resource_ref="R1", period=p, hours=D(160))
        for p in ("2025-09", "2025-10", "2025-11")
    ]
    capacity += [CapacityRecord(resource_ref="R2", period=p, hours=D(160))
                 for p in ("2025-08", "2025-09", "2025-10")]  # fmt: skip
    load(session, capacity, stream="capacity", cfg=CFG, at=NOW)
    plan = [("P1/R1", "P1", "R1", "2025-09", 100), ("P1/R1", "P1", "R1", "2025-10", 100),
            ("P1/R1", "P1", "R1", "2025-11", 50), ("P2/R1", "P2", "R1", "2025-10", 80),
            ("P2/R2", "P2", "R2", "2025-10", 40)]  # fmt: skip
    load(session, [AllocationRecord(external_id=k, project_ref=p, resource_ref=r, period=m,
                                    planned_hours=D(h)) for k, p, r, m, h in plan],
         stream="allocations", cfg=CFG, at=NOW)  # fmt: skip
    spend(session, "H1", "P1", "labor", date(2025, 9, 15), "0", hours=D(130), resource_ref="R1")
    spend(session, "H2", "P1", "labor", date(2025, 10, 15), "0", hours=D(100), resource_ref="R1")
    spend(session, "H3", "P2", "labor", date(2025, 9, 16), "0", hours=D(40), resource_ref="R2")
    spend(session, "H4", "P2", "labor", date(2025, 10, 16), "0", hours=D(20), resource_ref="R2")
    session.commit()


def keyed(result, rule: str) -> dict[tuple[str, str, str], tuple[str, dict[str, str | None]]]:  # type: ignore[no-untyped-def]
    return {(f.subject_id, f.dimension, f.period): (f.severity, f.measures)
            for f in result.findings if f.rule == rule}  # fmt: skip


def test_hours_over_plan_per_project_and_per_resource(session: Session) -> None:
    """Through 2025-10: P1 230 h actual vs 200 h planned (Nov's 50 h not yet): 30 h, 15% over
    (> 10% and > 8 h: medium). R1 across its projects: 230 h vs 100 + 100 + 80 = 280 h, within
    plan. R2: 40 + 20 = 60 h vs 40 h: 20 h, 50% over (high). P2: 60 h vs 120 h."""
    hours_portfolio(session)
    found = keyed(run(session, rules()), "hours_overrun")
    assert found == {
        ("P1", "hours", ""): ("medium", {"actual": "230.00", "planned": "200.00", "over": "30.00",
                                         "over_pct": "15.0000", "through": "2025-10"}),
        ("psa/R2", "hours", ""): ("high", {"actual": "60.00", "planned": "40.00", "over": "20.00",
                                           "over_pct": "50.0000", "through": "2025-10"}),
    }  # fmt: skip


def test_over_allocation_from_the_status_period_on(session: Session) -> None:
    """R1 in 2025-10: 100 h (P1) + 80 h (P2) = 180 h planned of 160 h: 20 h, 12.5% over;
    November's 50 h fit; September (before the status period) is not looked at."""
    hours_portfolio(session)
    assert keyed(run(session, rules()), "over_allocation") == {
        ("psa/R1", "capacity", "2025-10"): ("medium", {
            "actual": "180.00", "planned": "160.00", "over": "20.00", "over_pct": "12.5000",
            "through": "2025-10", "last_period": "2025-10"}),
    }  # fmt: skip


def test_under_utilization_in_past_periods(session: Session) -> None:
    """R2 worked 40 of 160 h in 2025-09 (25%) and none in 2025-08: both below the 30% high
    floor; R1's 130 of 160 h (81.25%) is above the 60% floor; 2025-10 is not past yet."""
    hours_portfolio(session)
    found = keyed(run(session, rules()), "under_utilization")
    assert found == {
        ("psa/R2", "capacity", "2025-08"): ("high", {
            "actual": "0.00", "capacity": "160.00", "used_pct": "0.0000"}),
        ("psa/R2", "capacity", "2025-09"): ("high", {
            "actual": "40.00", "capacity": "160.00", "used_pct": "25.0000"}),
    }  # fmt: skip
    lenient = rules(under_utilization={"high_floor_pct": 20})
    severities = {k: v[0] for k, v in keyed(run(session, lenient), "under_utilization").items()}
    assert severities[("psa/R2", "capacity", "2025-09")] == "medium"


def test_under_utilization_at_the_floor_exactly(session: Session) -> None:
    """R3, 160 h of capacity a month: 96 h in 2025-09 is 60% exactly, the floor (not below it);
    95.9999 h in 2025-08 is 59.9999375%: below (medium, above the 30% high floor). Compared in
    SQL, exactly, on both engines."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "P1")
    load(session, [ResourceRecord(external_id="R3", name="R3")], stream="resources", cfg=CFG,
         at=NOW)  # fmt: skip
    load(session, [CapacityRecord(resource_ref="R3", period=p, hours=D(160))
                   for p in ("2025-08", "2025-09")], stream="capacity", cfg=CFG, at=NOW)  # fmt: skip
    spend(session, "H8", "P1", "labor", date(2025, 8, 15), "0", hours=D("95.9999"),
          resource_ref="R3")  # fmt: skip
    spend(session, "H9", "P1", "labor", date(2025, 9, 15), "0", hours=D(96), resource_ref="R3")
    session.commit()
    assert keyed(run(session, rules()), "under_utilization") == {
        ("psa/R3", "capacity", "2025-08"): ("medium", {
            "actual": "96.00", "capacity": "160.00", "used_pct": "59.9999"}),
    }  # fmt: skip


def test_a_project_run_does_not_judge_resources(session: Session) -> None:
    """Resource figures span projects: a run scoped to P1 finds P1's hours overrun only."""
    hours_portfolio(session)
    scoped = run(session, rules(), project="P1")
    assert {(f.rule, f.subject_type, f.subject_id) for f in scoped.findings} == {
        ("hours_overrun", "project", "P1")
    }


def test_only_the_hours_authoritys_plan_counts(session: Session) -> None:
    """The ERP also plans 1,000 h for P1 in 2025-10; psa is the hours authority, so P1's plan
    stays 200 h and its 230 h still overrun it."""
    hours_portfolio(session)
    link(session, "erp", "P1")
    load(session, [AllocationRecord(external_id="E/P1", project_ref="P1", period="2025-10",
                                    planned_hours=D(1000))],
         source="erp", stream="allocations", cfg=CFG, at=NOW)  # fmt: skip
    found = keyed(run(session, rules()), "hours_overrun")
    assert found[("P1", "hours", "")][1]["planned"] == "200.00"
