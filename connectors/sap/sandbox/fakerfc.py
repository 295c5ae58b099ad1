"""A drop-in for SAP's `pyrfc` module over the fake SAP system: what a connector loads through
`rfc_module = "pmo_ledger.connectors.sap.sandbox.fakerfc"` instead of `pyrfc`.

It has pyrfc's names and shapes (gh:SAP/PyRFC src/pyrfc/_exception.py, src/pyrfc/_cyrfc.pyx,
doc/client.rst, tests/test_errors.py): `Connection(config=None, **params)` with the logon
parameters of sapnwrfc.ini (`ashost`/`sysnr`/`client`/`user`/`passwd`/`lang`, or `dest`, or
`mshost`/`sysid`/`group`), `call(func_name, options=None, **params)`, `ping()`, `close()`,
`alive`, a context manager; the exception tree RFCError > RFCLibError > ABAPApplicationError,
ABAPRuntimeError, LogonError, CommunicationError, ExternalRuntimeError... with `message`,
`code`, `key`, `msg_class`, `msg_type`, `msg_number`, `msg_v1`..`msg_v4`, and pyrfc's codes
(1 communication, 2 logon, 3 ABAP runtime, 4 ABAP message, 5 ABAP exception, 20 invalid
parameter). Like pyrfc: CHAR values come back right-stripped (`config={"rstrip": False}`
keeps the blanks), INT parameters must be ints (else TypeError), an unknown function is
`FU_NOT_FOUND`, an unknown parameter `RFC_INVALID_PARAMETER`, a call on a closed connection
an RFCError, and after a communication failure the connection opens itself again.

Functions: RFC_READ_TABLE (and the same interface under the other names of
`READ_TABLE_NAMES`, e.g. /BODS/RFC_READ_TABLE, as far as the system has them),
BAPI_PROJECT_GETINFO (errors in its RETURN structure), RFC_PING, RFC_SYSTEM_INFO; a function
the user lacks S_RFC for is RFC_NO_AUTHORITY (ABAPRuntimeError).

Which system a logon reaches: `register()` gives an in-process system its host, destination
or message server; the extra logon parameter `fake_db` (a path) opens a system kept in an
SQLite file by another process (what `pmo-ledger sandbox --kind sap` prints).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pmo_ledger.connectors.sap.sandbox import bapi
from pmo_ledger.connectors.sap.sandbox.readtable import (
    OPTION_WIDTH,
    PARAMETERS,
    ReadTableError,
    read_table,
)
from pmo_ledger.connectors.sap.sandbox.system import SapSystem

_INT_PARAMETERS = {"ROWSKIPS", "ROWCOUNT"}
_CHAR_PARAMETERS = {"QUERY_TABLE": 30, "DELIMITER": 1, "NO_DATA": 1}
_TABLE_FIELDS = {
    "OPTIONS": {"TEXT": OPTION_WIDTH},
    "FIELDS": {"FIELDNAME": 30, "OFFSET": 6, "LENGTH": 6, "TYPE": 1, "FIELDTEXT": 60},
    "DATA": {"WA": 512},
}
_CONFIG_KEYS = {"dtime", "return_import_params", "rstrip", "check_date", "check_time", "timeout"}


class RFCError(Exception):
    """Exception base class: an error in the Python connector."""


class RFCLibError(RFCError):
    """An error of the RFC library, with pyrfc's attributes."""

    def __init__(
        self,
        message: str | None = None,
        code: int | None = None,
        key: str | None = None,
        msg_class: str | None = None,
        msg_type: str | None = None,
        msg_number: str | None = None,
        msg_v1: str | None = None,
        msg_v2: str | None = None,
        msg_v3: str | None = None,
        msg_v4: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.key = key
        self.msg_class = msg_class
        self.msg_type = msg_type
        self.msg_number = msg_number
        self.msg_v1 = msg_v1
        self.msg_v2 = msg_v2
        self.msg_v3 = msg_v3
        self.msg_v4 = msg_v4

    def __str__(self) -> str:
        return (
            f"{_RC_TEXT.get(self.code or 28, '??')} (rc={self.code}): key={self.key}, "
            f"message={self.message} [MSG: class={self.msg_class}, type={self.msg_type}, "
            f"number={self.msg_number}, v1-4:={self.msg_v1};{self.msg_v2};{self.msg_v3};"
            f"{self.msg_v4}]"
        )


class ABAPApplicationError(RFCLibError):
    """An ABAP exception of the called function (RFC_ABAP_EXCEPTION, code 5)."""


class ABAPRuntimeError(RFCLibError):
    """An ABAP runtime failure (code 3) or an ABAP message of type E/A (code 4)."""


class LogonError(RFCLibError):
    """The logon failed (code 2, key RFC_LOGON_FAILURE by default, as in pyrfc)."""

    def __init__(
        self,
        message: str | None = None,
        code: int | None = 2,
        key: str | None = "RFC_LOGON_FAILURE",
        **details: str | None,
    ) -> None:
        super().__init__(message, code, key, **details)


class CommunicationError(RFCLibError):
    """The partner could not be reached or the connection broke (code 1)."""


class ExternalRuntimeError(RFCLibError):
    """A runtime error on the client's side, e.g. an invalid parameter (code 20)."""


class ExternalApplicationError(RFCLibError):
    """An application error on the client's side."""


class ExternalAuthorizationError(RFCLibError):
    """An authorization error on the client's side."""


class RFCTypeError(RFCLibError):
    """A value of the wrong type for its RFC field."""


_RC_TEXT = {
    1: "RFC_COMMUNICATION_FAILURE",
    2: "RFC_LOGON_FAILURE",
    3: "RFC_ABAP_RUNTIME_FAILURE",
    4: "RFC_ABAP_MESSAGE",
    5: "RFC_ABAP_EXCEPTION",
    20: "RFC_INVALID_PARAMETER",
    22: "RFC_CONVERSION_FAILURE",
    28: "RFC_UNKNOWN_ERROR",
}

_registry: dict[str, SapSystem] = {}
_registry_lock = threading.Lock()


def _ashost_key(ashost: str, sysnr: str) -> str:
    return f"ashost:{ashost.lower()}:{sysnr}"


@contextmanager
def register(
    system: SapSystem,
    *,
    ashost: str = "sapfake.invalid",
    sysnr: str = "00",
    dest: str | None = None,
    mshost: str | None = None,
    sysid: str | None = None,
    group: str = "PUBLIC",
) -> Iterator[SapSystem]:
    """Make `system` reachable in this process by application server (`ashost`/`sysnr`),
    destination `dest` and message server (`mshost`/`sysid`/`group`), while in the block."""
    keys = [_ashost_key(ashost, sysnr)]
    if dest:
        keys.append(f"dest:{dest.upper()}")
    if mshost:
        keys.append(f"mshost:{mshost.lower()}:{(sysid or system.system_id).upper()}:{group}")
    with _registry_lock:
        for key in keys:
            _registry[key] = system
    try:
        yield system
    finally:
        with _registry_lock:
            for key in keys:
                if _registry.get(key) is system:
                    del _registry[key]


class Connection:
    """A logged-on RFC connection to the fake system (pyrfc.Connection's interface)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **params: Any) -> None:
        config = dict(config or {})
        for name in config:
            if name not in _CONFIG_KEYS:
                raise RFCError(f"Connection configuration option '{name}' is not supported")
        self._rstrip = bool(config.get("rstrip", True))
        self._dtime = bool(config.get("dtime", False))
        if not params:
            raise RFCError("Connection parameters missing")
        for name, value in params.items():
            if not isinstance(value, str):
                raise RFCError(f"Connection parameter '{name}' value is not string")
        self._params = {name.lower(): value for name, value in params.items()}
        self._own_system = False
        self._system: SapSystem | None = None
        self._open()

    @property
    def alive(self) -> bool:
        """True while the connection is open."""
        return self._system is not None

    def __bool__(self) -> bool:
        return self.alive

    def _resolve(self) -> tuple[SapSystem, bool]:
        p = self._params
        if "fake_db" in p:
            if not Path(p["fake_db"]).is_file():
                raise CommunicationError(
                    f"partner '{p['fake_db']}' not reached", 1, "RFC_COMMUNICATION_FAILURE"
                )
            return SapSystem(p["fake_db"]), True
        if "dest" in p:
            key = f"dest:{p['dest'].upper()}"
            where = p["dest"]
        elif "ashost" in p:
            key = _ashost_key(p["ashost"], p.get("sysnr", "00"))
            where = f"{p['ashost']}:33{p.get('sysnr', '00')}"
        elif "mshost" in p:
            key = f"mshost:{p['mshost'].lower()}:{p.get('sysid', '').upper()}:"
            key += p.get("group", "PUBLIC")
            where = f"{p['mshost']}/{p.get('sysid', '')}/{p.get('group', 'PUBLIC')}"
        else:
            raise ExternalRuntimeError(
                "Parameter ASHOST, GWHOST, MSHOST or SERVER_PORT is missing.",
                20,
                "RFC_INVALID_PARAMETER",
            )
        with _registry_lock:
            system = _registry.get(key)
        if system is None:
            raise CommunicationError(
                f"partner '{where}' not reached", 1, "RFC_COMMUNICATION_FAILURE"
            )
        return system, False

    def _open(self) -> None:
        system, own = self._resolve()
        client = self._params.get("client", "000")
        if client not in system.clients():
            if own:
                system.close()
            raise LogonError(f"Client {client} is not available in this system")
        if not system.logon(client, self._params.get("user", ""), self._params.get("passwd", "")):
            if own:
                system.close()
            raise LogonError("Name or password is incorrect (repeat logon)")
        self._system, self._own_system, self._client = system, own, client

    def open(self) -> None:
        """Open the connection (again)."""
        if self._system is None:
            self._open()

    def reopen(self) -> None:
        """Close and open the connection."""
        self.close()
        self._open()

    def close(self) -> None:
        """Close the connection."""
        if self._system is not None and self._own_system:
            self._system.close()
        self._system = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def ping(self) -> None:
        """A round trip to the system (RFC_PING)."""
        self.call("RFC_PING")

    def get_connection_attributes(self) -> dict[str, str]:
        """Some of pyrfc's connection attributes."""
        system = self._live("get_connection_attributes")
        return {
            "client": self._client,
            "user": self._params.get("user", "").upper(),
            "language": self._params.get("lang", "E")[:1].upper(),
            "sysId": system.system_id,
            "partnerHost": self._params.get("ashost", self._params.get("mshost", "")),
        }

    def _live(self, func_name: str) -> SapSystem:
        if self._system is None:
            raise RFCError(
                f"Remote function module '{func_name}' invocation rejected because the "
                "connection is closed"
            )
        return self._system

    def call(
        self, func_name: str, options: Mapping[str, Any] | None = None, **params: Any
    ) -> dict[str, Any]:
        """Invoke a remote-enabled function module: a dict of its EXPORT and TABLES
        parameters. Raises RFCError or a subclass, as pyrfc does."""
        if not isinstance(func_name, str):
            raise RFCError(
                "Remote function module name must be unicode string, received:",
                func_name,
                type(func_name),
            )
        system = self._live(func_name)
        number = system.count_rfc_call()
        switches = system.switches
        after = switches.communication_error_after
        if after is not None and number > after:
            switches.communication_error_after = None
            self.close()
            self._open()  # pyrfc opens the connection again after a communication failure
            raise CommunicationError("connection to partner broken", 1, "RFC_COMMUNICATION_FAILURE")
        if switches.runtime_error:
            key, switches.runtime_error = switches.runtime_error, None
            raise ABAPRuntimeError(key, 3, key)
        if func_name in switches.no_rfc_authority:
            user = self._params.get("user", "").upper()
            message = f"User {user} has no RFC authorization for function module {func_name}."
            raise ABAPRuntimeError(message, 3, "RFC_NO_AUTHORITY")
        if switches.abap_message:
            (msg_class, msg_type, msg_number, text), switches.abap_message = (
                switches.abap_message,
                None,
            )
            raise ABAPRuntimeError(text, 4, text, msg_class, msg_type, msg_number, "", "", "", "")
        if func_name in system.read_table_functions:
            return self._read_table(system, params)
        if func_name == bapi.NAME:
            _check_names(params, bapi.PARAMETERS)
            forced, switches.return_error = switches.return_error, None
            answer = bapi.project_getinfo(system, self._client, params, forced)
            if self._dtime and answer["E_PROJECT_DEFINITION"]:
                project = answer["E_PROJECT_DEFINITION"]
                for name in ("START", "FINISH"):
                    project[name] = _abap_date(project[name])
            return answer
        if func_name == "RFC_PING":
            _check_names(params, set())
            return {}
        if func_name == "RFC_SYSTEM_INFO":
            _check_names(params, set())
            return {"RFCSI_EXPORT": {"RFCSYSID": system.system_id, "RFCDEST": "fake"}}
        raise ABAPApplicationError(
            f"ID:FL Type:E Number:046 {func_name}",
            5,
            "FU_NOT_FOUND",
            "FL",
            "E",
            "046",
            func_name,
            "",
            "",
            "",
        )

    def _read_table(self, system: SapSystem, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_names(params, PARAMETERS)
        _check_types(params)
        if "QUERY_TABLE" not in params:
            raise ABAPRuntimeError(
                "Mandatory parameter QUERY_TABLE missing", 3, "CALL_FUNCTION_PARM_MISSING"
            )
        switches = system.switches
        try:
            answer = read_table(
                system.rows,
                params,
                client=self._client,
                not_authorized=switches.not_authorized,
                shuffle=system.rfc_calls if switches.unordered else None,
            )
        except ReadTableError as exc:
            raise ABAPApplicationError(
                " Number:000", 5, exc.key, "", "", "000", "", "", "", ""
            ) from None
        if self._rstrip:
            for rows in answer.values():
                for row in rows:
                    for name, value in row.items():
                        row[name] = value.rstrip()
        return answer


def _abap_date(text: str) -> date | None:
    """An ABAP date as pyrfc's `dtime` gives it (None for the initial date)."""
    return None if text in ("", "00000000") else date.fromisoformat(text)


def _check_names(params: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise ExternalRuntimeError(f"field '{name}' not found", 20, "RFC_INVALID_PARAMETER")


def _check_types(params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        if name in _INT_PARAMETERS and type(value) is not int:
            raise TypeError("an integer required, received", value, "of type", type(value))
        if name in _CHAR_PARAMETERS:
            _check_char(name, value, _CHAR_PARAMETERS[name])
        if name in _TABLE_FIELDS:
            if not isinstance(value, list | tuple):
                raise TypeError("list required for table parameter, received", type(value))
            widths = _TABLE_FIELDS[name]
            for row in value:
                if not isinstance(row, Mapping):
                    raise TypeError("dictionary required for table row, received", type(row))
                for field, cell in row.items():
                    if field not in widths:
                        raise ExternalRuntimeError(
                            f"field '{field}' not found", 20, "RFC_INVALID_PARAMETER"
                        )
                    _check_char(field, cell, widths[field])


def _check_char(name: str, value: Any, width: int) -> None:
    if not isinstance(value, str):
        raise TypeError("an string is required, received", value, "of type", type(value))
    if len(value) > width:
        raise ExternalRuntimeError(
            f"Value '{value}' of {name} is longer than its {width} characters",
            22,
            "RFC_CONVERSION_FAILURE",
        )
