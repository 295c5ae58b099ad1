"""The sheets' columns: the header each template writes, the other names a header may use,
which are required, and how a bad cell is named in a message.

A message names the cell the way Excel names a cell of another workbook,
`[budgets.xlsx]Budgets!D14: 'abc' is not an amount`, so it reads as file, sheet, column and row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pmo_ledger.connectors.excel.cells import CellError
from pmo_ledger.connectors.excel.workbook import Cell, Row, Sheet, Workbook, header_key
from pmo_ledger.ledger.records import Record, Rejected

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a sheet: its field name, the header the template writes, other headers
    that mean it, and whether every row must fill it."""

    field: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""


BUDGET_COLUMNS = (
    Column("project", "Project", ("project code", "project id"), True, "ledger project code"),
    Column("cost_type", "Cost type", ("cost element", "category"), True, "from the list"),
    Column("period", "Period", ("fiscal period",), note="YYYY-PP; or From and To"),
    Column("from", "From", ("start", "period start", "start date"), note="date range start"),
    Column("to", "To", ("finish", "end", "period end", "end date"), note="date range end"),
    Column("amount", "Amount", (), True, "exact, at most the currency's decimals"),
    Column("currency", "Currency", ("ccy",), note="ISO code, e.g. USD"),
    Column("version", "Version", ("version label", "label"), True, "e.g. Baseline, Current"),
    Column("kind", "Kind", ("version kind",), note="baseline, current, forecast or plan"),
    Column("number", "Version number", ("number",), note="a higher current one supersedes"),
    Column("effective_from", "Effective from", ("effective",), note="date the version holds"),
    Column("hours", "Hours", ("budget hours",), note="optional budgeted hours"),
    Column("task", "Task", ("task id",), note="optional Task ID of the plan"),
)
PLAN_COLUMNS = (
    Column("task", "Task ID", ("task", "id"), True, "unique in the file"),
    Column("project", "Project", ("project code", "project id"), True, "ledger project code"),
    Column("parent", "Parent", ("parent id", "parent task"), note="Task ID of the summary task"),
    Column("name", "Name", ("task name",), True),
    Column("wbs", "WBS", ("wbs code",), note="optional outline number"),
    Column("start", "Planned start", ("start",), note="date"),
    Column("finish", "Planned finish", ("finish",), note="date"),
    Column("optimistic", "Optimistic days", ("optimistic",), note="working days"),
    Column("most_likely", "Most likely days", ("most likely",), note="working days"),
    Column("pessimistic", "Pessimistic days", ("pessimistic",), note="working days"),
    Column("percent", "% complete", ("percent complete", "complete"), note="0-100 or 0%-100%"),
    Column("status_date", "Status date", (), note="date of the % complete"),
    Column("effort", "Effort hours", ("effort",), note="optional planned hours"),
)
DEPENDENCY_COLUMNS = (
    Column("predecessor", "Predecessor", ("from task",), True, "Task ID"),
    Column("successor", "Successor", ("to task",), True, "Task ID"),
    Column("type", "Type", ("link type", "dependency type"), note="FS (default), SS, FF, SF"),
    Column("lag", "Lag days", ("lag",), note="working days; negative for a lead"),
)
LINK_TYPES = ("FS", "SS", "FF", "SF")


def keyed(sheet: Sheet, columns: tuple[Column, ...]) -> dict[str, str]:
    """field -> the column key the sheet's header uses for it (the template's header or an
    alias), for the columns the sheet has."""
    out: dict[str, str] = {}
    for column in columns:
        for name in (column.header, *column.aliases):
            key = header_key(name)
            if key in sheet.columns:
                out[column.field] = key
                break
    return out


def missing(found: Mapping[str, str], columns: tuple[Column, ...]) -> list[str]:
    """Headers of the required columns the sheet lacks."""
    return [c.header for c in columns if c.required and c.field not in found]


