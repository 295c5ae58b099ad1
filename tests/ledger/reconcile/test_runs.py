"""Runs of periods beyond budget_overrun (issue 18, item 4): source_disagreement and
over_allocation findings of the same project (or resource) over consecutive periods are one
finding, keyed by its first period, with the sums of its periods and `last_period`; severity
is judged on the sums. Status period 2025-10 (NOW)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Variance
from pmo_ledger.ledger.reconcile import ReconcileResult, reconcile
from pmo_ledger.ledger.reconcile.findings import Finding
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.reconcile.store import acknowledge
from pmo_ledger.ledger.records import AllocationRecord, CapacityRecord, ResourceRecord
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import actual, load, settings
from tests.ledger.reconcile.portfolio import CFG, NOW, link, projects, rules, run, spend

LABOR = [{"left": "psa", "right": "erp", "cost_types": ["labor"]}]


def _apart(session: Session) -> None:
    """P1 labor, psa vs erp: 05 1,300 vs 1,000 (psa higher); 06 1,000 vs 1,300, 07 2,000 vs
    2,600, 08 500 vs 700 (erp higher, 300 + 600 + 200 apart); 09 1,000 vs 1,000; 10 800 vs
    1,000 (200 apart, 20% of the larger)."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "P1")
    link(session, "erp", "P1")
    for month, psa, erp in ((5, "1300", "1000"), (6, "1000", "1300"), (7, "2000", "2600"),
                            (8, "500", "700"), (9, "1000", "1000"), (10, "800", "1000")):  # fmt: skip
        spend(session, f"S{month}", "P1", "labor", date(2025, month, 3), psa)
        load(session, [actual(f"E{month}", erp, project_ref="P1", cost_type="labor",
                              posted_on=date(2025, month, 4))],
             source="erp", cfg=CFG, at=NOW)  # fmt: skip
    session.commit()


def _disagreements(session: Session, **knobs: object) -> dict[str, tuple[str, ...]]:
    result = run(session, rules(source_disagreement={"amount": 100, "pairs": LABOR, **knobs}))
    return {
        f.period: (f.severity, f.measures["left"], f.measures["right"], f.measures["gap"],
                   f.measures["gap_pct"], f.measures["last_period"], f.message)
        for f in result.findings or ()
        if f.rule == "source_disagreement"
    }  # fmt: skip


def test_consecutive_periods_apart_the_same_way_are_one_disagreement(session: Session) -> None:
    """06..08 are one finding: psa 3,500 vs erp 4,600, 1,100 apart (23.9130% of the larger:
    high above 20%). 05 (psa the higher) and 10 (after 09, where they agree) stand alone; 10
    is 20% apart, not above 20%: medium."""
    _apart(session)
    assert _disagreements(session) == {
        "2025-05": ("high", "1300.00", "1000.00", "300.00", "23.0769", "2025-05",
                    "P1 in 2025-05: psa 1300.00 vs erp 1000.00 (300.00 apart, 23.0769%)"),
        "2025-06": ("high", "3500.00", "4600.00", "1100.00", "23.9130", "2025-08",
                    "P1 in 2025-06..2025-08 (3 periods): psa 3500.00 vs erp 4600.00 "
                    "(1100.00 apart, 23.9130%)"),
        "2025-10": ("medium", "800.00", "1000.00", "200.00", "20.0000", "2025-10",
                    "P1 in 2025-10: psa 800.00 vs erp 1000.00 (200.00 apart, 20.0000%)"),
    }  # fmt: skip


def test_a_run_of_disagreements_is_material_on_its_sums(session: Session) -> None:
    """With high_amount 1,000, no single month of 06..08 is material (300, 600, 200 apart), but
    the run is (1,100): high; 05 (300) is medium."""
    _apart(session)
    found = _disagreements(session, high_amount="1000")
    assert {period: f[0] for period, f in found.items()} == {
        "2025-05": "medium",
        "2025-06": "high",
        "2025-10": "medium",
    }


