"""RFC: the `Connection` of a PyRFC-compatible module, RFC_READ_TABLE and the error table.

SAP's `pyrfc` is not on PyPI (it needs the proprietary SAP NW RFC SDK), so it is never a
dependency: the module named by `rfc_module` (default `pyrfc`, or any drop-in with the same
`Connection(**params).call(name, **params) -> dict`) is imported when the first call is made.

RFC_READ_TABLE (or the function named by `read_table_function`, e.g. `/BODS/RFC_READ_TABLE`):

- the WHERE clause travels as OPTIONS lines of at most 72 characters, cut at blanks outside
  literals (a token never spans two lines), with blanks around parentheses;
- one row must fit the function's buffer (512 bytes): a probe with `NO_DATA = 'X'` gives every
  field's length, the fields are cut into chunks that fit, each chunk repeats the key fields,
  and the chunks' rows are joined back by key (never by position);
- rows are paged with ROWSKIPS / ROWCOUNT (ints), and each row is cut from `WA` by the FIELDS'
  OFFSET and LENGTH, never split on the delimiter (it can occur in values). PyRFC strips
  trailing blanks, so the last field may be shorter than its LENGTH;
- ROWSKIPS has no guaranteed order (there is no ORDER BY): a key met twice, or chunks that do
  not list the same keys, mean the pages did not agree (the database gave another order, or
  the table moved under the read). The read is then done again with each chunk in one call
  (ROWCOUNT 0: no pages to disagree); if that disagrees too, it fails as a transient error.

Errors: a CommunicationError is transient and retried (a new Connection, the same page again,
so nothing is read twice); LogonError, ABAPApplicationError (by its key: TABLE_NOT_AVAILABLE,
NOT_AUTHORIZED, ...) and RETURN messages of type E/A become the contract's typed errors with
SAP's message text (`rfc_errors.RFC_ERRORS`).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.connectors.kit.errors import ErrorTable, Fault
from pmo_ledger.connectors.sap.rfc_errors import MISSING_MODULE, RFC_ERRORS, return_error

log = structlog.get_logger(__name__)

OPTION_WIDTH = 72
ROW_BYTES = 512


@dataclass(frozen=True, slots=True)
class Field:
    """One FIELDS row of RFC_READ_TABLE: name, offset and length in WA, ABAP type."""

    name: str
    offset: int
    length: int
    type: str = "C"


def where_lines(where: str, width: int = OPTION_WIDTH) -> list[dict[str, str]]:
    """A WHERE clause as OPTIONS rows `{'TEXT': line}` of at most `width` characters, cut at
    blanks outside '...' literals. Raises ValueError for a token (a literal) longer than a
    line or an unclosed literal."""
    tokens: list[str] = []
    current, quoted = "", False
    for ch in where:
        if ch == "'":
            quoted = not quoted  # '' inside a literal toggles twice: still one token
        if ch == " " and not quoted:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += ch
    if quoted:
        raise ValueError(f"unclosed literal in {where!r}")
    if current:
        tokens.append(current)
    lines: list[str] = []
    line = ""
    for token in tokens:
        if len(token) > width:
            raise ValueError(f"{token!r} is longer than an OPTIONS line ({width} characters)")
        if line and len(line) + 1 + len(token) > width:
            lines.append(line)
            line = token
        else:
            line = f"{line} {token}" if line else token
    if line:
        lines.append(line)
    return [{"TEXT": text} for text in lines]


def literal(value: str) -> str:
    """An Open SQL literal: single quotes, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def condition(field: str, op: str, value: str) -> str:
    """`FIELD op 'value'` with blanks around the operator."""
    return f"{field} {op} {literal(value)}"


def any_of(field: str, values: Sequence[str]) -> str:
    """`( F = 'a' OR F = 'b' )`: one value is just `F = 'a'`."""
    if len(values) == 1:
        return condition(field, "=", values[0])
    return "( " + " OR ".join(condition(field, "=", v) for v in values) + " )"


