"""Reading one workbook: which files a path means, their sheets' rows by column name.

openpyxl is imported here, when a workbook is first read, never by the package's
`__init__` (so `pmo-ledger --help` and `pmo-ledger connectors` stay light). A workbook is read
in read-only mode with the values Excel last calculated (`data_only`): a formula counts as
the number it shows.

The header is the sheet's first row; columns are found by name, case and punctuation aside
(`% complete`, `Percent complete` and `PERCENT_COMPLETE` are one column), in any order;
other columns are ignored. Blank rows are skipped. A file that is not an xlsx workbook, is
encrypted (password-protected) or is being written (Excel's `~$` lock file beside it) raises
`WorkbookError` with one line that says so.
"""

from __future__ import annotations

import fnmatch
import glob
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pmo_ledger.connectors.errors import SourceError

#: Bytes an xlsx file (a zip archive) starts with, and an OLE2 compound file (an encrypted,
#: password-protected xlsx, or an old .xls).
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class WorkbookError(Exception):
    """A workbook cannot be read at all; the message is one line naming the file."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: its value, its reference (D14) and its number format (percent cells)."""

    value: Any
    ref: str
    number_format: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A data row of a sheet: its 1-based row number and its cells by column key."""

    sheet: str
    number: int
    cells: Mapping[str, Cell]

    def cell(self, key: str) -> Cell:
        """The row's cell of column `key` (an empty one when the sheet has no such column)."""
        found = self.cells.get(key)
        return found if found is not None else Cell(None, f"{key}{self.number}")

    def value(self, key: str) -> Any:
        return self.cell(key).value


@dataclass(frozen=True, slots=True)
class Sheet:
    """A sheet's data rows, its name as written, and the column keys its header lacked."""

    name: str
    rows: list[Row]
    columns: Mapping[str, str] = field(default_factory=dict)  # key -> column letter


@dataclass(frozen=True, slots=True)
class Workbook:
    """The sheets of one file (by lower-case name) and the date it was last saved."""

    path: Path
    sheets: Mapping[str, Sheet]
    saved_on: date

    @property
    def stem(self) -> str:
        return self.path.stem

    def sheet(self, name: str) -> Sheet | None:
        return self.sheets.get(name.strip().lower())


def header_key(text: Any) -> str:
    """A header's column key: lower case, `%` as 'percent', other punctuation as spaces."""
    words = re.sub(r"[^a-z0-9%]+", " ", str(text or "").lower()).replace("%", " percent ")
    return " ".join(words.split())


def workbook_files(path: str, pattern: str) -> list[Path]:
    """The workbooks `path` means: the file itself, the folder's files matching `pattern`,
    or the glob's matches; Excel's `~$` lock files and folders never. Sorted by path.
    Raises SourceError when nothing matches (an empty read never means "delete it all")."""
    target = Path(path).expanduser()
    if target.is_file():
        found = [target]
    elif target.is_dir():
        found = [p for p in target.iterdir() if fnmatch.fnmatch(p.name, pattern)]
    elif _is_glob(path):
        found = [Path(p) for p in glob.glob(str(target))]
    else:
        found = []
    found = [p for p in found if p.is_file() and not p.name.startswith("~$")]
    if not found:
        raise SourceError(f"no workbook at {path!r} (pattern {pattern!r}): nothing is read")
    return sorted(p.resolve() for p in found)


def covers(path: str, pattern: str, file: str) -> bool:
    """Whether `file` (an absolute path) is one `path` + `pattern` would read if it existed:
    its keys are reversed when it is gone; files read by hand (`pmo-ledger import`) are not."""
    target = Path(path).expanduser().resolve()
    candidate = Path(file)
    if _is_glob(path):
        return fnmatch.fnmatch(str(candidate), str(target))
    if candidate == target:
        return True
    return candidate.parent == target and fnmatch.fnmatch(candidate.name, pattern)


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _check_file(path: Path) -> None:
    """One line for a file openpyxl cannot read: encrypted, not xlsx, or open elsewhere."""
    lock = path.with_name(f"~${path.name}")
    if lock.exists():
        raise WorkbookError(f"{path.name}: is open in Excel elsewhere ({lock.name} exists)")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head == _OLE:
        raise WorkbookError(
            f"{path.name}: is password-protected or an old .xls: save it as an unprotected .xlsx"
        )
    if head[:4] != _ZIP or not zipfile.is_zipfile(path):
        raise WorkbookError(f"{path.name}: is not an xlsx workbook")


def read_workbook(path: Path, wanted: Iterable[str]) -> Workbook:
    """The sheets named in `wanted` (case-insensitive) of the workbook at `path`; the others
    are not read. Raises WorkbookError for a file that cannot be read."""
    try:
        return _read_workbook(path, wanted)
    except PermissionError:
        raise WorkbookError(
            f"{path.name}: cannot be opened (open elsewhere, or no permission)"
        ) from None
    except OSError as exc:
        raise WorkbookError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def _read_workbook(path: Path, wanted: Iterable[str]) -> Workbook:
    _check_file(path)
    from openpyxl import load_workbook  # heavy: loaded on the first read only

    names = {n.strip().lower() for n in wanted}
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise WorkbookError(f"{path.name}: is not a readable xlsx workbook ({exc})") from exc
    try:
        sheets = {
            ws.title.strip().lower(): _sheet(ws)
            for ws in book.worksheets
            if ws.title.strip().lower() in names
        }
        modified = book.properties.modified
    finally:
        book.close()
    if isinstance(modified, datetime):
        saved = (modified if modified.tzinfo else modified.replace(tzinfo=UTC)).date()
    else:
        saved = datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
    return Workbook(path, sheets, saved)


def _sheet(ws: Any) -> Sheet:
    """The data rows of a worksheet read in read-only mode (header on row 1)."""
    rows = ws.iter_rows()
    header = next(rows, None)
    if header is None:
        return Sheet(ws.title, [])
    keys: dict[int, str] = {}
    letters: dict[str, str] = {}
    for i, cell in enumerate(header):
        key = header_key(cell.value)
        if key and key not in letters:
            keys[i] = key
            letters[key] = _letter(i)
    out: list[Row] = []
    for number, cells in enumerate(rows, start=2):
        found = {
            keys[i]: Cell(c.value, f"{_letter(i)}{number}", getattr(c, "number_format", None))
            for i, c in enumerate(cells)
            if i in keys
        }
        if any(_filled(c.value) for c in found.values()):
            out.append(Row(ws.title, number, found))
    return Sheet(ws.title, out, letters)


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _letter(index: int) -> str:
    """Column letters of a 0-based column index (0 -> A, 26 -> AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out
