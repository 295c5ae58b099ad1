"""An in-test stand-in for a PyRFC-compatible module (`rfc_module =
"tests.connectors.sap.stub_rfc"`): `Connection(**params).call(name, **params)` over tables held
here, answering RFC_READ_TABLE as the docs describe (FIELDS with zero-padded OFFSET/LENGTH,
DATA rows `{'WA': ...}` with the delimiter between fields, the 512-byte limit, OPTIONS lines of
at most 72 characters, ROWSKIPS/ROWCOUNT as ints, trailing blanks stripped as PyRFC does).
Tests set `SYSTEM` and read its counters; the sandbox's fake is the full one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class RFCError(Exception):
    pass


class RFCLibError(RFCError):
    def __init__(self, message: str = "", code: int = 28, key: str = "") -> None:
        super().__init__(message)
        self.message, self.code, self.key = message, code, key


class ABAPApplicationError(RFCLibError):
    pass


class CommunicationError(RFCLibError):
    pass


class LogonError(RFCLibError):
    pass


@dataclass
class Table:
    fields: list[tuple[str, int, str]]  # name, length, ABAP type
    rows: list[dict[str, str]] = field(default_factory=list)


@dataclass
class System:
    tables: dict[str, Table] = field(default_factory=dict)
    user: str = "PMO"
    password: str = "secret"
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: Raise a CommunicationError on these call numbers (1-based, counted over every call).
    drop_on: set[int] = field(default_factory=set)
    row_limit: int = 512
    #: Connection() raises a CommunicationError on these attempts (1-based; partner down).
    refuse_connects: set[int] = field(default_factory=set)
    connects: int = 0


SYSTEM = System()


def _matches(row: dict[str, str], where: str) -> bool:
    if not where.strip():
        return True

    def like(m: re.Match[str]) -> str:
        return f"_like(row[{m[1]!r}], {_unquote(m[2])!r})"

    def compare(m: re.Match[str]) -> str:
        op = {"=": "==", "<>": "!="}.get(m[2], m[2])
        return f"(row[{m[1]!r}] {op} {_unquote(m[3])!r})"

    expr = re.sub(r"([A-Z0-9_]+) LIKE '((?:[^']|'')*)'", like, where)
    expr = re.sub(r"([A-Z0-9_]+) (=|>=|<=|<>|>|<) '((?:[^']|'')*)'", compare, expr)
    expr = expr.replace(" AND ", " and ").replace(" OR ", " or ")
    return bool(eval(expr, {"_like": _like, "row": row}))  # noqa: S307 - test stub over own text


def _unquote(text: str) -> str:
    return text.replace("''", "'")


def _like(value: str, pattern: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace("%", ".*").replace("_", "."), value) is not None


class Connection:
    def __init__(self, **params: Any) -> None:
        SYSTEM.connects += 1
        if SYSTEM.connects in SYSTEM.refuse_connects:
            raise CommunicationError("partner not reached", 1, "RFC_COMMUNICATION_FAILURE")
        if params.get("user") != SYSTEM.user or params.get("passwd") != SYSTEM.password:
            raise LogonError("Name or password is incorrect (repeat logon)", 2, "RFC_LOGON_FAILURE")
        self.params = params

    def close(self) -> None:
        pass

    def call(self, name: str, **params: Any) -> dict[str, Any]:
        SYSTEM.calls.append({"name": name, **params})
        if len(SYSTEM.calls) in SYSTEM.drop_on:
            raise CommunicationError("partner not reached", 1, "RFC_COMMUNICATION_FAILURE")
        if name == "RFC_PING":
            return {}
        if name != "RFC_READ_TABLE":
            raise ABAPApplicationError(f"function {name} not found", 5, "FU_NOT_FOUND")
        return self._read(**params)

    def _read(self, **p: Any) -> dict[str, Any]:
        table = SYSTEM.tables.get(p["QUERY_TABLE"])
        if table is None:
            raise ABAPApplicationError("TABLE_NOT_AVAILABLE", 5, "TABLE_NOT_AVAILABLE")
        assert isinstance(p["ROWSKIPS"], int) and isinstance(p["ROWCOUNT"], int)
        for line in p["OPTIONS"]:
            if len(line["TEXT"]) > 72:
                raise ABAPApplicationError("OPTION_NOT_VALID", 5, "OPTION_NOT_VALID")
        names = [f["FIELDNAME"] for f in p["FIELDS"]] or [f[0] for f in table.fields]
        layout = {f[0]: f for f in table.fields}
        if any(n not in layout for n in names):
            raise ABAPApplicationError("FIELD_NOT_VALID", 5, "FIELD_NOT_VALID")
        delim = p.get("DELIMITER", "")
        fields, offset = [], 0
        for n in names:
            _, length, kind = layout[n]
            fields.append(
                {"FIELDNAME": n, "OFFSET": f"{offset:06d}", "LENGTH": f"{length:06d}", "TYPE": kind}
            )
            offset += length + len(delim)
        if p.get("NO_DATA") == "X":
            return {"FIELDS": fields, "DATA": [], "OPTIONS": p["OPTIONS"]}
        if offset - len(delim) > SYSTEM.row_limit:
            raise ABAPApplicationError("DATA_BUFFER_EXCEEDED", 5, "DATA_BUFFER_EXCEEDED")
        where = " ".join(line["TEXT"] for line in p["OPTIONS"])
        rows = [r for r in table.rows if _matches(r, where)]
        skip, count = p["ROWSKIPS"], p["ROWCOUNT"]
        rows = rows[skip : skip + count] if count else rows[skip:]
        data = []
        for r in rows:
            parts = []
            for n in names:
                _, length, kind = layout[n]
                v = r.get(n, "")
                parts.append(v.rjust(length) if kind == "P" else v.ljust(length))
            data.append({"WA": delim.join(parts).rstrip()})
        return {"FIELDS": fields, "DATA": data, "OPTIONS": p["OPTIONS"]}
