"""`pmo-ledger report --format xlsx`: the status workbook read back with openpyxl, cell by cell,
against the demo portfolio's hand-computed figures (tests/jobs/test_demo.py) plus baselines and
progress that give each project a known earned value, on SQLite and PostgreSQL.

Status date 2025-10-31 (period 2025-10); every demo actual is in 2025-09 or 2025-10:
- PRJ-1001: budget 60000.00 (18000 in 09, 22000 in 10, 20000 in 11), actual 9032.00; baseline =
  the budget, 64% complete -> PV 40000, EV 38400, CPI 38400 / 9032 = 4.25, SPI 0.96: GREEN.
- PRJ-1002: budget 50000.00, actual 2617.09, no baseline: used 5.2%: GREEN.
- PRJ-1003: budget 120000.00 (55000 in 09, 65000 in 10), actual 21664.35; baseline = budget,
  93% -> PV 120000, EV 111600, SPI 0.93 < 0.95: AMBER.
- PRJ-1004: budget 35000.00 (15000 in 10, 20000 in 11), actual 1948.00; baseline = budget, 2%
  -> PV 15000, EV 700, CPI 700 / 1948 = 0.3593 < 0.90: RED.
Portfolio ENT holds program DIGITAL (1001, 1002) and OPS (1003, 1004).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine

from pmo_ledger.ledger.queries import status
from tests.jobs.test_cli import failed, invoke, ok
from tests.jobs.test_demo import demo_config

DEMO_JSON = Path(__file__).resolve().parents[2] / "config" / "demo_portfolio.json"
DAY = "2025-10-31"
MONEY = "#,##0.00;[Red]-#,##0.00"
URL = "https://psa.example.test/projects/PSA-1001"
#: Each demo timecard's page in the source (Salesforce: the instance URL + the record id).
CARD = "https://psa.example.test/{}"


def _portfolio(tmp_path: Path, *, hours_tc1: str = "40", name: str = "portfolio.json") -> Path:
    """The demo portfolio plus a source URL on PRJ-1001, a baseline (= the current budget) on
    PRJ-1001, PRJ-1003 and PRJ-1004 and their percent complete; `hours_tc1`: TC-0001's hours."""
    data = json.loads(DEMO_JSON.read_text(encoding="utf-8"))
    percent = {"PSA-1001": "64", "PSA-1003": "93", "PSA-1004": "2"}
    for batch in data["batches"]:
        if batch["stream"] == "projects":
            for p in batch["records"]:
                if p["external_id"] == "PSA-1001":
                    p["source_url"] = URL
        if batch["stream"] == "budgets":
            baselines = [
                {**b, "external_id": b["external_id"] + "-BL", "kind": "baseline",
                 "label": "Baseline"}
                for b in batch["records"] if b["project_ref"] in percent
            ]  # fmt: skip
            batch["records"] += baselines
        if batch["stream"] == "timecards":
            for tc in batch["records"]:
                tc["source_url"] = CARD.format(tc["external_id"])
                if tc["external_id"] == "TC-0001":
                    tc["hours"] = hours_tc1
    data["batches"].append({
        "source": "psa", "stream": "progress", "type": "ProgressRecord",
        "records": [{"project_ref": ref, "status_date": "2025-10-15", "percent": pct}
                    for ref, pct in percent.items()],
    })  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Path:
    """The config of a loaded and reconciled demo ledger."""
    config = demo_config(tmp_path, engine.url.render_as_string(hide_password=False))
    ok(invoke(config, "demo", "--portfolio", str(_portfolio(tmp_path))))
    ok(invoke(config, "reconcile"))
    return config


def linked_rows(ws: Worksheet) -> list[list[Any]]:
    """The Variances rows whose `Source record` is a hyperlink, as values."""
    return [[c.value for c in r] for r in ws.iter_rows(min_row=5) if r[16].hyperlink is not None]


def write(config: Path, out: Path, *args: str) -> str:
    return ok(invoke(config, "report", "--format", "xlsx", "--out", str(out), *args))


