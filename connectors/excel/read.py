"""One stream's full read over every file: records, rejected rows and the deletions of what
the files no longer list, from the keys each file listed last time (the stored token).

- a file read now without a problem: its keys not listed any more are deleted (the connector
  kit's `listing.vanished`); its keys now are kept;
- a file with any problem on any of its sheets (a bad cell, a duplicate key, a missing
  column) is refused whole: every problem is quarantined (sheet and cell), each record it
  would have given is held as `refused_file` with the file's problems, nothing of it is
  written and its earlier keys are kept as they were (nothing is reversed);
- a file that cannot be read: one rejected row naming it, its earlier keys kept;
- a file listed before and gone now, that the configured path still covers: every key it
  listed is deleted; one the path does not cover (read by `pmo-ledger import`) stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from pmo_ledger.connectors.base import Page
from pmo_ledger.connectors.excel import cells
from pmo_ledger.connectors.excel.budgets import read_budgets
from pmo_ledger.connectors.excel.columns import BUDGET_COLUMNS, PLAN_COLUMNS, SheetRead, keyed
from pmo_ledger.connectors.excel.plan import read_dependencies, read_tasks
from pmo_ledger.connectors.excel.workbook import Workbook, WorkbookError, covers, workbook_files
from pmo_ledger.connectors.kit.listing import vanished
from pmo_ledger.ledger.records import ProjectRecord, Record, Rejected

if TYPE_CHECKING:
    from pmo_ledger.connectors.excel import ExcelConnector

log = structlog.get_logger(__name__)
PAGE_SIZE = 500


def read_stream(
    connector: ExcelConnector, stream: str, previous: dict[str, set[str]]
) -> tuple[list[Page], dict[str, set[str]]]:
    """The pages of `stream` over every file and, per file, the keys it lists now (what the
    next read compares with). Raises SourceError when the path matches no workbook."""
    c = connector.config
    files = workbook_files(c.path, c.pattern)
    records: list[Record] = []
    rejected: list[Rejected] = []
    deletions: list[str] = []
    listed: dict[str, set[str]] = {}
    refused = 0
    for path in files:
        name = str(path)
        before = previous.get(name, set())
        try:
            reads = file_reads(connector, connector.book(path))
        except WorkbookError as exc:
            problem = Rejected(
                path.stem, "unreadable_workbook", {"file": name, "problems": [str(exc)]}
            )
            rejected.append(problem)
            listed[name] = before
            continue
        read = reads[stream]
        problems = file_problems(reads)
        if problems:  # the file loads whole or not at all: nothing of it, nothing reversed
            refused += 1
            rejected += read.rejected + [_refused(r, name, problems) for r in read.records]
            listed[name] = before
            continue
        records += read.records
        if read.complete:
            deletions += vanished(before, read.keys)
            listed[name] = read.keys
        else:
            listed[name] = before | read.keys
    for name, keys in previous.items():
        if name in listed:
            continue
        if covers(c.path, c.pattern, name):
            deletions += sorted(keys)  # the file is gone from the folder: its rows are gone
        else:
            listed[name] = keys
    log.info(
        "excel_read",
        connector=connector.name,
        stream=stream,
        files=len(files),
        refused=refused,
        records=len(records),
        rejected=len(rejected),
        deleted=len(deletions),
    )
    pages = [Page(records=chunk) for chunk in _chunks(records, PAGE_SIZE)]
    if rejected or deletions or not pages:
        pages.append(Page(deletions=deletions, rejected=rejected))
    return pages, listed


def file_reads(connector: ExcelConnector, book: Workbook) -> dict[str, SheetRead]:
    """Every stream's read of `book`, made once per workbook and connector (the streams of
    one run share it: a file is refused for a problem on any of its sheets)."""
    cached = connector.reads.get(book.path)
    if cached is not None and cached[0] is book:
        return cached[1]
    reads = {stream: _read_file(connector, stream, book) for stream in STREAMS_READ}
    connector.reads[book.path] = (book, reads)
    return reads


def file_problems(reads: dict[str, SheetRead]) -> list[str]:
    """Every problem of a file's sheets, one line each (sheet and cell), in stream order."""
    out: list[str] = []
    for stream in STREAMS_READ:
        for r in reads[stream].rejected:
            payload = r.payload if isinstance(r.payload, dict) else {}
            out += [str(p) for p in payload.get("problems", [])] or [f"{r.external_id}: {r.reason}"]
    return out


def _refused(record: Record, file: str, problems: list[str]) -> Rejected:
    """A record of a refused file, held with the file's problems (the ledger keeps its key as
    it was)."""
    return Rejected(
        getattr(record, "external_id", None),
        "refused_file",
        {
            "file": file,
            "problems": [f"{Path(file).name}{REFUSED}", *problems],
        },
    )


#: Ends the first problem of a record held because its file is refused.
REFUSED = ": refused, nothing of it loaded"
#: The streams a file is read for, in the order their problems are reported.
STREAMS_READ = ("projects", "budgets", "tasks", "dependencies")


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


__all__ = ["REFUSED", "file_problems", "file_reads", "read_stream"]
