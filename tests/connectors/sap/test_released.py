"""The released budget (BPGE/BPJA release activity KBFR) as each project's `released` version,
and BPJA's annual values phasing the `current` budget by fiscal year, over the in-test RFC stub
into the ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select, text

from pmo_ledger.jobs.sync import run_sync
from tests.connectors.sap.sap_system import app
from tests.connectors.sap.stub_rfc import System
from tests.connectors.sap.test_review import bpge
from tests.connectors.sap.test_sync import WBS_11, WBS_12, WBS_21

STREAMS = ["projects", "tasks", "budgets"]


def bpja(objnr: str, vorga: str, year: int, amount: str) -> dict[str, str]:
    """A BPJA annual row (value type 41, version 000) in EUR."""
    return {**bpge(objnr, vorga, amount), "GJAHR": f"{year:04d}", "WTJHR": amount}


def _seed(system: System) -> None:
    """P-1000: WBS 12 is WBS 11's child. Budget 1,000 on 11 (400 of it distributed to 12),
    annual 2026/2027; released 600 on 11 (250 of it on 12), annual too. P-2000: a release of
    100 on WBS 21 without annual values."""
    for row in system.tables["PRHI"].rows:
        if row["POSNR"] == "00000012":
            row["UP"] = "00000011"
    system.tables["BPGE"].rows += [
        bpge(WBS_11, "KBUD", "1000.00"),
        bpge(WBS_12, "KBUD", "400.00"),
        bpge(WBS_11, "KBFR", "600.00"),
        bpge(WBS_12, "KBFR", "250.00"),
        bpge(WBS_21, "KBUD", "500.00"),
        bpge(WBS_21, "KBFR", "100.00"),
    ]
    system.tables["BPJA"].rows += [
        bpja(WBS_11, "KBUD", 2026, "700.00"),
        bpja(WBS_11, "KBUD", 2027, "300.00"),
        bpja(WBS_12, "KBUD", 2026, "400.00"),
        bpja(WBS_11, "KBFR", 2026, "400.00"),
        bpja(WBS_11, "KBFR", 2027, "200.00"),
        bpja(WBS_12, "KBFR", 2026, "250.00"),
    ]


def _lines(a: object, kind: str) -> dict[tuple[str, str], list[tuple[str, Decimal, str]]]:
    """Live lines of `kind` versions per (project, line id before the '@'): (period, amount,
    phasing)."""
    from pmo_ledger.ledger.models import BudgetLine, BudgetVersion

    with a.reading() as s:  # type: ignore[attr-defined]
        rows = s.execute(
            select(BudgetVersion.project_ref, BudgetLine.external_id, BudgetLine.period,
                   BudgetLine.amount, BudgetLine.phasing)
            .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
            .where(BudgetVersion.kind == kind, BudgetLine.deleted_at.is_(None),
                   BudgetVersion.deleted_at.is_(None))
        ).all()  # fmt: skip
    out: dict[tuple[str, str], list[tuple[str, Decimal, str]]] = defaultdict(list)
    for ref, ext, period, amount, phasing in rows:
        out[(ref, ext.split("@")[0])].append((period, amount, phasing))
    return out


def _by_year(
    lines: dict[tuple[str, str], list[tuple[str, Decimal, str]]],
) -> dict[tuple[str, str], tuple[Decimal, int, set[str], set[str]]]:
    """Per (project, line id): the sum, the number of periods, their years, their phasing."""
    return {
        key: (
            sum((a for _, a, _ in pieces), Decimal(0)),
            len(pieces),
            {p[:4] for p, _, _ in pieces},
            {ph for _, _, ph in pieces},
        )
        for key, pieces in lines.items()
    }


def test_release_is_its_own_version_by_fiscal_year_and_never_the_budget(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    _seed(system)
    a = app(engine, tmp_path)
    result = run_sync(a, "erp", streams=STREAMS)
    assert result.status == "succeeded", result.message
    current = _by_year(_lines(a, "current"))
    assert current == {
        # 2026: 700 less the child's 400; each year phased linearly inside it (12 months)
        ("P-1000", f"{WBS_11}/EUR/2026"): (Decimal("300.00"), 12, {"2026"}, {"linear"}),
        ("P-1000", f"{WBS_11}/EUR/2027"): (Decimal("300.00"), 12, {"2027"}, {"linear"}),
        ("P-1000", f"{WBS_12}/EUR/2026"): (Decimal("400.00"), 12, {"2026"}, {"linear"}),
        # no annual values: one overall line, phased over the project (no finish: lump)
        ("P-2000", f"{WBS_21}/EUR"): (Decimal("500.00"), 1, {"2026"}, {"lump"}),
    }
    released = _by_year(_lines(a, "released"))
    assert released == {
        ("P-1000", f"{WBS_11}/EUR/2026"): (Decimal("150.00"), 12, {"2026"}, {"linear"}),
        ("P-1000", f"{WBS_11}/EUR/2027"): (Decimal("200.00"), 12, {"2027"}, {"linear"}),
        ("P-1000", f"{WBS_12}/EUR/2026"): (Decimal("250.00"), 12, {"2026"}, {"linear"}),
        ("P-2000", f"{WBS_21}/EUR"): (Decimal("100.00"), 1, {"2026"}, {"lump"}),
    }
    with a.reading() as s:
        budgets = dict(
            s.execute(
                text("SELECT project_code, budget FROM v_project_budget_vs_actual "
                     "WHERE project_code IN ('P-1000', 'P-2000')")
            ).all()
        )  # fmt: skip
    # the view reads the current version only: the release is no more money
    assert {k: Decimal(str(v)) for k, v in budgets.items()} == {
        "P-1000": Decimal("1000"),
        "P-2000": Decimal("500"),
    }


def test_a_second_read_changes_nothing_and_a_withdrawn_release_goes(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    _seed(system)
    a = app(engine, tmp_path)
    assert run_sync(a, "erp", streams=STREAMS).status == "succeeded"
    before = _lines(a, "released")
    again = run_sync(a, "erp", streams=STREAMS)
    assert again.status == "succeeded", again.message
    assert _lines(a, "released") == before
    for table in ("BPGE", "BPJA"):
        rows = system.tables[table].rows
        rows[:] = [r for r in rows if not (r["VORGA"] == "KBFR" and r["OBJNR"] == WBS_21)]
    result = run_sync(a, "erp", streams=STREAMS)
    assert result.status == "succeeded", result.message
    assert {ref for ref, _ in _lines(a, "released")} == {"P-1000"}


def test_no_release_activities_reads_no_release(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    _seed(system)
    a = app(engine, tmp_path, release_activities=[])
    assert run_sync(a, "erp", streams=STREAMS).status == "succeeded"
    assert _lines(a, "released") == {}
    assert sum(
        (x for pieces in _lines(a, "current").values() for _, x, _ in pieces), Decimal(0)
    ) == Decimal("1500.00")


def test_actual_cost_above_the_release_is_a_released_overrun(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """SAP's availability control in the ledger: P-1000 spent 1,300.00 against a release of
    600.00 (its budget is 1,000.00): high (116.67% and 700.00 over, with high_amount 500);
    P-2000 spent 105.00 against 100.00: within `amount`, no finding."""
    from datetime import UTC, datetime

    from pmo_ledger.ledger.reconcile import reconcile
    from pmo_ledger.ledger.reconcile.settings import ReconcileRules
    from tests.connectors.sap.sap_system import total
    from tests.connectors.sap.test_sync import KSTAR, open_periods

    _seed(system)
    year, cur, _prev, _cur_key, _ = open_periods()
    total(system, "COSP", WBS_11, KSTAR, year, {cur: "1300.00"})
    total(system, "COSP", WBS_21, KSTAR, year, {cur: "105.00"})
    a = app(engine, tmp_path)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    rules = ReconcileRules.model_validate(
        {"rules": {"released_overrun": {"amount": "10", "high_amount": "500"}}}
    )
    with a.sessions() as s:
        found = reconcile(
            s, a.config.ledger, rules, now=datetime.now(UTC), write=False, keep_findings=True
        )
    overruns = [f for f in found.findings or [] if f.rule == "released_overrun"]
    assert [(f.subject_id, f.severity, f.message) for f in overruns] == [
        ("P-1000", "high",
         "P-1000: actual cost 1300.00 to date exceeds the released budget of 600.00 by 700.00 "
         "(116.6667%)"),
    ]  # fmt: skip
    assert overruns[0].measures["released"] == "600.00"
    budget = [f for f in found.findings or [] if f.rule == "budget_overrun"]
    assert {f.subject_id for f in budget} == {"P-1000"}  # against 1,000.00, not the release


def test_report_shows_a_released_column_when_a_source_states_a_release(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    from tests.connectors.sap.test_cli import cli, configure

    config = configure(engine, tmp_path)
    first = cli(config, "sync", "erp")
    assert first.exit_code == 0, first.output
    plain = cli(config, "report")
    assert plain.exit_code == 0, plain.output
    assert "released" not in plain.output  # no release read yet: the table as before
    _seed(system)
    assert cli(config, "sync", "erp").exit_code == 0
    shown = cli(config, "report")
    assert shown.exit_code == 0, shown.output
    header = next(line for line in shown.output.splitlines() if "released" in line)
    assert [c.strip() for c in header.split("┃")[3:6]] == ["budget", "released", "actual"]
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[3:5]]
        for line in shown.output.splitlines()
        if line.startswith("│") and ("P-1000" in line or "P-2000" in line or "total" in line)
    }
    assert rows["P-1000"] == ["1000.00", "600.00"]
    assert rows["P-2000"] == ["500.00", "100.00"]
    assert rows["total"] == ["1500.00", "700.00"]


def test_a_years_line_is_phased_inside_the_year_and_the_projects_dates(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """P-1000 runs 2026-03-15..2027-06-30: linear, 2026's 700.00 goes over 2026-03..2026-12
    (10 periods, 70.00 each) and 2027's 300.00 over 2027-01..2027-06; lump, each year in its
    first period the project covers."""
    from tests.connectors.sap.sap_system import app_reading, settings

    _seed(system)
    p1000 = next(r for r in system.tables["PROJ"].rows if r["PSPID"] == "P-1000")
    p1000["PLFAZ"], p1000["PLSEZ"] = "20260315", "20270630"
    for phasing, expected in (
        ("linear", {"2026": (10, "2026-03", "2026-12"), "2027": (6, "2027-01", "2027-06")}),
        ("lump", {"2026": (1, "2026-03", "2026-03"), "2027": (1, "2027-01", "2027-01")}),
    ):
        a = app_reading(engine, tmp_path, settings(), budget_phasing=phasing)
        result = run_sync(a, "erp", streams=STREAMS, full=True)
        assert result.status == "succeeded", result.message
        pieces = _lines(a, "current")[("P-1000", f"{WBS_11}/EUR/2026")]
        later = _lines(a, "current")[("P-1000", f"{WBS_11}/EUR/2027")]
        for year, got in (("2026", pieces), ("2027", later)):
            periods = sorted(p for p, _, _ in got)
            assert (len(periods), periods[0], periods[-1]) == expected[year], phasing
            assert {ph for _, _, ph in got} == {phasing}
        assert sum((x for _, x, _ in pieces), Decimal(0)) == Decimal("300.00")
        if phasing == "linear":
            assert sorted({x for _, x, _ in pieces}) == [Decimal("30.00")]