def rows_by_code(ws: Worksheet, code_col: int = 2) -> dict[str, int]:
    return {
        str(ws.cell(r, code_col).value): r
        for r in range(5, ws.max_row + 1)
        if ws.cell(r, code_col).value is not None
    }


def test_summary_figures_formulas_formats_and_outline(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "status.xlsx"
    said = write(ledger, out, "--status-date", DAY)
    assert said.startswith(f"wrote {out}: 4 projects, ")
    assert "status date 2025-10-31 (period 2025-10)" in said
    wb = openpyxl.load_workbook(out)
    values = openpyxl.load_workbook(out, data_only=True)
    assert wb.sheetnames == ["Cover", "Summary", "Budget vs actual", "Variances", "Resources",
                             "Schedule", "Data quality"]  # fmt: skip
    ws, wv = wb["Summary"], values["Summary"]
    at = rows_by_code(ws)
    # Portfolio, programs and projects in order, with their outline levels.
    order = ["ENT", "DIGITAL", "PRJ-1001", "PRJ-1002", "OPS", "PRJ-1003", "PRJ-1004"]
    assert [ws.cell(r, 2).value for r in range(5, 12)] == order
    assert [ws.row_dimensions[r].outline_level for r in range(5, 12)] == [0, 1, 2, 2, 1, 2, 2]
    assert [ws.cell(r, 1).value for r in range(5, 13)] == [
        "Portfolio",
        "Program",
        "Project",
        "Project",
        "Program",
        "Project",
        "Project",
        "Total",
    ]
    expected = {  # budget, actual, PV, EV, CPI, SPI, RAG
        "PRJ-1001": (60000, 9032, 40000, 38400, 38400 / 9032, 0.96, "GREEN"),
        "PRJ-1002": (50000, 2617.09, None, None, None, None, "GREEN"),
        "PRJ-1003": (120000, 21664.35, 120000, 111600, 111600 / 21664.35, 0.93, "AMBER"),
        "PRJ-1004": (35000, 1948, 15000, 700, 700 / 1948, 700 / 15000, "RED"),
    }
    for code, (budget, actual, pv, ev, cpi, spi, rag) in expected.items():
        r = at[code]
        assert wv.cell(r, 5).value == budget
        assert wv.cell(r, 6).value == actual
        assert wv.cell(r, 12).value == pv
        assert wv.cell(r, 13).value == ev
        assert wv.cell(r, 14).value == (pytest.approx(cpi) if cpi else None)
        assert wv.cell(r, 15).value == (pytest.approx(spi) if spi else None)
        assert wv.cell(r, 19).value == rag
        assert ws.cell(r, 9).value == f"=E{r}-F{r}"
        assert wv.cell(r, 9).value == pytest.approx(budget - actual)
        assert ws.cell(r, 10).value == f'=IF(E{r}=0,"",I{r}/E{r})'
        assert ws.cell(r, 14).value == f'=IF(OR(M{r}="",F{r}=0),"",M{r}/F{r})'
        assert ws.cell(r, 19).value.startswith(f'=IF(AND(N{r}="",O{r}="",K{r}=""),"n/a",')
        assert f"N{r}<RedCPI" in ws.cell(r, 19).value
        assert ws.cell(r, 5).number_format == MONEY
        assert ws.cell(r, 10).number_format == "0.0%"
        assert ws.cell(r, 14).number_format == "0.00"
    assert wv.cell(at["PRJ-1004"], 20).value == "CPI 0.3593 < 0.90; SPI 0.0467 < 0.90"
    assert wv.cell(at["PRJ-1003"], 20).value == "SPI 0.9300 < 0.95"
    # Group rows and the total: SUBTOTALs of the rows below, with the sums as cached values.
    assert ws.cell(5, 5).value == "=SUBTOTAL(9,E6:E11)"
    assert ws.cell(6, 5).value == "=SUBTOTAL(9,E7:E8)"
    assert ws.cell(9, 6).value == "=SUBTOTAL(9,F10:F11)"
    assert ws.cell(12, 5).value == "=SUBTOTAL(9,E5:E11)"
    assert wv.cell(12, 5).value == 265000
    assert wv.cell(12, 6).value == pytest.approx(35261.44)
    assert wv.cell(9, 13).value == 112300  # OPS EV: 111600 + 700
    assert wv.cell(9, 14).value == pytest.approx(112300 / (21664.35 + 1948))
    # Open findings by severity per project add up to the portfolio's.
    assert sum(wv.cell(5, c).value for c in (16, 17, 18)) == sum(
        wv.cell(at[p], c).value for p in expected for c in (16, 17, 18)
    )
    # Frozen header and code columns, autofilter over the header and every row, RAG colours.
    assert ws.freeze_panes == "D5"
    assert ws.auto_filter.ref == "A4:T11"
    assert ws.cell(4, 5).value == "Budget (USD)"
    rules = {str(rng.sqref): [r.formula for r in rng.rules] for rng in ws.conditional_formatting}
    assert rules["S5:S12"] == [['"RED"'], ['"AMBER"'], ['"GREEN"']]
    assert ws.page_setup.orientation == "landscape"
    # One page wide (fitToWidth's default 1), as many pages tall as it takes.
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    # The project's code links to its record in the source.
    assert ws.cell(at["PRJ-1001"], 2).hyperlink.target == URL
    # The thresholds are cells on the Cover, by name.
    cover = values["Cover"]
    names = {n: wb.defined_names[n].attr_text for n in ("RedCPI", "AmberSPI", "RedUsed")}
    cell = names["RedCPI"].split("!")[1].replace("$", "")
    assert cover[cell].value == 0.9


def test_budget_vs_actual_periods_chart_and_overruns(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "status.xlsx"
    write(ledger, out, "--status-date", DAY)
    wb = openpyxl.load_workbook(out)
    wv = openpyxl.load_workbook(out, data_only=True)["Budget vs actual"]
    ws = wb["Budget vs actual"]
    rows = [[c.value for c in row] for row in wv.iter_rows(min_row=5, max_col=9)]
    # Each project from its first period with a figure to its last.
    spans = {code: [r[1] for r in rows if r[0] == code] for code in {r[0] for r in rows}}
    assert spans == {
        "PRJ-1001": ["2025-09", "2025-10", "2025-11"],
        "PRJ-1002": ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"],
        "PRJ-1003": ["2025-09", "2025-10"],
        "PRJ-1004": ["2025-09", "2025-10", "2025-11"],
    }
    prj1001 = rows[:3]
    assert [r[2] for r in prj1001] == [18000, 22000, 20000]
    assert [r[3] for r in prj1001] == [6872, 2160, 0]
    assert prj1001[-1][6] == 60000 and prj1001[-1][7] == 9032 and prj1001[-1][8] == 50968
    assert ws["E5"].value == "=C5-D5"
    assert ws["G5"].value == "=C5" and ws["G6"].value == "=G5+C6"
    assert ws["H6"].value == "=H5+D6" and ws["I6"].value == "=G6-H6"
    assert ws["C5"].number_format == MONEY
    assert ws.freeze_panes == "C5" and ws.auto_filter.ref == f"A4:I{4 + len(rows)}"
    # One S-curve per project: cumulative budget and actual over the project's own rows.
    assert len(ws._charts) == 4
    refs = [(s.val.numRef.f, (s.cat.numRef or s.cat.strRef).f) for s in ws._charts[0].series]
    assert refs == [
        ("'Budget vs actual'!$G$5:$G$7", "'Budget vs actual'!$B$5:$B$7"),
        ("'Budget vs actual'!$H$5:$H$7", "'Budget vs actual'!$B$5:$B$7"),
    ]
    # Overruns: actual above budget in the period (PRJ-1004 2025-09: 868 against 0).
    formulas = {str(c.sqref): c.rules[0].formula for c in ws.conditional_formatting}
    assert formulas[f"D5:F{4 + len(rows)}"] == ["$D5>$C5"]
    assert formulas[f"H5:I{4 + len(rows)}"] == ["$H5>$G5"]
    overrun = next(r for r in rows if r[0] == "PRJ-1004" and r[1] == "2025-09")
    assert overrun[2:4] == [0, 868]


def test_variances_resources_schedule_quality_and_cover(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "status.xlsx"
    write(ledger, out, "--status-date", DAY)
    wb = openpyxl.load_workbook(out)
    ws = wb["Variances"]
    header = [c.value for c in ws[4]]
    assert header[:4] == ["ID", "Severity", "Status", "Rule"]
    body = [[c.value for c in row] for row in ws.iter_rows(min_row=5)]
    assert body, "the demo's planted problems are findings"
    severities = [r[1] for r in body]
    rank = {"high": 0, "medium": 1, "low": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
    assert {r[2] for r in body} == {"open"}
    assert ("budget_overrun", "project", "PRJ-1003", "software") in {
        (r[3], r[4], r[5], r[6]) for r in body
    }
    linked = [row for row in ws.iter_rows(min_row=5) if row[16].hyperlink is not None]
    links = {(r[3].value, r[5].value, r[6].value): r[16].hyperlink.target for r in linked}
    # One line behind the finding: that timecard's record (PRJ-1004's only actual is TC-0008);
    # many lines: the project's page in its source (PRJ-1001's); a project without one: the
    # first line with a URL (PRJ-1002's PSA timecard, its ERP posting has none); findings
    # about a source (data_quality) link nowhere.
    assert links[("forecast_overrun", "PRJ-1004", "evm")] == CARD.format("TC-0008")
    assert links[("source_disagreement", "PRJ-1001", "psa~erp:labor")] == URL
    assert links[("source_disagreement", "PRJ-1002", "psa~erp:labor")] == CARD.format("TC-0004")
    assert links[("source_disagreement", "PRJ-1003", "psa~pm:labor")] == CARD.format("TC-0006")
    assert len(links) == 9 and not any(r[3] == "data_quality" for r in linked_rows(ws))
    assert ws.auto_filter.ref == f"A4:Q{4 + len(body)}" and ws.freeze_panes == "C5"
    # Resources: a utilization grid with a colour scale and over-allocation marks.
    rs = wb["Resources"]
    assert [c.value for c in rs[4]][:4] == ["Resource", "Name", "Role", "Over-allocated periods"]
    kinds = {r.type for c in rs.conditional_formatting for r in c.rules}
    assert {"colorScale", "cellIs"} <= kinds
    # Schedule: tasks under their project, dates as dates, the weeks' Gantt rules.
    sc = wb["Schedule"]
    assert [c.value for c in sc[4]][:14][-4:] == ["PERT expected finish", "Sigma (days)",
                                                  "Deadline", "P(deadline)"]  # fmt: skip
    assert sc["A5"].value == "PRJ-1001" and sc.row_dimensions[6].outline_level == 1
    assert isinstance(sc["F5"].value, datetime) and sc["F5"].is_date
    assert isinstance(sc["M5"].value, datetime) and sc["M5"].value.date().isoformat() == (
        "2026-03-31"
    )  # the planned finish is the deadline
    assert isinstance(sc["O4"].value, datetime) and sc["O4"].value.weekday() == 0  # Mondays
    gantt = [r.formula[0] for c in sc.conditional_formatting for r in c.rules]
    assert any('$J5="yes"' in f for f in gantt) and any("StatusDate" in f for f in gantt)
    # Data quality: the UNMAPPED posting waits in quarantine; the sources of the config.
    dq = wb["Data quality"]
    assert [dq["A5"].value, dq["B5"].value, dq["C5"].value] == ["erp", "unmapped", 1]
    assert dq["A6"].value == "Total" and dq["C6"].value == "=SUM(C5:C5)"
    assert [dq.cell(r, 5).value for r in range(5, 10)] == ["crm", "erp", "fin", "pm", "psa"]
    # Cover: the time, the date, the command that writes it again.
    cover = {r[0].value: r[1].value for r in wb["Cover"].iter_rows(min_row=4, max_row=12)}
    assert isinstance(cover["As known at (UTC)"], datetime)
    assert cover["Status date"].date() == date(2025, 10, 31)
    assert cover["Fiscal period"] == "2025-10" and cover["Projects"] == 4
    exact = cover["As known at, exactly"]
    assert cover["Write it again with"] == (
        f"pmo-ledger report --format xlsx --out FILE --as-known-at {exact} --status-date {DAY}"
    )


def test_portfolio_and_program_filters(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "ops.xlsx"
    said = write(ledger, out, "--program", "OPS", "--as-of", DAY)
    assert "2 projects" in said
    wb = openpyxl.load_workbook(out, data_only=True)
    ws = wb["Summary"]
    assert [ws.cell(r, 2).value for r in range(5, 9)] == ["ENT", "OPS", "PRJ-1003", "PRJ-1004"]
    assert ws.cell(9, 1).value == "Total" and ws.cell(9, 5).value == 155000
    assert {r[0].value for r in wb["Budget vs actual"].iter_rows(min_row=5)} == {
        "PRJ-1003",
        "PRJ-1004",
    }
    assert {r[5].value for r in wb["Variances"].iter_rows(min_row=5)} <= {"PRJ-1003", "PRJ-1004"}
    assert "program OPS" in ws["A2"].value
    out = tmp_path / "ent.xlsx"
    assert "4 projects" in write(ledger, out, "--portfolio", "ENT", "--status-date", DAY)


def _cells(path: Path) -> dict[str, list[list[Any]]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}


def test_as_known_at_reproduces_the_workbook(ledger: Path, tmp_path: Path) -> None:
    """Written at T1; a sync restates a timecard (PRJ-1001 +850.00), reconcile runs and a
    variance is acknowledged; the workbook as known at T1 has the same cells as the first (the
    variance open, the old actual), and a live one does not."""
    first = tmp_path / "t1.xlsx"
    write(ledger, first, "--status-date", DAY)
    cover = {r[0].value: r[1].value for r in openpyxl.load_workbook(first)["Cover"].iter_rows(
        min_row=4, max_row=12)}  # fmt: skip
    t1 = cover["As known at, exactly"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", t1)
    ids = [r[0].value for r in openpyxl.load_workbook(first)["Variances"].iter_rows(min_row=5)]
    known = next(i for i in ids if i is not None)
    changed = _portfolio(tmp_path, hours_tc1="50", name="changed.json")
    ok(invoke(ledger, "demo", "--portfolio", str(changed)))
    ok(invoke(ledger, "reconcile"))
    ok(invoke(ledger, "variances", "ack", str(known), "--note", "agreed with finance"))
    live = tmp_path / "live.xlsx"
    write(ledger, live, "--status-date", DAY)
    now = openpyxl.load_workbook(live, data_only=True)
    summary = now["Summary"]
    assert summary.cell(rows_by_code(summary)["PRJ-1001"], 6).value == 9882  # 9032 + 10 h x 85
    acked = next(r for r in now["Variances"].iter_rows(min_row=5) if r[0].value == known)
    assert acked[2].value == "acknowledged" and acked[15].value == "agreed with finance"
    assert isinstance(acked[13].value, datetime)
    again = tmp_path / "again.xlsx"
    said = write(ledger, again, "--status-date", DAY, "--as-known-at", t1)
    assert f"as known at {t1}" in said
    assert _cells(again) == _cells(first)
    assert _cells(live) != _cells(first)


#: Bad options of `report --format xlsx`: (arguments, what the one error line says).
BAD_INPUT = [
    (["--portfolio", "NOPE"], "error: no portfolio 'NOPE'"),
    (["--program", "NOPE"], "error: no program 'NOPE'"),
    (["--status-date", "2025-13-45"], "error: --status-date: "),
    (["--as-of", "yesterday"], "error: --as-of: "),
    (["--as-known-at", "soon"], "error: --as-known-at: "),
    (["--as-known-at", "2999-01-01T00:00:00Z"], "is in the future"),
    (["--as-of", "2025-10-01", "--status-date", "2025-10-31"], "differ: give one"),
]


def test_bad_input_is_one_line_and_writes_nothing(ledger: Path, tmp_path: Path) -> None:
    """Each of BAD_INPUT on one loaded ledger (a ledger each would cost a demo load and a
    reconcile apiece): one error line that says what, and no workbook."""
    out = tmp_path / "status.xlsx"
    wrong = []
    for args, message in BAD_INPUT:
        err = failed(invoke(ledger, "report", "--format", "xlsx", "--out", str(out), *args))
        if message not in err or len(err.strip().splitlines()) != 1:
            wrong.append((args, err))
    assert wrong == []
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".xlsx"] == []


def test_bad_out_and_options_without_xlsx(ledger: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "status.xlsx"
    err = failed(invoke(ledger, "report", "--format", "xlsx", "--out", str(missing)))
    assert err.strip() == f"error: {missing.parent}: no such folder"
    assert not missing.parent.exists()
    err = failed(invoke(ledger, "report", "--format", "xlsx"))
    assert err.strip() == "error: --format xlsx needs --out FILE.xlsx"
    err = failed(invoke(ledger, "report", "--format", "xlsx", "--out", str(tmp_path / "a.csv")))
    assert "does not end in .xlsx" in err
    err = failed(invoke(ledger, "report", "--portfolio", "ENT"))
    assert err.strip() == "error: --portfolio: only with --format xlsx"
    # Without --format the text report is as it was.
    out = ok(invoke(ledger, "report"))
    assert "Budget vs actual (USD)" in out and "265000.00" in out


def test_money_is_written_at_the_currencys_decimals(ledger: Path, tmp_path: Path) -> None:
    """PRJ-1002's 1732.50 EUR at 1.0950 is 1897.0875 USD, written 1897.09 (half up)."""
    out = tmp_path / "status.xlsx"
    write(ledger, out, "--status-date", DAY)
    wv = openpyxl.load_workbook(out, data_only=True)["Budget vs actual"]
    actual = {(r[0].value, r[1].value): r[3].value for r in wv.iter_rows(min_row=5)}
    assert actual[("PRJ-1002", "2025-10")] == float(Decimal("2617.09"))


def test_configured_rag_thresholds(ledger: Path, tmp_path: Path) -> None:
    """`[report.rag] amber_spi = "0.92"`: PRJ-1003's SPI 0.93 is green; the Cover shows 0.92."""
    with ledger.open("a", encoding="utf-8") as f:
        f.write('\n[report.rag]\namber_spi = "0.92"\n')
    out = tmp_path / "status.xlsx"
    write(ledger, out, "--status-date", DAY)
    wb = openpyxl.load_workbook(out)
    values = openpyxl.load_workbook(out, data_only=True)
    ws = values["Summary"]
    at = rows_by_code(ws)
    assert [ws.cell(at[c], 19).value for c in ("PRJ-1001", "PRJ-1003", "PRJ-1004")] == [
        "GREEN", "GREEN", "RED"]  # fmt: skip
    ref = wb.defined_names["AmberSPI"].attr_text.split("!")[1].replace("$", "")
    assert values["Cover"][ref].value == 0.92


def test_a_report_of_more_findings_than_line_links_max_links_each_to_its_project(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past LINE_LINKS_MAX findings the lines behind each are not matched (minutes on SQLite
    at 30,000 findings): a finding links to its project's page, or nowhere without one."""
    monkeypatch.setattr(status, "LINE_LINKS_MAX", 3)
    out = tmp_path / "status.xlsx"
    write(ledger, out, "--status-date", DAY)
    ws = openpyxl.load_workbook(out)["Variances"]
    linked = [row for row in ws.iter_rows(min_row=5) if row[16].hyperlink is not None]
    links = {(r[3].value, r[5].value, r[6].value): r[16].hyperlink.target for r in linked}
    assert links and set(links.values()) == {URL}  # PRJ-1001's page, no timecard
    assert {subject for _, subject, _ in links} == {"PRJ-1001"}


def _plan_before(engine: Engine) -> None:
    """Durations, a dependency, capacity and an allocation the demo does not load, written
    the way a writer does (updated_at bumped)."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from pmo_ledger.ledger.models import (
        Allocation,
        Project,
        Resource,
        ResourceCapacity,
        Task,
        TaskDependency,
        utcnow,
    )

    now = utcnow()
    with Session(engine) as s:
        tasks = {t.external_id: t for t in s.query(Task)}
        for key, (o, m, p) in {"PSA-1001-T1": (8, 10, 15), "PSA-1001-T2": (15, 20, 30)}.items():
            s.execute(update(Task).where(Task.id == tasks[key].id).values(
                optimistic_days=Decimal(o), most_likely_days=Decimal(m),
                pessimistic_days=Decimal(p), updated_at=now))  # fmt: skip
        s.execute(TaskDependency.__table__.insert().values(
            source="psa", external_id="D1", predecessor_id=tasks["PSA-1001-T1"].id,
            successor_id=tasks["PSA-1001-T2"].id, dependency_type="FS", lag_days=Decimal(0),
            created_at=now, updated_at=now))  # fmt: skip
        s.execute(update(Project).where(Project.code == "PRJ-1003").values(
            source_url="https://psa.example.test/projects/PSA-1003", updated_at=now))  # fmt: skip
        resources = {r.external_id: r.id for r in s.query(Resource)}
        for rid in resources.values():
            for period in ("2025-09", "2025-10", "2025-11"):
                s.execute(ResourceCapacity.__table__.insert().values(
                    resource_id=rid, period=period, hours=Decimal(160), source="psa",
                    updated_at=now))  # fmt: skip
        s.execute(Allocation.__table__.insert().values(
            source="psa", stream="allocations", external_id="A1",
            resource_id=resources["PSA-RES-01"], project_id=tasks["PSA-1001-T1"].project_id,
            period="2025-11", planned_hours=Decimal(80), created_at=now, updated_at=now))  # fmt: skip
        s.commit()


def _plan_after(engine: Engine) -> None:
    """The plan changed in place by hand-run SQL that does not bump updated_at (the database's
    clock stamps those versions): a duration, the dependency's lag, capacity, an allocation."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE task SET most_likely_days = 120000, pessimistic_days = 200000 "
                          "WHERE external_id = 'PSA-1001-T1'" if engine.dialect.name == "sqlite"
                          else "UPDATE task SET most_likely_days = 12, pessimistic_days = 20 "
                          "WHERE external_id = 'PSA-1001-T1'"))  # fmt: skip
        lag = "50000" if engine.dialect.name == "sqlite" else "5"
        conn.execute(text(f"UPDATE task_dependency SET lag_days = {lag}, dependency_type = 'SS'"))
        hours = ("1000000", "1200000") if engine.dialect.name == "sqlite" else ("100", "120")
        conn.execute(text(f"UPDATE resource_capacity SET hours = {hours[0]} "
                          "WHERE period = '2025-10'"))  # fmt: skip
        conn.execute(text(f"UPDATE allocation SET planned_hours = {hours[1]}"))


def _master_data_changed(tmp_path: Path) -> Path:
    """The demo portfolio with PRJ-1001 renamed under a new manager, PRJ-1002 moved to program
    OPS, the portfolio and program DIGITAL renamed, PRJ-1003's source URL gone, and three new
    lines: one no mapping places (UNMAPPED), one on PRJ-1004 before its planned start and one
    beside TC-0007 on PRJ-1003 (its findings now have two lines behind them)."""
    path = _portfolio(tmp_path, name="master.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    for batch in data["batches"]:
        if batch["stream"] == "projects":
            for p in batch["records"]:
                p["portfolio_name"] = "Enterprise Portfolio FY2026"
                if p["external_id"] == "PSA-1001":
                    p.update(name="Customer Portal 2.0", manager="Ann Smith",
                             program_name="Digital CX")  # fmt: skip
                if p["external_id"] == "PSA-1002":
                    p.update(program="OPS", program_name="Operations Modernization")
        if batch["stream"] == "timecards":
            tc = dict(batch["records"][0])
            tc.update(external_id="TC-0900", project_ref="PSA-1004", task_ref="PSA-1004-T1",
                      posted_on="2025-07-15", source_url=CARD.format("TC-0900"))  # fmt: skip
            batch["records"].append(tc)
            batch["records"].append({**tc, "external_id": "TC-0902", "project_ref": "PSA-1003",
                                     "task_ref": "PSA-1003-T2", "posted_on": "2025-10-21",
                                     "source_url": CARD.format("TC-0902")})  # fmt: skip
        if batch["stream"] == "postings":
            batch["records"].append({
                "external_id": "ERP-4509999", "project_ref_type": "wbs",
                "project_ref": "NOPE-1.1", "posted_on": "2025-10-20", "cost_type": "travel",
                "currency": "USD", "amount": "99.00", "description": "no such WBS",
            })  # fmt: skip
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_as_known_at_keeps_the_master_data_of_then(
    ledger: Path, engine: Engine, tmp_path: Path
) -> None:
    """Written at T1; then projects are renamed, re-managed and moved, portfolio and program
    renamed, a duration, a dependency, capacity and an allocation change, and an UNMAPPED line
    and a line outside a project's dates arrive; the workbook as known at T1 has the same cells
    and `Source record` links as the first, and the live one shows every change."""
    _plan_before(engine)
    first = tmp_path / "t1.xlsx"
    write(ledger, first, "--status-date", DAY)
    t1 = {r[0].value: r[1].value for r in openpyxl.load_workbook(first)["Cover"].iter_rows(
        min_row=4, max_row=12)}["As known at, exactly"]  # fmt: skip
    ok(invoke(ledger, "demo", "--portfolio", str(_master_data_changed(tmp_path))))
    _plan_after(engine)
    ok(invoke(ledger, "reconcile"))
    live = tmp_path / "live.xlsx"
    write(ledger, live, "--status-date", DAY)
    again = tmp_path / "again.xlsx"
    write(ledger, again, "--status-date", DAY, "--as-known-at", t1)
    before, now, then = _cells(first), _cells(live), _cells(again)
    assert _links_of(live) != _links_of(first)
    assert _links_of(again) == _links_of(first)
    for sheet in ("Summary", "Schedule", "Resources", "Variances", "Data quality"):
        assert now[sheet] != before[sheet], sheet
    flat = {sheet: json.dumps(rows, default=str) for sheet, rows in now.items()}
    for seen in ("Customer Portal 2.0", "Ann Smith", "Digital CX", "FY2026", "UNMAPPED"):
        assert any(seen in text for text in flat.values()), seen
    assert _differences(then, before) == {}


def _links_of(path: Path) -> list[tuple[Any, str]]:
    """The Variances sheet's (variance id, `Source record` link target), in row order."""
    ws = openpyxl.load_workbook(path)["Variances"]
    return [(r[0].value, r[16].hyperlink.target) for r in ws.iter_rows(min_row=5)
            if r[16].hyperlink is not None]  # fmt: skip


def _differences(
    a: dict[str, list[list[Any]]], b: dict[str, list[list[Any]]]
) -> dict[str, list[tuple[int, Any, Any]]]:
    """Per sheet that differs, its first three differing rows (number, in a, in b)."""
    out = {}
    for sheet in sorted(set(a) | set(b)):
        ra, rb = a.get(sheet, []), b.get(sheet, [])
        rows = [(i + 1, x, y) for i, (x, y) in enumerate(zip(ra, rb, strict=False)) if x != y]
        if len(ra) != len(rb):
            rows.append((min(len(ra), len(rb)) + 1, len(ra), len(rb)))
        if rows:
            out[sheet] = rows[:3]
    return out