def _overbooked(session: Session) -> None:
    """R1, 160 h capacity a month 2025-09..2026-02, planned on P1 and P2: 09 300 h (before
    the status period: not judged), 10 200 h, 11 150 h, 12 180 h, 2026-01 260 h (P1 200 +
    P2 60), 2026-02 160 h."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2026, 12, 31))
    projects(session, "P1", "P2")
    load(session, [ResourceRecord(external_id="R1", name="R1")], stream="resources", cfg=CFG,
         at=NOW)  # fmt: skip
    months = ("2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02")
    load(session, [CapacityRecord(resource_ref="R1", period=m, hours=D(160)) for m in months],
         stream="capacity", cfg=CFG, at=NOW)  # fmt: skip
    plan = [("P1", m, h) for m, h in zip(months, (300, 200, 150, 180, 200, 160), strict=True)]
    plan.append(("P2", "2026-01", 60))
    load(session, [AllocationRecord(external_id=f"{p}/R1", project_ref=p, resource_ref="R1",
                                    period=m, planned_hours=D(h)) for p, m, h in plan],
         stream="allocations", cfg=CFG, at=NOW)  # fmt: skip
    session.commit()


def test_consecutive_over_allocated_periods_are_one_finding(session: Session) -> None:
    """10 alone (11 fits): 200 h of 160 h, 40 h, 25% over (not above 25%: medium); 12 and
    2026-01, consecutive across the year end, one finding: 440 h of 320 h, 120 h, 37.5% over
    (high). 02 is at capacity."""
    _overbooked(session)
    found = run(session, rules()).findings or []
    assert {
        f.period: (f.severity, f.measures, f.message)
        for f in found
        if f.rule == "over_allocation" and f.subject_id == "psa/R1"
    } == {
        "2025-10": ("medium", {"actual": "200.00", "planned": "160.00", "over": "40.00",
                               "over_pct": "25.0000", "through": "2025-10",
                               "last_period": "2025-10"},
                    "psa/R1: planned 200.00 h against 160.00 h in 2025-10: 40.00 h over "
                    "(25.0000%)"),
        "2025-12": ("high", {"actual": "440.00", "planned": "320.00", "over": "120.00",
                             "over_pct": "37.5000", "through": "2025-10",
                             "last_period": "2026-01"},
                    "psa/R1: planned 440.00 h against 320.00 h in 2025-12..2026-01 "
                    "(2 periods): 120.00 h over (37.5000%)"),
    }  # fmt: skip


# --- special periods (13-16): each in period 12's place in the year ---------------------------

#: A months calendar with two special periods after period 12 (2025-13, 2025-14).
SAP = settings(calendar=CalendarSettings(special_periods=2))


def _in_sap(session: Session, cfg: ReconcileRules, status: date) -> list[Finding]:
    now = datetime.combine(status, time(12), tzinfo=UTC)
    return reconcile(session, SAP, cfg, now=now, keep_findings=True).findings or []


def test_a_special_period_joins_the_run_of_over_allocated_periods(session: Session) -> None:
    """Status period 2025-12. R1, 160 h capacity and 200 h planned in each of 2025-12, the
    special period 2025-13, 2026-01 and 2026-02 (40 h over each): one finding, 4 periods, 800 h
    of 640 h. R2 over in 2025-12 and 2025-14 only: one finding ending in 2025-14. (`merge`, in
    Python; the SQL rules merge the same way, see the next test.)"""
    ensure_periods(session, SAP.calendar, date(2025, 1, 1), date(2026, 12, 31))
    projects(session, "P1")
    load(session, [ResourceRecord(external_id=r, name=r) for r in ("R1", "R2")],
         stream="resources", cfg=SAP, at=NOW)  # fmt: skip
    months = {"R1": ("2025-12", "2025-13", "2026-01", "2026-02"), "R2": ("2025-12", "2025-14")}
    load(session, [CapacityRecord(resource_ref=r, period=m, hours=D(160))
                   for r, ms in months.items() for m in ms],
         stream="capacity", cfg=SAP, at=NOW)  # fmt: skip
    load(session, [AllocationRecord(external_id=f"P1/{r}/{m}", project_ref="P1",
                                    resource_ref=r, period=m, planned_hours=D(200))
                   for r, ms in months.items() for m in ms[::-1]],
         stream="allocations", cfg=SAP, at=NOW)  # fmt: skip
    session.commit()
    found = _in_sap(session, rules(), date(2025, 12, 10))
    assert {
        (f.subject_id, f.period): (f.measures["last_period"], f.measures["actual"],
                                   f.measures["planned"], f.message)
        for f in found if f.rule == "over_allocation"
    } == {
        ("psa/R1", "2025-12"): ("2026-02", "800.00", "640.00",
                                "psa/R1: planned 800.00 h against 640.00 h in 2025-12..2026-02 "
                                "(4 periods): 160.00 h over (25.0000%)"),
        ("psa/R2", "2025-12"): ("2025-14", "400.00", "320.00",
                                "psa/R2: planned 400.00 h against 320.00 h in 2025-12..2025-14 "
                                "(2 periods): 80.00 h over (25.0000%)"),
    }  # fmt: skip


def test_a_special_period_joins_the_run_of_disagreements(session: Session) -> None:
    """Status period 2026-01. P1 labor, psa 1,000 vs erp 1,300 in each of 2025-11, 2025-12, the
    special period 2025-13 (a posting stating it) and 2026-01: one finding, 4 periods, 4,000
    vs 5,200. (`islands`, in SQL: the same runs as `merge`.)"""
    ensure_periods(session, SAP.calendar, date(2025, 1, 1), date(2026, 12, 31))
    projects(session, "P1")
    link(session, "erp", "P1")
    posted = {"2025-11": date(2025, 11, 3), "2025-12": date(2025, 12, 3),
              "2025-13": date(2025, 12, 31), "2026-01": date(2026, 1, 5)}  # fmt: skip
    for source, amount in (("psa", "1000"), ("erp", "1300")):
        load(session, [actual(f"{source}/{p}", amount, project_ref="P1", cost_type="labor",
                              posted_on=day, period=p) for p, day in posted.items()],
             source=source, cfg=SAP, at=NOW)  # fmt: skip
    session.commit()
    cfg = rules(source_disagreement={"amount": 100, "pairs": LABOR})
    found = _in_sap(session, cfg, date(2026, 1, 20))
    assert {
        f.period: (f.measures["last_period"], f.measures["left"], f.measures["right"], f.message)
        for f in found if f.rule == "source_disagreement"
    } == {
        "2025-11": ("2026-01", "4000.00", "5200.00",
                    "P1 in 2025-11..2026-01 (4 periods): psa 4000.00 vs erp 5200.00 "
                    "(1200.00 apart, 23.0769%)"),
    }  # fmt: skip


# --- an acknowledged run whose first period changes keeps its acknowledgement ------------------

#: The run of erp-higher labor disagreements of P1 (06..08 in `_apart`).
DISAGREE = (Variance.rule == "source_disagreement", Variance.subject_id == "P1",
            Variance.dimension == "psa~erp:labor")  # fmt: skip


def _acknowledged_run(session: Session, **knobs: object) -> Variance:
    """`_apart`, reconciled; its run 06..08 acknowledged by 'ana'."""
    _apart(session)
    run(session, rules(source_disagreement={"amount": 100, "pairs": LABOR, **knobs}))
    v = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-06")).one()
    acknowledge(session, v.id, "erp books labor a month late", "ana", NOW)
    session.commit()
    return v


def _again(session: Session, **knobs: object) -> ReconcileResult:
    return run(session, rules(source_disagreement={"amount": 100, "pairs": LABOR, **knobs}),
               now=NOW + timedelta(days=1))  # fmt: skip


def _erp_later_in_may(session: Session) -> None:
    """erp books 600 more in 05: erp is the higher there too (1,600 vs 1,300)."""
    load(session, [actual("E5b", "600", project_ref="P1", cost_type="labor",
                          posted_on=date(2025, 5, 5))], source="erp", cfg=CFG, at=NOW)  # fmt: skip
    session.commit()


def test_a_run_that_loses_its_first_period_keeps_its_acknowledgement(session: Session) -> None:
    """psa books 300 more in 06: 06 agrees, the run is 07..08 (keyed 07, a new variance): it
    is acknowledged as 06..08 was, by the same person, with the note and a line of history,
    and first seen when 06..08 was; 06's variance is resolved and names its successor."""
    old = _acknowledged_run(session)
    spend(session, "S6b", "P1", "labor", date(2025, 6, 9), "300")
    session.commit()
    again = _again(session)
    assert again.lifecycle is not None and again.lifecycle.carried == 1
    new = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-07")).one()
    session.refresh(old)
    assert (new.status, new.acknowledged_by, new.acknowledged_at, new.first_seen_at) == (
        "acknowledged", "ana", NOW, old.first_seen_at
    )  # fmt: skip
    assert new.measures is not None and new.measures["last_period"] == "2025-08"
    assert new.note == (
        "erp books labor a month late\n"
        f"[acknowledged by ana as variance {old.id} (2025-06..2025-08); carried to "
        "2025-07..2025-08 on 2025-10-21]"
    )
    assert (old.status, old.note) == (
        "resolved", f"erp books labor a month late\n[continued as variance {new.id} on 2025-10-21]"
    )  # fmt: skip


