"""source_disagreement and data_quality, on lines made to trip each check once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from pmo_ledger.ledger.records import ProjectRecord
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import actual, load
from tests.ledger.reconcile.portfolio import CFG, NOW, link, projects, rules, run, spend


def keyed(result, rule: str) -> dict[tuple[str, str, str], tuple[str, dict[str, object]]]:  # type: ignore[no-untyped-def]
    return {(f.subject_id, f.dimension, f.period): (f.severity, f.measures)
            for f in result.findings if f.rule == rule}  # fmt: skip


def test_two_sources_apart_on_the_same_project_and_period(session: Session) -> None:
    """psa vs erp labor on P1: 2025-10 1,000 vs 1,300 (300 apart, 23.0769% of the larger:
    high above 20%); 2025-09 500 vs 520 is within 100; erp's travel is not compared; the erp
    lines do not count (psa is the authority) and are compared all the same."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, "P1")
    link(session, "erp", "P1")
    spend(session, "S1", "P1", "labor", date(2025, 10, 3), "1000.00")
    spend(session, "S2", "P1", "labor", date(2025, 9, 3), "500.00")
    for key, ct, day, amount in (
        ("E1", "labor", date(2025, 10, 4), "1300.00"),
        ("E2", "labor", date(2025, 9, 4), "520.00"),
        ("E3", "travel", date(2025, 10, 5), "9000.00"),
    ):
        load(session, [actual(key, amount, project_ref="P1", cost_type=ct, posted_on=day)],
             source="erp", cfg=CFG, at=NOW)  # fmt: skip
    cfg = rules(
        source_disagreement={
            "amount": 100,
            "pairs": [{"left": "psa", "right": "erp", "cost_types": ["labor"]}],
        }
    )
    assert keyed(run(session, cfg), "source_disagreement") == {
        ("P1", "psa~erp:labor", "2025-10"): ("high", {
            "left": "1000.00", "right": "1300.00", "gap": "300.00", "gap_pct": "23.0769",
            "left_source": "psa", "right_source": "erp", "last_period": "2025-10"}),
    }  # fmt: skip
    (f,) = [f for f in run(session, cfg).findings if f.rule == "source_disagreement"]
    assert f.message == "P1 in 2025-10: psa 1000.00 vs erp 1300.00 (300.00 apart, 23.0769%)"
    assert f.thresholds == {"pct": "5", "amount": "100", "high_pct": "20", "high_amount": "0"}
    # 23.0769% is high above 20%; at 23.08% it is medium, and at 23.077% no finding at all
    labor = [{"left": "psa", "right": "erp", "cost_types": ["labor"]}]
    cfg = rules(source_disagreement={"amount": 100, "high_pct": "23.08", "pct": "23.0769",
                                     "pairs": labor})  # fmt: skip
    (f,) = [f for f in run(session, cfg).findings if f.rule == "source_disagreement"]
    assert (f.period, f.severity) == ("2025-10", "medium")
    # the same pair twice: one key, the first pair's finding (a key is staged once)
    cfg = rules(source_disagreement={"amount": 100, "pairs": labor + labor})
    again = run(session, cfg)
    assert again.count_by_rule()["source_disagreement"] == 1
    assert again.lifecycle is not None and again.lifecycle.opened == 0
    cfg = rules(source_disagreement={"amount": 100, "pct": "23.077", "pairs": labor})
    assert keyed(run(session, cfg), "source_disagreement") == {}


def test_data_quality_checks(session: Session) -> None:
    """P3 closed on 2025-09-30 and planned from 2025-02-01: a posting on 2025-10-05 (after the
    close), one on 2025-01-15 (before its dates), a EUR line with no rate, negative hours; a
    record in an unknown currency waits in quarantine; a line of an unknown project waits on
    UNMAPPED."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    load(session, [ProjectRecord(external_id="P3", code="P3", name="Closed",
                                 planned_start=date(2025, 2, 1), planned_finish=date(2025, 9, 30),
                                 closed_on=date(2025, 9, 30))],
         stream="projects", cfg=CFG, at=NOW)  # fmt: skip
    spend(session, "Q1", "P3", "labor", date(2025, 10, 5), "100.00")
    spend(session, "Q2", "P3", "labor", date(2025, 1, 15), "100.00")
    spend(session, "Q3", "P3", "travel", date(2025, 6, 1), "50.00", currency="EUR")
    spend(session, "Q4", "P3", "labor", date(2025, 6, 2), "0", hours=Decimal("-4"))
    spend(session, "Q5", "P3", "labor", date(2025, 6, 3), "10.00", currency="ZZZ")
    spend(session, "Q6", "NOPE", "labor", date(2025, 6, 4), "70.00")
    found = keyed(run(session, rules()), "data_quality")
    assert found == {
        ("P3", "after_close", ""): ("medium", {"lines": 1}),
        ("P3", "outside_dates", ""): ("low", {"lines": 2}),
        ("P3", "missing_fx", ""): ("medium", {"lines": 1}),
        ("P3", "negative_hours", ""): ("low", {"lines": 1}),
        ("psa", "quarantine:actuals", ""): ("medium", {"entries": 2}),
        ("psa", "unmapped", ""): ("medium", {"lines": 1, "base_amount": "70.00"}),
    }
