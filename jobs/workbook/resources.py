"""Resources: utilization per resource and fiscal period as a heat map (a three-colour scale:
white at 0%, yellow at 80%, red at 120% and above). Before the status period a cell is actual
hours / capacity, from the status period on it is planned hours (allocations) / capacity: the
second header row says which. Over 100% is over-allocated: such cells are framed in dark red,
and `Over-allocated` counts them per resource (a COUNTIF formula). A period without capacity
is blank."""

from __future__ import annotations

from pmo_ledger.jobs.workbook.book import HEADER, Book, cell, col

FIXED = [("Resource", 22), ("Name", 24), ("Role", 16), ("Over-allocated periods", 11)]
OVER = 3


def write(book: Book) -> None:
    r = book.report
    ws = book.sheet("Resources", "Resource utilization (hours / capacity)")
    periods = r.resource_periods
    # Row 2: actual or planned per period (above the header, printed with the title rows).
    for i, p in enumerate(periods):
        ws.write_string(2, len(FIXED) + i, "actual" if p < r.period else "plan",
                        book.f("subtitle"))  # fmt: skip
    book.header(ws, [*FIXED, *((p, 8.5) for p in periods)])
    ws.set_row(HEADER, 45)
    ws.freeze_panes(HEADER + 1, 2)
    first = HEADER + 1
    row = first
    grid_first = len(FIXED)
    grid_last = grid_first + max(len(periods), 1) - 1
    for res in r.resources:
        book.write(ws, row, 0, res.key)
        book.write(ws, row, 1, res.name)
        book.write(ws, row, 2, res.role)
        span = f"{cell(row, grid_first)}:{cell(row, grid_last)}"
        over = 0
        for i, p in enumerate(periods):
            capacity, actual, planned = res.periods.get(p, (0, 0, 0))
            hours = actual if p < r.period else planned
            if capacity:
                used = float(hours / capacity)
                over += used > 1
                ws.write_number(row, grid_first + i, round(used, 4), book.f("pct"))
            else:
                ws.write_blank(row, grid_first + i, None, book.f("pct"))
        ws.write_formula(row, OVER, f'=COUNTIF({span},">1")', book.f("int"), over)
        row += 1
    last = max(row - 1, first)
    ws.autofilter(HEADER, 0, last, grid_last)
    grid = f"{col(grid_first)}{first + 1}:{col(grid_last)}{last + 1}"
    ws.conditional_format(grid, {"type": "cell", "criteria": ">", "value": 1,
                                 "format": book.f("over_alloc")})  # fmt: skip
    ws.conditional_format(grid, {
        "type": "3_color_scale",
        "min_type": "num", "min_value": 0, "min_color": "#FFFFFF",
        "mid_type": "num", "mid_value": 0.8, "mid_color": "#FFEB84",
        "max_type": "num", "max_value": 1.2, "max_color": "#F8696B",
    })  # fmt: skip
    ws.conditional_format(f"{col(OVER)}{first + 1}:{col(OVER)}{last + 1}",
                          {"type": "cell", "criteria": ">", "value": 0,
                           "format": book.f("overrun")})  # fmt: skip
    if not r.resources:
        ws.write_string(first, 0, "No resource has capacity in the ledger.", book.f("subtitle"))
