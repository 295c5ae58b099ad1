"""The fake SAP system's state: its tables in SQLite (every value held as the text SAP's
dictionary type gives it), its logon users, its failure switches and a call counter.

One `SapSystem` is what both fakes read: the fake RFC module's RFC_READ_TABLE (`fakerfc`) and
the fake OData server (`odata`). SQLite keeps the tables; a file path makes them readable from
another process (the `fake_db` logon parameter of `fakerfc.Connection`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from pmo_ledger.connectors.sap.sandbox.tables import TABLES, Field, Table


@dataclass(frozen=True, slots=True)
class LogonUser:
    """A user of one client: `Connection(user=..., passwd=..., client=...)` logs on."""

    user: str
    password: str
    client: str = "100"


@dataclass
class Switches:
    """Failures a test turns on. `communication_error_after`: the next calls fail with a
    CommunicationError once this many RFC calls have been served (then the switch clears, as
    a network blip would); `logon_refused`: every logon is refused; `not_authorized`: tables
    RFC_READ_TABLE refuses (S_TABU_DIS / S_TABU_NAM missing); `no_rfc_authority`: function
    modules the user may not call (S_RFC missing); `runtime_error`: the next call
    ends in an ABAP runtime error (a dump) with this key; `abap_message`: the next call ends
    in an ABAP message (class, type, number, text), pyrfc's ABAPRuntimeError with code 4;
    `return_error`: the next BAPI call answers its RETURN with (type, id, number, message);
    `unordered`: RFC_READ_TABLE returns rows in a different order on each call (the database
    gives no order without ORDER BY)."""

    communication_error_after: int | None = None
    logon_refused: bool = False
    not_authorized: set[str] = field(default_factory=set)
    runtime_error: str | None = None
    no_rfc_authority: set[str] = field(default_factory=set)
    abap_message: tuple[str, str, str, str] | None = None
    return_error: tuple[str, str, str, str] | None = None
    unordered: bool = False


def canonical(spec: Field, value: Any) -> str:
    """A Python value as the table holds it: CHAR without trailing blanks, NUMC with its
    leading zeros, dates YYYYMMDD (`00000000` for none), times HHMMSS, packed as a decimal."""
    if spec.type == "D":
        if value is None or value == "":
            return "00000000"
        return value.strftime("%Y%m%d") if isinstance(value, date) else str(value)
    if spec.type == "T":
        if value is None or value == "":
            return "000000"
        return value.strftime("%H%M%S") if isinstance(value, time) else str(value)
    if spec.type == "N":
        return str(value if value is not None else "").rjust(spec.length, "0")
    if spec.type == "P":
        amount = Decimal(str(value if value not in (None, "") else 0))
        return str(amount.quantize(Decimal(1).scaleb(-spec.decimals)))
    if spec.type == "b":
        return str(int(value or 0))
    return str(value if value is not None else "").rstrip()


READ_TABLE_NAMES = ("RFC_READ_TABLE", "/BODS/RFC_READ_TABLE", "BBP_RFC_READ_TABLE")
"""Function modules with RFC_READ_TABLE's interface (a connector's configured name)."""


#: TCURX: currencies whose amounts do not have 2 decimals (SAP's standard customizing).
CURRENCY_DECIMALS = {"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3}


class SapSystem:
    """The tables and logon of one fake SAP system (thread-safe: the OData server's threads
    and RFC connections share it). `read_table_functions`: which of the RFC_READ_TABLE
    variants this system has (another name is FU_NOT_FOUND, as on a system without it)."""

    def __init__(
        self,
        path: Path | str = ":memory:",
        *,
        system_id: str = "PMO",
        users: Iterable[LogonUser] = (),
        read_table_functions: Iterable[str] = READ_TABLE_NAMES,
    ) -> None:
        self.path = str(path)
        self.system_id = system_id
        self.read_table_functions = set(read_table_functions)
        self.switches = Switches()
        self.rfc_calls = 0
        self.http_calls = 0
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        # A fake's scratch file: no fsync per commit (each insert commits; seeding the demo
        # waited ~30 ms a row for the disk on a busy machine). Other processes (`fake_db`)
        # still see every commit: the OS has it.
        self._db.execute("PRAGMA synchronous = OFF")
        for table in TABLES.values():
            columns = ", ".join(f'"{f.name}" TEXT NOT NULL' for f in table.fields)
            key = ", ".join(f'"{k}"' for k in table.key)
            self._db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns}, PRIMARY KEY ({key}))'
            )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS _logon (client TEXT, user TEXT, password TEXT,"
            " PRIMARY KEY (client, user))"
        )
        self._db.commit()
        for user in users:
            self.add_user(user)
        for currency, decimals in CURRENCY_DECIMALS.items():  # customizing every system has
            self.insert("TCURX", {"CURRKEY": currency, "CURRDEC": decimals})
        for table in TABLES.values():  # the dictionary: each field's row, key fields flagged
            for position, spec in enumerate(table.fields, 1):
                row = {"TABNAME": table.name, "FIELDNAME": spec.name, "AS4LOCAL": "A"}
                flag = "X" if spec.name in table.key else ""
                self.insert("DD03L", {**row, "POSITION": f"{position:04d}", "KEYFLAG": flag})

    def add_user(self, user: LogonUser) -> None:
        """Let this user log on (kept in the database, so another process sees it)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO _logon VALUES (?, ?, ?)",
                (user.client, user.user.upper(), user.password),
            )
            self._db.commit()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def logon(self, client: str, user: str, password: str) -> bool:
        """Whether these credentials log on to the client."""
        with self._lock:
            known = self._db.execute(
                "SELECT password FROM _logon WHERE client = ? AND user = ?",
                (client, user.upper()),
            ).fetchone()
        return known is not None and known[0] == password and not self.switches.logon_refused

    def clients(self) -> set[str]:
        """The clients that have users."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT client FROM _logon")}

    def insert(self, table_name: str, row: Mapping[str, Any], *, client: str = "100") -> None:
        """Insert (or replace, by key) one row; fields left out are initial."""
        table = TABLES[table_name]
        unknown = set(row) - {f.name for f in table.fields}
        if unknown:
            raise KeyError(f"{table_name} has no fields {sorted(unknown)}")
        values = [
            canonical(f, client if f.name == "MANDT" else row.get(f.name)) for f in table.fields
        ]
        marks = ", ".join("?" for _ in values)
        with self._lock:
            self._db.execute(f'INSERT OR REPLACE INTO "{table_name}" VALUES ({marks})', values)
            self._db.commit()

    def insert_many(
        self, table_name: str, rows: Iterable[Mapping[str, Any]], *, client: str = "100"
    ) -> int:
        """`insert` of many rows in one transaction (a bulk load, e.g. bench/sap.py); how
        many."""
        table = TABLES[table_name]
        names = {f.name for f in table.fields}
        values = []
        for row in rows:
            unknown = set(row) - names
            if unknown:
                raise KeyError(f"{table_name} has no fields {sorted(unknown)}")
            values.append(
                [canonical(f, client if f.name == "MANDT" else row.get(f.name))
                 for f in table.fields]
            )  # fmt: skip
        if not values:
            return 0
        marks = ", ".join("?" for _ in table.fields)
        with self._lock:
            self._db.executemany(f'INSERT OR REPLACE INTO "{table_name}" VALUES ({marks})', values)
            self._db.commit()
        return len(values)

    def greatest(self, table_name: str, *fields: str, client: str = "100") -> str:
        """The largest value of the fields' texts put together ("" for an empty table): e.g.
        the last BELNR, or the last CPUDT + CPUTM, without reading every row."""
        table = TABLES[table_name]
        joined = " || ".join(f'"{_field(table, name).name}"' for name in fields)
        sql, params = _of_client(table, f"SELECT max({joined})", client)
        with self._lock:
            found = self._db.execute(sql, params).fetchone()
        return str(found[0] or "") if found else ""

    def delete(self, table_name: str, where: Mapping[str, Any], *, client: str = "100") -> int:
        """Delete the rows whose fields equal `where`'s values; the number deleted."""
        table = TABLES[table_name]
        specs = [_field(table, name) for name in where]
        clause = " AND ".join(f'"{s.name}" = ?' for s in specs)
        params = [canonical(s, where[s.name]) for s in specs]
        if table.client_dependent:
            clause = " AND ".join(filter(None, (clause, '"MANDT" = ?')))
            params.append(client)
        with self._lock:
            count = self._db.execute(
                f'DELETE FROM "{table_name}" WHERE {clause or "1 = 1"}', params
            ).rowcount
            self._db.commit()
        return count

    def rows(self, table_name: str, *, client: str = "100") -> list[dict[str, str]]:
        """Every row of the table (of the client, for a client-dependent table), in key
        order, as the text the table holds."""
        table = TABLES[table_name]
        names = [f.name for f in table.fields]
        order = ", ".join(f'"{k}"' for k in table.key)
        sql, params = _of_client(table, "SELECT *", client)
        with self._lock:
            fetched = self._db.execute(f"{sql} ORDER BY {order}", params).fetchall()
        return [dict(zip(names, row, strict=True)) for row in fetched]

    def count_rfc_call(self) -> int:
        """Count one RFC call; its number."""
        with self._lock:
            self.rfc_calls += 1
            return self.rfc_calls

    def count_http_call(self) -> int:
        """Count one HTTP request; its number."""
        with self._lock:
            self.http_calls += 1
            return self.http_calls


def _field(table: Table, name: str) -> Field:
    spec = table.field(name)
    if spec is None:
        raise KeyError(f"{table.name} has no field {name}")
    return spec


def _of_client(table: Table, select: str, client: str) -> tuple[str, list[str]]:
    """`<select> FROM <table>` of the client's rows (a client-dependent table) and its
    parameters."""
    sql = f'{select} FROM "{table.name}"'
    if table.client_dependent:
        return sql + ' WHERE "MANDT" = ?', [client]
    return sql, []
