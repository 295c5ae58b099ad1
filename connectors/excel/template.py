"""The documented templates (`pmo-ledger template budgets|plan`), written with XlsxWriter.

A template is a workbook the connector reads as it is: the data sheets with their header on
row 1 (bold, frozen, with an autofilter), each column formatted for what it holds (Period as
text, so Excel keeps a typed 2025-03 as it is; dates as yyyy-mm-dd; amounts with two
decimals; percent complete as a percentage), drop-down lists (data validation) for cost
types, version kinds and link types, number checks for amounts, days and percentages, and
an Instructions sheet listing every column. `rows` fills the data sheets (the sample
workbooks and tests); values are written as Excel types (numbers, dates), amounts through
their exact decimal text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pmo_ledger.connectors.excel.columns import (
    BUDGET_COLUMNS,
    DEPENDENCY_COLUMNS,
    LINK_TYPES,
    PLAN_COLUMNS,
    Column,
)
from pmo_ledger.connectors.excel.settings import BUDGET_KINDS

Template = Literal["budgets", "plan"]
#: Rows the validations and formats cover below the header.
ROWS = 5_000
_WIDTH = {"name": 32, "project": 14, "version": 16, "task": 12, "parent": 10}


def sheets_of(kind: Template) -> dict[str, tuple[Column, ...]]:
    """The data sheets of a template and their columns, in order."""
    if kind == "budgets":
        return {"Budgets": BUDGET_COLUMNS}
    return {"Plan": PLAN_COLUMNS, "Dependencies": DEPENDENCY_COLUMNS}


def write_template(
    path: Path,
    kind: Template,
    cost_types: Sequence[str],
    rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> None:
    """Write the `kind` template to `path`, its sheets filled with `rows` (sheet -> rows of
    field -> value) when given. Raises OSError when the file cannot be written."""
    import xlsxwriter  # heavy: loaded by this command only

    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    try:
        fmt = _formats(book)
        for sheet, columns in sheets_of(kind).items():
            _data_sheet(book, fmt, sheet, columns, cost_types, (rows or {}).get(sheet, ()))
        _instructions(book, fmt, kind, cost_types)
    finally:
        book.close()


def _formats(book: Any) -> dict[str, Any]:
    return {
        "header": book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
        "text": book.add_format({"num_format": "@"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "amount": book.add_format({"num_format": "#,##0.00"}),
        "days": book.add_format({"num_format": "0.00"}),
        "percent": book.add_format({"num_format": "0%"}),
        "int": book.add_format({"num_format": "0"}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "bold": book.add_format({"bold": True}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }


#: field -> format name of its column.
_COLUMN_FORMAT = {
    "period": "text",
    "from": "date",
    "to": "date",
    "effective_from": "date",
    "start": "date",
    "finish": "date",
    "status_date": "date",
    "amount": "amount",
    "hours": "days",
    "effort": "days",
    "optimistic": "days",
    "most_likely": "days",
    "pessimistic": "days",
    "lag": "days",
    "percent": "percent",
    "number": "int",
    "task": "text",
    "parent": "text",
    "predecessor": "text",
    "successor": "text",
    "wbs": "text",
}


def _data_sheet(
    book: Any,
    fmt: dict[str, Any],
    name: str,
    columns: tuple[Column, ...],
    cost_types: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    ws = book.add_worksheet(name)
    for i, column in enumerate(columns):
        ws.write_string(0, i, column.header, fmt["header"])
        style = fmt.get(_COLUMN_FORMAT.get(column.field, ""))
        ws.set_column(i, i, max(_WIDTH.get(column.field, 14), len(column.header) + 2), style)
        validation = _validation(column, cost_types)
        if validation is not None:
            ws.data_validation(1, i, ROWS, i, validation)
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # every column on the page's width, as many pages down as needed
    ws.repeat_rows(0)
    ws.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
    for r, row in enumerate(rows, start=1):
        for i, column in enumerate(columns):
            _write(ws, fmt, r, i, column.field, row.get(column.field))


def _validation(column: Column, cost_types: Sequence[str]) -> dict[str, Any] | None:
    """The data validation of a column: a list, or a number range."""
    lists = {"cost_type": list(cost_types), "kind": list(BUDGET_KINDS), "type": list(LINK_TYPES)}
    if column.field in lists:
        return {
            "validate": "list",
            "source": lists[column.field],
            "error_title": column.header,
            "error_message": f"{column.header}: one of {', '.join(lists[column.field])}",
        }
    if column.field in ("optimistic", "most_likely", "pessimistic", "hours", "effort"):
        return {"validate": "decimal", "criteria": ">=", "value": 0,
                "error_message": f"{column.header}: a number of 0 or more"}  # fmt: skip
    if column.field == "percent":
        return {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1,
                "error_message": "% complete: 0% to 100%"}  # fmt: skip
    if column.field == "amount":
        return {"validate": "decimal", "criteria": "between",
                "minimum": -900_000_000_000_000, "maximum": 900_000_000_000_000,
                "error_message": "Amount: a number"}  # fmt: skip
    if column.field == "number":
        return {"validate": "integer", "criteria": ">=", "value": 1,
                "error_message": "Version number: 1, 2, ..."}  # fmt: skip
    return None


def _write(ws: Any, fmt: dict[str, Any], r: int, c: int, field: str, value: Any) -> None:
    """One cell as Excel holds it: dates as dates, numbers as numbers, the rest as text."""
    if value is None:
        return
    style = fmt.get(_COLUMN_FORMAT.get(field, ""))
    if isinstance(value, date) and not isinstance(value, datetime):
        ws.write_datetime(r, c, value, fmt["date"])  # XlsxWriter takes a date as it is
    elif field == "percent" and isinstance(value, int | Decimal):
        ws.write_number(r, c, float(Decimal(value) / 100), fmt["percent"])
    elif isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        ws.write_number(r, c, float(value), style)  # a Decimal of <= 15 digits round-trips
    else:
        ws.write_string(r, c, str(value), style)


def _instructions(
    book: Any, fmt: dict[str, Any], kind: Template, cost_types: Sequence[str]
) -> None:
    ws = book.add_worksheet("Instructions")
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 12)
    ws.set_column(2, 2, 90, fmt["wrap"])
    lines = INTRO[kind]
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.write_string(0, 0, f"pmo-ledger {kind} template", fmt["title"])
    r = 2
    for text in lines:
        ws.merge_range(r, 0, r, 2, text, fmt["wrap"])
        ws.set_row(r, 30)  # room for a wrapped second line
        r += 1
    r += 1
    for sheet, columns in sheets_of(kind).items():
        ws.write_string(r, 0, f"Sheet {sheet}", fmt["bold"])
        ws.write_string(r, 1, "required", fmt["bold"])
        ws.write_string(r, 2, "what it holds", fmt["bold"])
        r += 1
        for column in columns:
            ws.write_string(r, 0, column.header)
            ws.write_string(r, 1, "yes" if column.required else "")
            ws.write_string(r, 2, column.note)
            r += 1
        r += 1
    if kind == "budgets":
        ws.write_string(r, 0, "Cost types", fmt["bold"])
        ws.write_string(r, 2, ", ".join(cost_types))
    else:
        ws.write_string(r, 0, "Link types", fmt["bold"])
        ws.write_string(r, 2, "FS finish-to-start, SS start-to-start, FF finish-to-finish, "
                        "SF start-to-finish; a negative lag is a lead")  # fmt: skip


INTRO: dict[str, tuple[str, ...]] = {
    "budgets": (
        "One row per amount: a project's budget version (Version), cost type and fiscal "
        "period (Period YYYY-PP, or a From and To date range spread evenly over its periods).",
        "Rows with the same Project and Version make one version; a row is identified by "
        "Project, Version, Cost type, Task and Period, never by its position.",
        "Amounts are read exactly: at most the currency's decimals (USD 2, JPY 0); "
        "a computed cell should use =ROUND(...; 2).",
        "Removing a row reverses its amount in the ledger; changing a cell restates that line.",
        "A version with a bad cell is not loaded at all; the ledger keeps it as it was and "
        "the quarantine names every bad cell, e.g. [file.xlsx]Budgets!D14.",
        "Load it with: pmo-ledger import budgets FILE.xlsx [--dry-run]",
    ),
    "plan": (
        "Plan: one row per task; Parent names a summary task's Task ID. Durations are in "
        "working days: optimistic <= most likely <= pessimistic (all three or none).",
        "% complete is the task's at its Status date (else the date the file was saved).",
        "Dependencies: one row per link between two Task IDs of this file; Type FS/SS/FF/SF, "
        "Lag days (negative: a lead).",
        "Removing a row removes the task or link from the ledger; a bad row is quarantined "
        "and the ledger keeps the task as it was.",
        "Load it with: pmo-ledger import plan FILE.xlsx [--dry-run]; then pmo-ledger plan.",
    ),
}
