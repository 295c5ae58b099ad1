"""The workbook as a whole: its formats, the layout every sheet shares (a title, frozen header
rows, an autofilter, landscape printing fit to one page wide) and `write_workbook`, which
writes the sheets in order.

XlsxWriter runs in `constant_memory` mode: each sheet's rows are written top to bottom and
flushed, so 2,000 projects x 24 periods stay within a few tens of MB (bench/workbook.py).
Money is the Decimal the ledger computed, rounded half up to the base currency's minor unit
(`ledger.currencies.round_money`) and shown with that many decimals; ratios are numbers in a
percent or 0.00 format; dates are Excel dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from pmo_ledger.ledger.currencies import minor_unit, round_money
from pmo_ledger.ledger.queries.status import ProjectSchedule, StatusReport
from pmo_ledger.ledger.rag import RagRules


class StatusSheet(Worksheet):  # type: ignore[misc]
    """A worksheet whose formulas skip XlsxWriter's dynamic-array rewriting: it runs some 30
    regular expressions per formula (`_prepare_formula`), most of the time of a workbook with
    hundreds of thousands of them, and the workbook's formulas use only IF, AND, OR, SUM,
    SUBTOTAL and COUNTIF, which need no `_xlfn.` prefix."""

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula[1:] if formula.startswith("=") else formula


#: The title rows above each sheet's header row; the header is row HEADER (0-based).
HEADER = 3
HEADER_BG = "#1F3864"


@dataclass
class Book:
    """The open workbook, its formats and what every sheet needs."""

    wb: xlsxwriter.Workbook
    report: StatusReport
    currency: str
    rag_rules: RagRules
    formats: dict[str, Format] = field(default_factory=dict)

    def __post_init__(self) -> None:
        places = minor_unit(self.currency)
        decimals = "." + "0" * places if places else ""
        money = f"#,##0{decimals};[Red]-#,##0{decimals}"
        specs: dict[str, dict[str, Any]] = {
            "title": {"bold": True, "font_size": 14, "font_color": HEADER_BG},
            "subtitle": {"italic": True, "font_color": "#595959"},
            "header": {"bold": True, "font_color": "#FFFFFF", "bg_color": HEADER_BG,
                       "text_wrap": True, "valign": "top", "border": 1},
            "text": {},
            "wrap": {"text_wrap": True, "valign": "top"},
            "bold": {"bold": True},
            "money": {"num_format": money},
            "money_bold": {"num_format": money, "bold": True, "top": 1},
            "pct": {"num_format": "0.0%"},
            "pct_bold": {"num_format": "0.0%", "bold": True, "top": 1},
            "ratio": {"num_format": "0.00"},
            "ratio_bold": {"num_format": "0.00", "bold": True, "top": 1},
            "int": {"num_format": "#,##0"},
            "int_bold": {"num_format": "#,##0", "bold": True, "top": 1},
            "hours": {"num_format": "#,##0.0"},
            "days": {"num_format": "0.00"},
            "date": {"num_format": "yyyy-mm-dd"},
            "datetime": {"num_format": "yyyy-mm-dd hh:mm:ss"},
            "week": {"num_format": "dd mmm", "rotation": 90, "bold": True, "font_color": "#FFFFFF",
                     "bg_color": HEADER_BG, "align": "center", "border": 1},
            "link": {"font_color": "#0563C1", "underline": 1},
            "portfolio": {"bold": True, "bg_color": "#D9E1F2", "top": 1},
            "program": {"bold": True, "bg_color": "#EDF1F9"},
            "indent1": {"indent": 1},
            "indent2": {"indent": 2},
            "total": {"bold": True, "top": 2},
            "red": {"bg_color": "#F4B6B6", "font_color": "#9C0006"},
            "amber": {"bg_color": "#FFE699", "font_color": "#7F6000"},
            "green": {"bg_color": "#C6EFCE", "font_color": "#006100"},
            "overrun": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
            "over_alloc": {"bold": True, "font_color": "#9C0006", "border": 2,
                           "border_color": "#9C0006"},
            "bar": {"bg_color": "#8EA9DB"},
            "bar_done": {"bg_color": "#2F5597"},
            "bar_critical": {"bg_color": "#E06666"},
            "status_col": {"left": 2, "left_color": "#C00000", "right": 2,
                           "right_color": "#C00000"},
            "label": {"bold": True, "align": "right"},
            "input": {"bg_color": "#FFF2CC", "border": 1, "num_format": "0.00"},
        }  # fmt: skip
        for name, spec in specs.items():
            self.formats[name] = self.wb.add_format(spec)
        # Combined formats of summary rows.
        for level in ("portfolio", "program"):
            base = specs[level]
            self.formats[f"{level}_money"] = self.wb.add_format({**base, "num_format": money})
            self.formats[f"{level}_pct"] = self.wb.add_format({**base, "num_format": "0.0%"})
            self.formats[f"{level}_ratio"] = self.wb.add_format({**base, "num_format": "0.00"})
            self.formats[f"{level}_int"] = self.wb.add_format({**base, "num_format": "#,##0"})
            self.formats[f"{level}_text"] = self.formats[level]
        self.formats["text_bold"] = self.formats["total"]

    def f(self, name: str) -> Format:
        return self.formats[name]

    def money(self, value: Decimal | None) -> float | None:
        """`value` rounded to the currency's minor unit (half up), as the cell's number."""
        return None if value is None else float(round_money(value, self.currency))

    def sheet(self, name: str, title: str, subtitle: str | None = None) -> Worksheet:
        """A new sheet with its title rows; landscape, one page wide, header repeated."""
        ws = self.wb.add_worksheet(name, worksheet_class=StatusSheet)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(HEADER)
        ws.hide_gridlines(2)
        ws.set_footer(f"&L{name}&C&P / &N&R{self.as_of_text()}")
        ws.write_string(0, 0, title, self.f("title"))
        ws.write_string(1, 0, subtitle or self.scope_text(), self.f("subtitle"))
        return ws

    def header(self, ws: Worksheet, columns: Sequence[tuple[str, float]], row: int = HEADER,
               first_col: int = 0) -> None:  # fmt: skip
        """Header cells and column widths."""
        for i, (name, width) in enumerate(columns):
            ws.set_column(first_col + i, first_col + i, width)
            ws.write_string(row, first_col + i, name, self.f("header"))

    def as_of_text(self) -> str:
        r = self.report
        # The same words live and as known at a past time: a reproduced workbook is the same.
        return f"as known at {r.as_known_at.strftime('%Y-%m-%d %H:%M UTC')}"

    def scope_text(self) -> str:
        r = self.report
        scope = ", ".join(
            f"{k} {v}" for k, v in (("portfolio", r.portfolio), ("program", r.program)) if v
        )
        return (
            f"Status date {r.status_date.isoformat()} (period {r.period}), {self.as_of_text()}; "
            f"amounts in {self.currency}" + (f"; {scope}" if scope else "")
        )

    def write(self, ws: Worksheet, row: int, col: int, value: Any, fmt: str = "text") -> None:
        """One cell by the value's type: None blank, numbers, dates, datetimes, text."""
        f = self.f(fmt)
        if value is None:
            ws.write_blank(row, col, None, f)
        elif isinstance(value, bool):
            ws.write_string(row, col, "yes" if value else "no", f)
        elif isinstance(value, Decimal):
            ws.write_number(row, col, float(value), f)
        elif isinstance(value, int | float):
            ws.write_number(row, col, value, f)
        elif isinstance(value, datetime):
            ws.write_datetime(row, col, value, f)
        elif isinstance(value, date):
            ws.write_datetime(row, col, value, f)
        else:
            ws.write_string(row, col, str(value), f)


def col(c: int) -> str:
    return str(xl_col_to_name(c))


def cell(row: int, c: int) -> str:
    """A1 reference of a 0-based (row, col)."""
    return f"{xl_col_to_name(c)}{row + 1}"


def write_workbook(
    path: Path,
    report: StatusReport,
    schedules: list[ProjectSchedule],
    *,
    currency: str,
    rag_rules: RagRules,
    sources: list[tuple[str, str]],
    command: str,
) -> None:
    """Write the status workbook to `path` (overwriting it). `sources`: (name, kind) of the
    configured connectors; `command`: how to reproduce this workbook (on the cover)."""
    from pmo_ledger.jobs.workbook import (
        budget,
        cover,
        quality,
        resources,
        schedule,
        summary,
        variances,
    )

    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "remove_timezone": True, "default_date_format": "yyyy-mm-dd"},
    )
    book = Book(wb, report, currency, rag_rules)
    wb.set_properties(
        {"title": "Status report", "subject": book.scope_text(), "comments": "pmo-ledger"}
    )
    cover.write(book, sources, command)
    summary.write(book)
    budget.write(book)
    variances.write(book)
    resources.write(book)
    schedule.write(book, schedules)
    quality.write(book)
    wb.close()