def test_a_run_that_gains_an_earlier_period_keeps_its_acknowledgement(session: Session) -> None:
    """erp the higher in 05 too: the run is 05..08, keyed 05 (the variance of 05 alone, open
    until now): it takes the acknowledgement of 06..08 (high both, not worse)."""
    old = _acknowledged_run(session)
    _erp_later_in_may(session)
    again = _again(session)
    assert again.lifecycle is not None and again.lifecycle.carried == 1
    new = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-05")).one()
    assert new.measures is not None
    assert (new.measures["last_period"], new.measures["left"], new.measures["right"]) == (
        "2025-08", "4800.00", "6200.00"
    )  # fmt: skip
    assert (new.status, new.severity, new.acknowledged_by) == ("acknowledged", "high", "ana")
    assert new.note is not None and new.note.startswith("erp books labor a month late\n")
    assert "carried to 2025-05..2025-08" in new.note
    session.refresh(old)
    assert old.status == "resolved"
    # 10, alone and open, overlaps nothing acknowledged: as it was
    alone = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-10")).one()
    assert (alone.status, alone.note, alone.acknowledged_by) == ("open", None, None)


def test_a_worse_successor_of_an_acknowledged_run_is_open_and_escalated(session: Session) -> None:
    """With high_amount 1,200, 06..08 (1,100 apart) is medium when acknowledged; 05..08 (1,400
    apart, 22.6%) is high: worse, so open and escalated, as a worse severity moves an
    acknowledged variance back to open; the note and who acknowledged travel with it."""
    _acknowledged_run(session, high_amount="1200")
    _erp_later_in_may(session)
    _again(session, high_amount="1200")
    new = session.scalars(select(Variance).where(*DISAGREE, Variance.period == "2025-05")).one()
    assert (new.status, new.severity, new.acknowledged_by, new.escalated_at) == (
        "open", "high", "ana", NOW + timedelta(days=1)
    )  # fmt: skip
    assert new.note is not None and new.note.startswith("erp books labor a month late\n")
