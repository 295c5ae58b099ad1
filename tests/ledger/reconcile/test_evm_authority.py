"""forecast_overrun with two sources sending baselines: the baseline in force comes from the
source that counts for budgets (rule 8), per project, live and as known at a past time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from sqlalchemy.orm import Session

from pmo_ledger.ledger.admin import authority_apply
from pmo_ledger.ledger.reconcile import reconcile
from pmo_ledger.ledger.reconcile.findings import Finding
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, ProgressRecord
from pmo_ledger.ledger.settings import AuthorityOverride, LedgerSettings
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import actual, load, settings
from tests.ledger.reconcile.portfolio import CFG, NOW, link, projects, rules

STATUS = date(2025, 10, 20)  # period 2025-10
EVM_ONLY = rules(budget_overrun={"enabled": False}, burn_rate={"enabled": False})


def baseline(source: str, project: str, effective: date, *lines: tuple[str, str]) -> BudgetRecord:
    """`source`'s baseline of `project`: (period, amount) lines in USD, no tasks."""
    return BudgetRecord(
        external_id=f"{source}/{project}/BL", project_ref=project, kind="baseline",
        effective_from=effective,
        lines=tuple(
            BudgetLineRecord(external_id=f"{project}/{p}", amount=D(a), currency="USD",
                             cost_type="labor", period=p)
            for p, a in lines
        ),
    )  # fmt: skip


def two_sources(session: Session, cfg: LedgerSettings, psa_from: int, erp_from: int,
                year: int = 2025) -> None:  # fmt: skip
    """E1 and E2, each with a 'psa' and an 'erp' baseline, effective on the first of month
    `psa_from` and `erp_from` of `year` (periods are months of `year`):
    psa: E1 6,000 in 09 + 4,000 in 11 (BAC 10,000); E2 5,000 in 10.
    erp: E1 11,000 in 10; E2 8,000 in 10.
    E1 40% done, E2 50% (on Oct 1); counting actual cost (psa) in 10: E1 5,000, E2 1,000."""
    ensure_periods(session, cfg.calendar, date(year, 1, 1), date(year + 2, 12, 31))
    projects(session, "E1", "E2")
    for code in ("E1", "E2"):
        link(session, "erp", code)
    sep, octo, nov = (f"{year}-{m}" for m in ("09", "10", "11"))
    psa = [
        baseline("psa", "E1", date(year, psa_from, 1), (sep, "6000"), (nov, "4000")),
        baseline("psa", "E2", date(year, psa_from, 1), (octo, "5000")),
    ]
    erp = [
        baseline("erp", "E1", date(year, erp_from, 1), (octo, "11000")),
        baseline("erp", "E2", date(year, erp_from, 1), (octo, "8000")),
    ]
    load(session, psa, stream="budgets", cfg=cfg, at=NOW)
    load(session, erp, source="erp", stream="budgets", cfg=cfg, at=NOW)
    progress = [
        ProgressRecord(project_ref=p, status_date=date(year, 10, 1), percent=D(pct))
        for p, pct in (("E1", "40"), ("E2", "50"))
    ]
    load(session, progress, stream="progress", cfg=cfg, at=NOW)
    spends = [
        actual(f"{p}-a", a, project_ref=p, cost_type="labor", posted_on=date(year, 10, 10))
        for p, a in (("E1", "5000.00"), ("E2", "1000.00"))
    ]
    load(session, spends, cfg=cfg, at=NOW)


def budget_on_erp_for_e1() -> LedgerSettings:
    """psa the authority for everything but E1's budget, which is erp's."""
    override = AuthorityOverride(project="E1", budget="erp")
    return settings(authority=CFG.authority.model_copy(update={"overrides": [override]}))


def evm_findings(session: Session, cfg: LedgerSettings, **kw: Any) -> list[Finding]:
    kw.setdefault("now", NOW)
    result = reconcile(session, cfg, EVM_ONLY, status_date=STATUS, keep_findings=True, **kw)
    session.commit()
    assert result.findings is not None
    return [f for f in result.findings if f.rule == "forecast_overrun"]


def measures(f: Finding) -> tuple[Any, ...]:
    keys = ("bac", "pv", "ev", "ac", "cpi", "spi", "eac", "over", "over_pct")
    return (f.subject_id, f.severity, *(f.measures[k] for k in keys))