def where(book: Workbook, sheet: str, ref: str) -> str:
    """`[file.xlsx]Sheet!D14`: a cell as a message names it."""
    return f"[{book.path.name}]{sheet}!{ref}"


class Fields:
    """The typed values of one row, collecting a message for every bad or missing cell."""

    def __init__(self, book: Workbook, row: Row, found: Mapping[str, str]) -> None:
        self.book, self.row, self.found = book, row, found
        #: (reason code, message) of every bad or missing cell, in column order.
        self.problems: list[tuple[str, str]] = []

    def ref(self, field: str) -> str:
        key = self.found.get(field)
        return self.row.cell(key).ref if key else f"row {self.row.number}"

    def at(self, field: str) -> str:
        return where(self.book, self.row.sheet, self.ref(field))

    def raw(self, field: str) -> Any:
        key = self.found.get(field)
        value = self.row.value(key) if key else None
        return None if isinstance(value, str) and not value.strip() else value

    def cell(self, field: str) -> Cell | None:
        key = self.found.get(field)
        return self.row.cell(key) if key else None

    def get(
        self,
        field: str,
        convert: Callable[[Any], T],
        *,
        required: bool = False,
        code: str = "bad_value",
    ) -> T | None:
        """The field converted, or None when empty (a problem when `required`) or bad (a
        problem with reason `code`)."""
        value = self.raw(field)
        if value is None:
            if required:
                self.fail(field, "is empty", "missing_value")
            return None
        try:
            return convert(value)
        except CellError as exc:
            self.fail(field, str(exc), code)
            return None

    def fail(self, field: str, message: str, code: str = "bad_value") -> None:
        self.problems.append((code, f"{self.at(field)}: {message}"))


@dataclass
class SheetRead:
    """What one file gave for a stream: its records, its rejected rows, the keys the ledger
    keeps (those of the records and of the rejected rows: a rejected row keeps what the
    ledger had), and `complete`: False when the sheet could not be read at all (a missing
    column, an unreadable file), so the file's earlier keys all stay as they are."""

    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    complete: bool = True

    def reject(self, book: Workbook, key: str, problems: list[tuple[str, str]], sheet: str) -> None:
        """Quarantine `key` with every problem found; the ledger keeps its earlier state."""
        self.keys.add(key)
        self.rejected.append(
            Rejected(
                key,
                problems[0][0],
                {"file": str(book.path), "sheet": sheet, "problems": [m for _, m in problems]},
            )
        )


def sheet_problem(book: Workbook, sheet: Sheet, columns: tuple[Column, ...]) -> SheetRead | None:
    """A SheetRead that rejects the whole sheet when it lacks a required column, else None."""
    lacking = missing(keyed(sheet, columns), columns)
    if not lacking:
        return None
    read = SheetRead(complete=False)
    message = f"[{book.path.name}]{sheet.name}!1: the header has no column {', '.join(lacking)}"
    read.reject(book, f"{book.stem}/{sheet.name}", [("missing_column", message)], sheet.name)
    return read


def open_sheet(
    book: Workbook, name: str, columns: tuple[Column, ...]
) -> tuple[Sheet, dict[str, str]] | SheetRead:
    """The sheet `name` with its field -> column key map; or the SheetRead its stream gives
    instead: empty when the workbook has no such sheet, a rejection of the whole sheet when
    its header lacks a required column."""
    sheet = book.sheet(name)
    if sheet is None:
        return SheetRead()
    problem = sheet_problem(book, sheet, columns)
    return problem if problem is not None else (sheet, keyed(sheet, columns))


def settle(
    read: SheetRead,
    book: Workbook,
    sheet: str,
    rows: Mapping[str, tuple[Record | None, list[tuple[str, str]]]],
) -> SheetRead:
    """Add each key's record to `read`, or quarantine the key with its problems."""
    for key, (record, problems) in rows.items():
        if problems or record is None:
            read.reject(book, key, problems, sheet)
        else:
            read.keys.add(key)
            read.records.append(record)
    return read
