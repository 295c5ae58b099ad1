"""The Plan and Dependencies sheets: rows -> tasks (with three-point estimates and percent
complete) and task links.

A task is keyed `<file stem>/<Task ID>` (its parent likewise), a link
`<file stem>/<predecessor>-><successor>/<type>`: the Task IDs the sheet gives, never row numbers.
Links join tasks of the same file. Percent complete is the task's at its Status date (the
row's, else the connector's `status_date`, else the date the workbook was last saved), so an
unchanged file appends no progress. A bad row, or two rows with the same key (both are named),
is rejected with its problems; `read` then refuses the whole file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.excel import cells
from pmo_ledger.connectors.excel.columns import (
    DEPENDENCY_COLUMNS,
    LINK_TYPES,
    PLAN_COLUMNS,
    Fields,
    SheetRead,
    keyed,
    open_sheet,
    settle,
)
from pmo_ledger.connectors.excel.settings import ExcelSettings
from pmo_ledger.connectors.excel.workbook import Workbook
from pmo_ledger.ledger.records import DependencyRecord, Record, TaskRecord

_HOURS_Q = Decimal("0.01")


def _modified(book: Workbook) -> datetime:
    return datetime.fromtimestamp(book.path.stat().st_mtime, UTC)


def task_ids(book: Workbook, settings: ExcelSettings) -> set[str]:
    """The Task IDs the Plan sheet lists (every row that gives one)."""
    sheet = book.sheet(settings.plan_sheet)
    if sheet is None:
        return set()
    found = keyed(sheet, PLAN_COLUMNS)
    ids = {cells.text(row.value(found["task"])) for row in sheet.rows if "task" in found}
    return {i for i in ids if i}


def read_tasks(book: Workbook, settings: ExcelSettings) -> SheetRead:
    """The tasks of `book`'s Plan sheet (none when it has no such sheet)."""
    opened = open_sheet(book, settings.plan_sheet, PLAN_COLUMNS)
    if isinstance(opened, SheetRead):
        return opened
    sheet, found = opened
    read = SheetRead()
    seen: dict[str, int] = {}
    rows: dict[str, tuple[Record | None, list[tuple[str, str]]]] = {}
    modified = _modified(book)
    for row in sheet.rows:
        f = Fields(book, row, found)
        task = f.get("task", cells.text, required=True)
        if task is None:
            read.reject(book, f"{book.stem}/{sheet.name}/row {row.number}", f.problems, sheet.name)
            continue
        key = f"{book.stem}/{task}"
        if task in seen:
            message = f"{f.at('task')}: Task ID {task} is also on row {seen[task]}"
            rows[key] = (None, [*rows[key][1], ("duplicate_key", message)])
            continue
        seen[task] = row.number
        rows[key] = (_task(f, key, book, settings, modified), f.problems)
    return settle(read, book, sheet.name, rows)


def _task(
    f: Fields, key: str, book: Workbook, settings: ExcelSettings, modified: datetime
) -> TaskRecord | None:
    project = f.get("project", cells.text, required=True)
    name = f.get("name", cells.text, required=True)
    parent = f.get("parent", cells.text)
    start = f.get("start", cells.day, code="bad_date")
    finish = f.get("finish", cells.day, code="bad_date")
    if start and finish and finish < start:
        f.fail(
            "finish", f"{finish.isoformat()} is before the start ({start.isoformat()})", "bad_date"
        )
    estimates = [f.get(k, cells.days) for k in ("optimistic", "most_likely", "pessimistic")]
    given = [e for e in estimates if e is not None]
    if given and len(given) < 3:
        f.fail(
            "optimistic", "give all three estimates (optimistic, most likely, pessimistic) or none"
        )
    elif given and not (given[0] <= given[1] <= given[2]):
        f.fail("most_likely", f"estimates {given[0]} / {given[1]} / {given[2]} are not "
               "optimistic <= most likely <= pessimistic")  # fmt: skip
    if any(e is not None and e < 0 for e in given):
        f.fail("optimistic", "an estimate is negative")
    cell = f.cell("percent")
    pct = f.get("percent", lambda x: cells.percent(x, cell.number_format if cell else None))
    status: date | None = f.get("status_date", cells.day, code="bad_date")
    effort = f.get("effort", lambda x: cells.number(x, "a number of hours").quantize(_HOURS_Q))
    if f.problems or project is None or name is None:
        return None
    return TaskRecord(
        external_id=key,
        project_ref=project,
        name=name,
        parent_ref=f"{book.stem}/{parent}" if parent else None,
        wbs_code=f.get("wbs", cells.text),
        planned_start=start,
        planned_finish=finish,
        effort_hours=effort,
        percent_complete=pct,
        status_date=(status or settings.status_date or book.saved_on) if pct is not None else None,
        optimistic_days=estimates[0],
        most_likely_days=estimates[1],
        pessimistic_days=estimates[2],
        source_modified_at=modified,
    )


def read_dependencies(book: Workbook, settings: ExcelSettings) -> SheetRead:
    """The task links of `book`'s Dependencies sheet (none when it has no such sheet)."""
    opened = open_sheet(book, settings.dependencies_sheet, DEPENDENCY_COLUMNS)
    if isinstance(opened, SheetRead):
        return opened
    sheet, found = opened
    tasks = task_ids(book, settings)
    read = SheetRead()
    seen: dict[str, int] = {}
    rows: dict[str, tuple[Record | None, list[tuple[str, str]]]] = {}
    modified = _modified(book)
    for row in sheet.rows:
        f = Fields(book, row, found)
        pred = f.get("predecessor", cells.text, required=True)
        succ = f.get("successor", cells.text, required=True)
        if pred is None or succ is None:
            read.reject(book, f"{book.stem}/{sheet.name}/row {row.number}", f.problems, sheet.name)
            continue
        kind = f.get("type", _link_type) or "FS"
        key = f"{book.stem}/{pred}->{succ}/{kind}"
        if key in rows:
            message = (
                f"{f.at('predecessor')}: the {kind} link {pred} -> {succ} is also on row "
                f"{seen[key]}"
            )
            rows[key] = (None, [*rows[key][1], ("duplicate_key", message)])
            continue
        seen[key] = row.number
        for field_, task in (("predecessor", pred), ("successor", succ)):
            if task not in tasks:
                sheet_name = settings.plan_sheet
                f.fail(field_, f"{cells.shown(task)} is no Task ID of the {sheet_name} sheet",
                       "unknown_task")  # fmt: skip
        if pred == succ:
            f.fail("successor", "a task cannot follow itself")
        lag = f.get("lag", cells.days) or Decimal("0.00")
        record = None
        if not f.problems:
            record = DependencyRecord(
                external_id=key,
                predecessor_ref=f"{book.stem}/{pred}",
                successor_ref=f"{book.stem}/{succ}",
                dependency_type=kind,  # type: ignore[arg-type]
                lag_days=lag,
                source_modified_at=modified,
            )
        rows[key] = (record, f.problems)
    return settle(read, book, sheet.name, rows)


def _link_type(value: Any) -> str:
    kind = (cells.text(value) or "").upper()
    if kind not in LINK_TYPES:
        raise cells.CellError(f"{cells.shown(value)} is not a link type ({', '.join(LINK_TYPES)})")
    return kind