def test_the_budget_authority_baseline_is_used_though_the_erp_sent_a_newer_one(
    session: Session,
) -> None:
    """psa is the budget authority; erp's baselines (June) are newer than psa's (March).
    E1 on psa's: BAC 10,000, PV 6,000, EV 4,000, AC 5,000: CPI 0.8, SPI 0.6667, EAC 12,500,
    2,500 over (25%: medium). E2: EV 2,500, AC 1,000, CPI 2.5, EAC 2,000: no finding."""
    two_sources(session, CFG, psa_from=3, erp_from=6)
    (f,) = evm_findings(session, CFG)
    assert measures(f) == (
        "E1", "medium", "10000.00", "6000.00", "4000.00", "5000.00", "0.8000", "0.6667",
        "12500.00", "2500.00", "25.0000",
    )  # fmt: skip
    assert f.message == (
        "E1: EAC 12500.00 (cpi) exceeds BAC 10000.00 by 2500.00 (25.0000%); CPI 0.8000, SPI 0.6667"
    )


def test_a_project_override_takes_the_other_sources_baseline(session: Session) -> None:
    """Budget authority erp for E1 only, psa's baselines now the newer ones: E1 on erp's
    11,000 (all in 2025-10): EV 4,400, AC 5,000, CPI 0.88, SPI 0.4, EAC 12,500, 1,500 over
    (13.6364%: medium); E2 stays on psa's (no finding)."""
    cfg = budget_on_erp_for_e1()
    two_sources(session, cfg, psa_from=6, erp_from=3)
    (f,) = evm_findings(session, cfg)
    assert measures(f) == (
        "E1", "medium", "11000.00", "11000.00", "4400.00", "5000.00", "0.8800", "0.4000",
        "12500.00", "1500.00", "13.6364",
    )  # fmt: skip


def test_as_known_at_the_baseline_of_the_source_that_counted_then(session: Session) -> None:
    """E1's budget authority moves from psa to erp (`authority apply`, reclass entries)
    after the load. As known before the move: psa's baseline (BAC 10,000, as live
    before); as known after it: erp's (BAC 11,000), though psa's is the newer baseline."""
    two_sources(session, CFG, psa_from=6, erp_from=3)
    moved = budget_on_erp_for_e1()
    authority_apply(session, moved)  # its entries are recorded at this machine's time
    session.commit()
    later = datetime.now(UTC) + timedelta(seconds=1)
    before = evm_findings(session, CFG, now=later, as_known_at=NOW)
    after = evm_findings(session, moved, now=later, as_known_at=later)
    assert [(f.subject_id, f.measures["bac"], f.measures["eac"]) for f in before] == [
        ("E1", "10000.00", "12500.00")
    ]
    assert [(f.subject_id, f.measures["bac"], f.measures["over"]) for f in after] == [
        ("E1", "11000.00", "1500.00")
    ]


def test_progress_comes_from_the_project_authority_though_another_source_sent_newer(
    session: Session,
) -> None:
    """psa (the projects authority) says E1 is 40% done on Oct 1; erp says 100% on Oct 15.
    EV stays on psa's 40%: the finding is the one psa's figures give (EAC 12,500, medium),
    not erp's (EV 10,000, CPI 2: no finding)."""
    two_sources(session, CFG, psa_from=3, erp_from=6)
    done = ProgressRecord(project_ref="E1", status_date=date(2025, 10, 15), percent=D("100"))
    load(session, [done], source="erp", stream="progress", cfg=CFG, at=NOW)
    (f,) = evm_findings(session, CFG)
    assert measures(f)[:5] == ("E1", "medium", "10000.00", "6000.00", "4000.00")


def test_progress_of_another_source_counts_where_the_authority_sends_none(
    session: Session,
) -> None:
    """A project without progress from psa takes erp's: E3 (BAC 10,000 from psa in 2025-10,
    AC 6,000) is 30% done by erp: EV 3,000, CPI 0.5, EAC 20,000, 10,000 over (100%: high)."""
    two_sources(session, CFG, psa_from=3, erp_from=6)
    projects(session, "E3")
    link(session, "erp", "E3")
    bl = baseline("psa", "E3", date(2025, 3, 1), ("2025-10", "10000"))
    load(session, [bl], stream="budgets", cfg=CFG, at=NOW)
    pct = ProgressRecord(project_ref="E3", status_date=date(2025, 10, 1), percent=D("30"))
    load(session, [pct], source="erp", stream="progress", cfg=CFG, at=NOW)
    spend = actual("E3-a", "6000.00", project_ref="E3", cost_type="labor",
                   posted_on=date(2025, 10, 10))  # fmt: skip
    load(session, [spend], cfg=CFG, at=NOW)
    e3 = [f for f in evm_findings(session, CFG) if f.subject_id == "E3"]
    assert [measures(f)[:8] for f in e3] == [
        ("E3", "high", "10000.00", "10000.00", "3000.00", "6000.00", "0.5000", "0.3000")
    ]
