"""RFC_READ_TABLE over the fake system's tables, as the function module answers.

Parameters (SAP's interface of RFC_READ_TABLE, function group SDTX): QUERY_TABLE (CHAR 30),
DELIMITER (CHAR 1, blank: none), NO_DATA (`X`: FIELDS only), ROWSKIPS and ROWCOUNT (INT4,
0: all), OPTIONS (rows `{"TEXT": CHAR 72}`: the WHERE clause), FIELDS (rows `{"FIELDNAME"}`;
none: every field); the answer holds DATA (`{"WA": CHAR 512}`), FIELDS (FIELDNAME, OFFSET and
LENGTH as 6-digit text, TYPE, FIELDTEXT) and OPTIONS as sent.

In the order the module checks them: a dictionary structure (no database table) is
TABLE_WITHOUT_DATA, an unknown table TABLE_NOT_AVAILABLE, a table the
user may not read NOT_AUTHORIZED, an unknown field FIELD_NOT_VALID; a NO_DATA probe answers
the FIELDS then; selected fields wider than 512 characters (delimiters included) are
DATA_BUFFER_EXCEEDED; a WHERE that does not parse is OPTION_NOT_VALID. Each is an ABAP
exception of the module: pyrfc raises ABAPApplicationError with the exception name as `key`
(gh:SAP-archive/PyRFC issue 42 shows `key=DATA_BUFFER_EXCEEDED, message= Number:000`).

Values are written as ABAP's MOVE writes them into the character row: CHAR left-aligned and
padded, NUMC with leading zeros, dates YYYYMMDD (`00000000` when initial), packed numbers
right-aligned with the sign after the number (`1234.50-`, a blank when positive) and cut on
the left with `*` when they do not fit the field's length. A value may contain the
delimiter: only the FIELDS offsets and lengths cut a row safely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.sap.sandbox import opensql
from pmo_ledger.connectors.sap.sandbox.tables import TABLES, Field

ROW_WIDTH = 512
"""The width of DATA's WA (TAB512): a selected row must fit it."""

OPTION_WIDTH = 72
"""The width of an OPTIONS line's TEXT (RFC_DB_OPT)."""

STRUCTURES = frozenset({"BAPIRET2", "BAPIRETURN1", "RFC_DB_OPT", "RFC_DB_FLD", "TAB512"})
"""Dictionary structures (no database table behind them): TABLE_WITHOUT_DATA."""

PARAMETERS = frozenset(
    {"QUERY_TABLE", "DELIMITER", "NO_DATA", "ROWSKIPS", "ROWCOUNT", "OPTIONS", "FIELDS", "DATA"}
)


class ReadTableError(Exception):
    """An ABAP exception of RFC_READ_TABLE (`key` is its name)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read_table(
    rows_of: Any,
    params: Mapping[str, Any],
    *,
    client: str,
    not_authorized: set[str],
    shuffle: int | None = None,
) -> dict[str, list[dict[str, str]]]:
    """The module's answer to `params` (already checked for their RFC types) over the rows
    `rows_of(table_name, client=...)` returns. Raises ReadTableError with SAP's exception."""
    name = str(params.get("QUERY_TABLE", ""))
    if name in STRUCTURES:
        raise ReadTableError("TABLE_WITHOUT_DATA")
    table = TABLES.get(name)
    if table is None:
        raise ReadTableError("TABLE_NOT_AVAILABLE")
    if table.name in not_authorized:
        raise ReadTableError("NOT_AUTHORIZED")
    # CHAR 1: a blank is SPACE, ABAP's "no delimiter"
    delimiter = str(params.get("DELIMITER", "")).strip()
    asked = [str(row.get("FIELDNAME", "")) for row in params.get("FIELDS") or ()]
    selected: list[Field] = []
    for name in asked or [f.name for f in table.fields]:
        spec = table.field(name)
        if spec is None:
            raise ReadTableError("FIELD_NOT_VALID")
        selected.append(spec)
    fields, width = _layout(selected, delimiter)
    options = [dict(row) for row in params.get("OPTIONS") or ()]
    answer: dict[str, list[dict[str, str]]] = {"DATA": [], "FIELDS": fields, "OPTIONS": options}
    if str(params.get("NO_DATA", "")).strip():
        return answer
    if width > ROW_WIDTH:
        raise ReadTableError("DATA_BUFFER_EXCEEDED")
    try:
        matches = opensql.parse([str(row.get("TEXT", "")) for row in options], table)
    except opensql.InvalidCondition as exc:
        raise ReadTableError("OPTION_NOT_VALID") from exc
    rows = [row for row in rows_of(table.name, client=client) if matches(row)]
    if shuffle is not None:
        rows.sort(key=lambda row: _scramble(shuffle, row, table.key))
    skips = int(params.get("ROWSKIPS", 0) or 0)
    count = int(params.get("ROWCOUNT", 0) or 0)
    rows = rows[skips : skips + count] if count > 0 else rows[skips:]
    answer["DATA"] = [{"WA": write_row(row, selected, delimiter)} for row in rows]
    return answer


def _layout(selected: Sequence[Field], delimiter: str) -> tuple[list[dict[str, str]], int]:
    fields = []
    cursor = 0
    for index, spec in enumerate(selected):
        fields.append(
            {
                "FIELDNAME": spec.name,
                "OFFSET": f"{cursor:06d}",
                "LENGTH": f"{spec.length:06d}",
                "TYPE": spec.type,
                "FIELDTEXT": spec.text,
            }
        )
        cursor += spec.length
        if delimiter and index < len(selected) - 1:
            cursor += len(delimiter)
    return fields, cursor


def write_row(row: Mapping[str, str], selected: Sequence[Field], delimiter: str) -> str:
    """One WA line: each value at its offset, padded to its length, delimiters between."""
    return delimiter.join(write_value(spec, row[spec.name]) for spec in selected)


def write_value(spec: Field, stored: str) -> str:
    """A held value as MOVE writes it into `spec.length` characters."""
    if spec.type in ("P", "b"):
        amount = Decimal(stored or "0")
        text = f"{abs(amount):f}" + ("-" if amount < 0 else " ")
        if spec.type == "b":
            text = text.rstrip()
        if len(text) > spec.length:
            return "*" + text[len(text) - spec.length + 1 :]
        return text.rjust(spec.length)
    if spec.type == "N":
        return stored.rjust(spec.length, "0")[-spec.length :]
    return stored.ljust(spec.length)[: spec.length]


def _scramble(seed: int, row: Mapping[str, str], key: Sequence[str]) -> str:
    text = f"{seed}|" + "|".join(row[k] for k in key)
    return hashlib.sha256(text.encode()).hexdigest()