def chunk_fields(
    fields: Sequence[Field], key: Sequence[str], limit: int, delimiter: str
) -> list[list[str]]:
    """Field names cut into chunks whose row (their lengths plus the delimiters between them)
    fits `limit` bytes; every chunk starts with the key fields. Raises ValueError when the key
    alone, or the key and one field, does not fit."""
    by_name = {f.name: f for f in fields}
    sep = len(delimiter)

    def width(names: Sequence[str]) -> int:
        return sum(by_name[n].length for n in names) + sep * max(len(names) - 1, 0)

    base = list(key)
    if width(base) > limit:
        raise ValueError(f"the key {', '.join(key)} alone is wider than {limit} bytes")
    chunks: list[list[str]] = []
    current = list(base)
    for f in fields:
        if f.name in key:
            continue
        if width([*current, f.name]) > limit:
            if current == base:
                raise ValueError(f"{f.name} and the key are wider than {limit} bytes")
            chunks.append(current)
            current = [*base, f.name]
        else:
            current.append(f.name)
    chunks.append(current)
    return chunks


def parse_rows(
    fields: Sequence[Mapping[str, Any]], data: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """DATA rows cut by the FIELDS' OFFSET and LENGTH into {name: value} (trailing blanks
    stripped; numeric types, dates and times stripped both sides)."""
    layout = [
        Field(
            str(f["FIELDNAME"]).strip(),
            int(str(f["OFFSET"]).strip() or 0),
            int(str(f["LENGTH"]).strip() or 0),
            str(f.get("TYPE", "C")).strip() or "C",
        )
        for f in fields
    ]
    rows = []
    for item in data:
        wa = str(item.get("WA", ""))
        row = {}
        for f in layout:
            value = wa[f.offset : f.offset + f.length]
            row[f.name] = value.rstrip() if f.type in ("C", "g", "X") else value.strip()
        rows.append(row)
    return rows


class TableMoved(Exception):
    """Pages or chunks of one table read disagree: the table changed under the read."""


class KeyListedTwice(TableMoved):
    """One key was listed twice: in a read without pages, the key is not the table's."""


class RfcClient:
    """Calls over one Connection of the `rfc_module`, opened on first use, with retries."""

    def __init__(
        self,
        name: str,
        module: str,
        params: Mapping[str, Any],
        *,
        read_table_function: str = "RFC_READ_TABLE",
        delimiter: str = "|",
        row_bytes: int = ROW_BYTES,
        page_rows: int = 10_000,
        attempts: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name, self.module_name, self.params = name, module, dict(params)
        self.function, self.delimiter = read_table_function, delimiter
        self.row_bytes, self.page_rows = row_bytes, page_rows
        self.attempts, self.backoff, self.sleep = attempts, backoff, sleep
        self.errors = ErrorTable(RFC_ERRORS, {"name": name})
        self._module: Any = None
        self._conn: Any = None
        self._layouts: dict[str, list[Field]] = {}
        self._keys: dict[str, list[str] | None] = {}
        self.calls = 0

    # --- the module and the connection ---------------------------------------------------

    def module(self) -> Any:
        """The RFC module; ConnectorConfigError in one line when it cannot be imported."""
        if self._module is None:
            try:
                module = importlib.import_module(self.module_name)
                getattr(module, "Connection")  # noqa: B009 - the drop-in must have it
            except (ImportError, AttributeError) as exc:
                raise ConnectorConfigError(
                    MISSING_MODULE.format(name=self.name, module=self.module_name, error=exc)
                ) from None
            self._module = module
        return self._module

    def _connection(self, what: str) -> Any:
        if self._conn is None:
            connection = self.module().Connection
            try:
                self._conn = connection(**self.params)
            except Exception as exc:
                raise self._translate(exc, what) from exc
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # noqa: BLE001 - a dead connection may fail to close
                log.info("sap_rfc_close_failed", connector=self.name, error=type(exc).__name__)

    # --- calls ---------------------------------------------------------------------------

    def _translate(self, exc: BaseException, what: str) -> ConnectorError:
        key = str(getattr(exc, "key", "") or "").strip()
        detail = str(getattr(exc, "message", "") or exc).strip()
        if key and key != "RFC_LOGON_FAILURE":
            detail = f"{key}: {detail}" if key not in detail else detail
        codes = [key] if key else []
        codes += [c.__name__ for c in type(exc).__mro__]
        for code in codes:
            error = self.errors.error(Fault(exc, code=code, detail=detail), what)
            if error is not None:
                return error
        return SourceError(f"{what}: {type(exc).__name__}: {detail}")

    def call(self, function: str, what: str, **params: Any) -> dict[str, Any]:
        """`Connection.call(function, **params)`; a CommunicationError is tried again on a new
        connection up to `attempts` times in all, other failures raise at once."""
        for attempt in range(1, self.attempts + 1):
            try:  # opening the connection is inside: a partner down on reconnect is retried
                conn = self._connection(what)
                self.calls += 1
                result = dict(conn.call(function, **params))
            except Exception as exc:  # _connection raises ConnectorErrors already translated
                error = exc if isinstance(exc, ConnectorError) else self._translate(exc, what)
                if not isinstance(error, ConnectorTransientError) or attempt == self.attempts:
                    if error is exc:
                        raise
                    raise error from exc
                log.warning(
                    "sap_rfc_retry", connector=self.name, function=function, attempt=attempt
                )
                self.close()
                self.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
                continue
            problem = return_error(result)
            if problem is not None:
                fault = Fault(None, code="RETURN", detail=f"{problem[0]} {problem[1]}")
                refused = self.errors.error(fault, what)
                raise refused or SourceError(f"{what}: {fault.detail}")
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def ping(self, what: str) -> None:
        """A cheap authenticated call: RFC_PING."""
        self.call("RFC_PING", what)

    # --- RFC_READ_TABLE -------------------------------------------------------------------

    def layout(self, table: str) -> list[Field]:
        """Every field of `table` with its offset, length and type (a `NO_DATA` probe)."""
        if table not in self._layouts:
            result = self.call(
                self.function,
                f"{self.name}: fields of {table}",
                QUERY_TABLE=table,
                DELIMITER=self.delimiter,
                NO_DATA="X",
                ROWSKIPS=0,
                ROWCOUNT=0,
                OPTIONS=[],
                FIELDS=[],
            )
            self._layouts[table] = [
                Field(
                    str(f["FIELDNAME"]).strip(),
                    int(str(f["OFFSET"]).strip() or 0),
                    int(str(f["LENGTH"]).strip() or 0),
                    str(f.get("TYPE", "C")).strip() or "C",
                )
                for f in result.get("FIELDS", [])
            ]
        return self._layouts[table]

    def primary_key(self, table: str) -> list[str] | None:
        """The table's key fields from the dictionary (DD03L: KEYFLAG 'X' by POSITION, the
        client MANDT and .INCLUDE rows left out), read once per table; None when DD03L cannot
        be read (not authorized, not served) or does not list the table."""
        if table not in self._keys and self._keys.get("DD03L", []) is not None:
            where = " AND ".join(  # the active version (AS4LOCAL 'A') of the table's key
                [condition("TABNAME", "=", table), condition("AS4LOCAL", "=", "A"),
                 condition("KEYFLAG", "=", "X")]
            )  # fmt: skip
            try:
                rows = self._read_table(
                    "DD03L", ["TABNAME", "FIELDNAME", "POSITION"], where,
                    ["TABNAME", "FIELDNAME", "POSITION"], whole=True,
                )  # fmt: skip
            except (ConnectorError, TableMoved) as exc:
                if isinstance(exc, ConnectorTransientError):
                    raise
                self._keys["DD03L"] = None  # not readable: the callers' keys, not asked again
                rows = []
            names = [
                r["FIELDNAME"]
                for r in sorted(rows, key=lambda r: int(r.get("POSITION", "").strip() or 0))
                if r.get("FIELDNAME") and r["FIELDNAME"] != "MANDT"
                and not r["FIELDNAME"].startswith(".")
            ]  # fmt: skip
            self._keys[table] = list(dict.fromkeys(names)) or None
        return self._keys.get(table)

    def read_table(
        self, table: str, fields: Sequence[str], where: str, key: Sequence[str]
    ) -> list[dict[str, str]]:
        """Every row of `table` matching `where` with `fields` (which must include `key`),
        read in chunks that fit a row and pages of `page_rows`, joined by the table's key
        (DD03L's, else `key`). Raises StreamConfigError naming a field the table lacks, or
        the table and key when one key is listed twice in one whole read."""
        key = self.primary_key(table) or key
        fields = list(dict.fromkeys([*key, *fields]))
        try:
            return self._read_table(table, fields, where, key)
        except TableMoved as exc:
            log.warning("sap_table_moved", connector=self.name, table=table, why=str(exc))
        try:  # the pages did not agree: each chunk again in one call (ROWCOUNT 0, no paging)
            return self._read_table(table, fields, where, key, whole=True)
        except KeyListedTwice as exc:
            raise StreamConfigError(
                f"{self.name}: SAP table {table} lists rows that share the key "
                f"{', '.join(key)} ({exc}): the table's key has other fields; grant the read "
                "of DD03L (the dictionary) so the key is read from it"
            ) from None
        except TableMoved as exc:
            raise ConnectorTransientError(
                f"{self.name}: {table} changed while it was read ({exc}); try again"
            ) from None

    def _read_table(
        self, table: str, fields: Sequence[str], where: str, key: Sequence[str], whole: bool = False
    ) -> list[dict[str, str]]:
        layout = self.layout(table)
        known = {f.name for f in layout}
        missing = [f for f in (*key, *fields) if f not in known]
        if missing:
            raise StreamConfigError(
                f"{self.name}: SAP table {table} has no field {', '.join(dict.fromkeys(missing))}"
            )
        wanted = [f for f in layout if f.name in set(fields) | set(key)]
        try:
            chunks = chunk_fields(wanted, key, self.row_bytes, self.delimiter)
        except ValueError as exc:
            raise SourceError(f"{self.name}: {table}: {exc}") from None
        options = where_lines(where) if where else []
        joined: dict[tuple[str, ...], dict[str, str]] = {}
        for n, chunk in enumerate(chunks):
            seen: set[tuple[str, ...]] = set()
            for row in self._pages(table, chunk, options, 0 if whole else self.page_rows):
                k = tuple(row[f] for f in key)
                if k in seen:
                    raise KeyListedTwice(f"key {'/'.join(k)} was listed twice")
                seen.add(k)
                if n == 0:
                    joined[k] = row
                elif k in joined:
                    joined[k].update(row)
                else:
                    raise TableMoved(f"key {'/'.join(k)} appeared between chunks")
            if n and len(seen) != len(joined):
                raise TableMoved(f"{len(joined) - len(seen)} keys vanished between chunks")
        return list(joined.values())

    def _pages(
        self, table: str, fields: Sequence[str], options: list[dict[str, str]], size: int
    ) -> Iterator[dict[str, str]]:
        """Rows in pages of `size` (0: all in one call)."""
        skip = 0
        while True:
            what = f"{self.name}: {table} rows {skip + 1}-{skip + size if size else 'end'}"
            result = self.call(
                self.function,
                what,
                QUERY_TABLE=table,
                DELIMITER=self.delimiter,
                NO_DATA="",
                ROWSKIPS=int(skip),
                ROWCOUNT=int(size),
                OPTIONS=options,
                FIELDS=[{"FIELDNAME": f} for f in fields],
            )
            data = result.get("DATA") or []
            yield from parse_rows(result.get("FIELDS") or [], data)
            if not size or len(data) < size:
                return
            skip += size
