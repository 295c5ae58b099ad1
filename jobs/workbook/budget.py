"""Budget vs actual: one row per project and fiscal period (every period of the report from
the project's first figure to its last, so its S-curve has no gaps; the names are on the
Summary), budget and actual as values, variance and the
cumulative figures as formulas; overruns (actual above budget in the period, cumulative actual
above cumulative budget) in red. Beside the table, a native line chart per project: cumulative
budget against cumulative actual (the S-curve), for the MAX_CHARTS largest budgets of the
selection (a workbook with 2,000 charts opens slowly and prints 2,000 pages; a --portfolio or
--program report charts its own projects)."""

from __future__ import annotations

from decimal import Decimal

from pmo_ledger.jobs.workbook.book import HEADER, Book, cell, col

MAX_CHARTS = 40
COLUMNS = [
    ("Project", 14), ("Period", 9), ("Budget", 14), ("Actual", 14),
    ("Variance (budget - actual)", 14), ("Variance %", 10), ("Cumulative budget", 15),
    ("Cumulative actual", 15), ("Cumulative variance", 15),
]  # fmt: skip
PROJECT, PERIOD, BUDGET, ACTUAL, VAR, VAR_PCT, CUM_B, CUM_A, CUM_V = range(9)
CHART_COL = len(COLUMNS) + 1
ROWS_PER_CHART = 18


def write(book: Book) -> None:
    r = book.report
    ws = book.sheet("Budget vs actual", "Budget vs actual by fiscal period")
    money_cols = {BUDGET, ACTUAL, VAR, CUM_B, CUM_A, CUM_V}
    charted = {p.id for p in sorted(r.projects, key=lambda p: (-p.budget, p.code))[:MAX_CHARTS]}
    if len(r.projects) > MAX_CHARTS:
        ws.write_string(
            2, 0, f"S-curves for the {MAX_CHARTS} largest budgets of {len(r.projects)} "
            "projects; --portfolio or --program charts others.", book.f("subtitle"),
        )  # fmt: skip
    book.header(ws, [(f"{n} ({book.currency})" if i in money_cols else n, w)
                     for i, (n, w) in enumerate(COLUMNS)])  # fmt: skip
    ws.set_row(HEADER, 45)
    ws.freeze_panes(HEADER + 1, 2)
    row = HEADER + 1
    spans: dict[int, tuple[str, str]] = {}
    for pid, period in r.by_period:
        first_p, last_p = spans.get(pid, (period, period))
        spans[pid] = (min(first_p, period), max(last_p, period))
    first = row
    next_chart_row = row
    money = book.money
    for p in r.projects:
        start = row
        cum_b = cum_a = Decimal(0)
        for period in _span(r.periods, spans.get(p.id)):
            b, a = r.by_period.get((p.id, period), (Decimal(0), Decimal(0)))
            mb, ma = money(b) or 0.0, money(a) or 0.0
            cum_b += Decimal(str(mb))
            cum_a += Decimal(str(ma))
            ws.write_string(row, PROJECT, p.code)
            ws.write_string(row, PERIOD, period)
            ws.write_number(row, BUDGET, mb, book.f("money"))
            ws.write_number(row, ACTUAL, ma, book.f("money"))
            bc, ac = cell(row, BUDGET), cell(row, ACTUAL)
            ws.write_formula(row, VAR, f"={bc}-{ac}", book.f("money"), float(Decimal(str(mb)) -
                             Decimal(str(ma))))  # fmt: skip
            pct = "" if mb == 0 else float((Decimal(str(mb)) - Decimal(str(ma))) / Decimal(str(mb)))
            ws.write_formula(row, VAR_PCT, f'=IF({bc}=0,"",{cell(row, VAR)}/{bc})',
                             book.f("pct"), pct)  # fmt: skip
            if row == start:
                ws.write_formula(row, CUM_B, f"={bc}", book.f("money"), float(cum_b))
                ws.write_formula(row, CUM_A, f"={ac}", book.f("money"), float(cum_a))
            else:
                ws.write_formula(row, CUM_B, f"={cell(row - 1, CUM_B)}+{bc}", book.f("money"),
                                 float(cum_b))  # fmt: skip
                ws.write_formula(row, CUM_A, f"={cell(row - 1, CUM_A)}+{ac}", book.f("money"),
                                 float(cum_a))  # fmt: skip
            ws.write_formula(row, CUM_V, f"={cell(row, CUM_B)}-{cell(row, CUM_A)}",
                             book.f("money"), float(cum_b - cum_a))  # fmt: skip
            row += 1
        if p.id in charted and row > start:
            at = max(start, next_chart_row)
            _chart(book, ws, p.code, p.name, start, row - 1, at)
            next_chart_row = at + ROWS_PER_CHART
    last = max(row - 1, first)
    ws.autofilter(HEADER, 0, last, len(COLUMNS) - 1)
    # Overruns: actual above budget in the period; cumulative actual above cumulative budget.
    ws.conditional_format(
        f"{col(ACTUAL)}{first + 1}:{col(VAR_PCT)}{last + 1}",
        {"type": "formula", "criteria": f"=${col(ACTUAL)}{first + 1}>${col(BUDGET)}{first + 1}",
         "format": book.f("overrun")},
    )  # fmt: skip
    ws.conditional_format(
        f"{col(CUM_A)}{first + 1}:{col(CUM_V)}{last + 1}",
        {"type": "formula", "criteria": f"=${col(CUM_A)}{first + 1}>${col(CUM_B)}{first + 1}",
         "format": book.f("overrun")},
    )  # fmt: skip


def _span(periods: list[str], span: tuple[str, str] | None) -> list[str]:
    """The report's periods from the project's first with a figure to its last."""
    return [] if span is None else [p for p in periods if span[0] <= p <= span[1]]


def _chart(book: Book, ws: object, code: str, name: str, first: int, last: int, at: int) -> None:
    chart = book.wb.add_chart({"type": "line"})
    sheet = "'Budget vs actual'"
    cats = f"={sheet}!${col(PERIOD)}${first + 1}:${col(PERIOD)}${last + 1}"
    for c, label, colour, dash in ((CUM_B, "Cumulative budget", "#1F3864", "dash"),
                                   (CUM_A, "Cumulative actual", "#C00000", "solid")):  # fmt: skip
        chart.add_series({
            "name": label,
            "categories": cats,
            "values": f"={sheet}!${col(c)}${first + 1}:${col(c)}${last + 1}",
            "line": {"color": colour, "width": 2.25, "dash_type": dash},
        })  # fmt: skip
    chart.set_title({"name": f"{code} {name}"[:60], "name_font": {"size": 11}})
    chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True,
                      "line": {"color": "#D9D9D9"}}})  # fmt: skip
    chart.set_x_axis({"num_font": {"rotation": -45, "size": 8}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 560, "height": 20 * ROWS_PER_CHART - 20})
    ws.insert_chart(at, CHART_COL, chart)  # type: ignore[attr-defined]
