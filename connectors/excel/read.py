"""One stream's full read over every file: records, rejected rows and the deletions of what
the files no longer list, from the keys each file listed last time (the stored token).

- a file read now: its keys not listed any more are deleted; its keys now are kept;
- a file that cannot be read, or whose sheet lacks a required column: one rejected row
  naming it, and its earlier keys are kept as they were (nothing is reversed);
- a file listed before and gone now, that the configured path still covers: every key it
  listed is deleted; one the path does not cover (read by `pmo-ledger import`) stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING

import structlog

from pmo_ledger.connectors.base import Page
from pmo_ledger.connectors.excel import cells
from pmo_ledger.connectors.excel.budgets import read_budgets
from pmo_ledger.connectors.excel.columns import BUDGET_COLUMNS, PLAN_COLUMNS, SheetRead, keyed
from pmo_ledger.connectors.excel.plan import read_dependencies, read_tasks
from pmo_ledger.connectors.excel.workbook import Workbook, WorkbookError, covers, workbook_files
from pmo_ledger.ledger.records import ProjectRecord, Record, Rejected

if TYPE_CHECKING:
    from pmo_ledger.connectors.excel import ExcelConnector

log = structlog.get_logger(__name__)
PAGE_SIZE = 500


def read_stream(
    connector: ExcelConnector, stream: str, previous: dict[str, list[str]]
) -> tuple[list[Page], dict[str, list[str]]]:
    """The pages of `stream` over every file and, per file, the keys it lists now (what the
    next read compares with). Raises SourceError when the path matches no workbook."""
    c = connector.config
    files = workbook_files(c.path, c.pattern)
    records: list[Record] = []
    rejected: list[Rejected] = []
    deletions: list[str] = []
    listed: dict[str, list[str]] = {}
    for path in files:
        name = str(path)
        try:
            read = _read_file(connector, stream, connector.book(path))
        except WorkbookError as exc:
            read = SheetRead(complete=False)
            read.rejected.append(
                Rejected(path.stem, "unreadable_workbook", {"file": name, "problems": [str(exc)]})
            )
        records += read.records
        rejected += read.rejected
        before = previous.get(name, [])
        if read.complete:
            deletions += sorted(set(before) - read.keys)
            listed[name] = sorted(read.keys)
        else:
            listed[name] = sorted(set(before) | read.keys)
    for name, keys in previous.items():
        if name in listed:
            continue
        if covers(c.path, c.pattern, name):
            deletions += keys  # the file is gone from the folder: its rows are gone
        else:
            listed[name] = keys
    log.info(
        "excel_read",
        connector=connector.name,
        stream=stream,
        files=len(files),
        records=len(records),
        rejected=len(rejected),
        deleted=len(deletions),
    )
    pages = [Page(records=chunk) for chunk in _chunks(records, PAGE_SIZE)]
    if rejected or deletions or not pages:
        pages.append(Page(deletions=deletions, rejected=rejected))
    return pages, listed


def _read_file(connector: ExcelConnector, stream: str, book: Workbook) -> SheetRead:
    c, calendar = connector.config, connector.context.calendar
    if stream == "budgets":
        return read_budgets(book, c, calendar)
    if stream == "tasks":
        return read_tasks(book, c)
    if stream == "dependencies":
        return read_dependencies(book, c)
    return _projects(book, connector)


def _projects(book: Workbook, connector: ExcelConnector) -> SheetRead:
    """The project codes the file's Budgets and Plan sheets name, one record each (no
    deletions: a project is never deleted by a spreadsheet)."""
    c = connector.config
    codes: set[str] = set()
    for name, columns in ((c.budgets_sheet, BUDGET_COLUMNS), (c.plan_sheet, PLAN_COLUMNS)):
        sheet = book.sheet(name)
        if sheet is None:
            continue
        column = keyed(sheet, columns).get("project")
        if column is None:
            continue
        codes.update(code for row in sheet.rows if (code := cells.text(row.value(column))))
    modified = datetime.fromtimestamp(book.path.stat().st_mtime, UTC)
    read = SheetRead(complete=False)  # keys are never reversed
    for code in sorted(codes):
        read.records.append(
            ProjectRecord(external_id=code, code=code, name=code, source_modified_at=modified)
        )
    return read


def _chunks(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


__all__ = ["read_stream"]
