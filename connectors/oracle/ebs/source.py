"""The EBS database as the connector reaches it: one SQLAlchemy engine over python-oracledb
(thin mode unless `thick_mode`), or over an EBS-shaped copy in SQLite or PostgreSQL, with the
configured schema put in front of every table, the fetch sizes set, and the driver's errors
turned into the contract's.

- Oracle: `oracle+oracledb://user@host:port/?service_name=...`; `cursor.arraysize` and
  `cursor.prefetchrows` are set on every cursor before it executes (python-oracledb's
  tuning guide: bulk reads want both in the thousands); the connect timeout goes to
  `tcp_connect_timeout`, the read timeout to the connection's `call_timeout`.
- SQLite: the URL's file is attached under the schema's name (`ATTACH DATABASE ... AS
  APPS`), so `APPS.PA_PROJECTS_ALL` reads its table as on Oracle.
- PostgreSQL: the schema is a PostgreSQL schema ("APPS", created with the tables).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
)
from pmo_ledger.connectors.oracle.settings import OracleSettings

T = TypeVar("T")
_MISSING = re.compile(r"no such (table|column)|unknown database|does not exist", re.I)
_ORA = re.compile(r"\b(ORA|DPY)-(\d{4,5})\b")
#: Oracle errors that a person must fix in the settings or grants (the rest of the database
#: errors fail the run as the source's, connection losses and timeouts are tried again).
CONFIG_ERRORS = {
    "ORA-01017": "the database refused the user or password: check connectors.{name}.url "
    "and connectors.{name}.password",
    "ORA-28000": "the account is locked: ask the DBA to unlock the user of connectors.{name}.url",
    "ORA-00942": "a table or view is missing or not granted: grant SELECT on the objects "
    "docs/connectors/oracle.md lists to the user, in schema connectors.{name}.schema",
    "ORA-01031": "insufficient privileges: grant SELECT on the objects docs/connectors/"
    "oracle.md lists to the user of connectors.{name}.url",
    "ORA-12514": "the listener does not know the service: check service_name in "
    "connectors.{name}.url",
    "ORA-12505": "the listener does not know the SID: check connectors.{name}.url",
    "DPY-4027": "no database in connectors.{name}.url (host:port/?service_name=...)",
}
TRANSIENT_ERRORS = ("ORA-12541", "ORA-12170", "ORA-03113", "ORA-03114", "ORA-03135",
                    "DPY-4011", "DPY-4024", "DPY-6005", "ORA-00054", "ORA-01555")  # fmt: skip


def source_url(settings: OracleSettings) -> URL:
    """The configured URL with the password secret put in (never logged)."""
    if settings.url is None:
        raise ConnectorConfigError("an EBS connector needs url")
    try:
        url = make_url(settings.url)
    except exc.ArgumentError as error:
        raise ConnectorConfigError(f"url is not a SQLAlchemy URL: {error}") from None
    if settings.password is not None and url.get_backend_name() != "sqlite":  # SQLite has none
        url = url.set(password=settings.password.get_secret_value())
    return url


def make_source_engine(
    settings: OracleSettings, connect_timeout: timedelta, read_timeout: timedelta
) -> Engine:
    """An engine on the EBS database (or an EBS-shaped copy) whose statements name the
    configured schema. Raises ConnectorConfigError for a URL it cannot use."""
    url = source_url(settings)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "oracle":
        if url.get_driver_name() != "oracledb":
            raise ConnectorConfigError(
                "url must use the python-oracledb driver: oracle+oracledb://user@host:1521/"
                "?service_name=EBS"
            )
        try:
            import oracledb  # the dialect's driver, passed explicitly: a missing one is a line
        except ImportError:
            raise ConnectorConfigError(
                "url is an Oracle database and python-oracledb is not installed "
                "(pip install oracledb)"
            ) from None
        kwargs["module"] = oracledb
        if settings.thick_mode:
            kwargs["thick_mode"] = True
        kwargs["connect_args"] = {"tcp_connect_timeout": connect_timeout.total_seconds()}
    elif backend == "postgresql":
        if url.drivername == "postgresql":  # psycopg 3 is the driver the project ships
            url = url.set(drivername="postgresql+psycopg")
        kwargs["connect_args"] = {"connect_timeout": max(1, int(connect_timeout.total_seconds()))}
    elif backend != "sqlite":
        raise ConnectorConfigError(
            f"url: {backend} is not read; an Oracle EBS database (oracle+oracledb://) or an "
            "EBS-shaped copy in SQLite or PostgreSQL"
        )
    try:
        engine = create_engine(url, **kwargs)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as error:
        raise ConnectorConfigError(f"url cannot be used: {error}") from None
    if backend == "oracle":
        _tune_oracle(engine, settings, read_timeout)
    elif backend == "sqlite":
        _attach_schema(engine, url.database or "", settings.schema_name)
    return engine.execution_options(schema_translate_map={None: settings.schema_name})


def _tune_oracle(engine: Engine, settings: OracleSettings, read_timeout: timedelta) -> None:
    @event.listens_for(engine, "connect")
    def _timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.call_timeout = int(read_timeout.total_seconds() * 1000)

    @event.listens_for(engine, "before_cursor_execute")
    def _fetch_sizes(
        _conn: Any, cursor: Any, _statement: Any, _params: Any, _context: Any, _many: Any
    ) -> None:
        cursor.arraysize = settings.arraysize
        cursor.prefetchrows = settings.prefetchrows


def _attach_schema(engine: Engine, database: str, schema: str) -> None:
    """SQLite has schemas only as attached databases: the URL's file is attached again under
    the schema's name (a file may be attached twice)."""
    if not database or database == ":memory:":
        raise ConnectorConfigError("an SQLite EBS copy needs a file: sqlite:///path/ebs.db")

    @event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'ATTACH DATABASE ? AS "{schema}"', (database,))
        cursor.close()


def ora_code(error: BaseException) -> str | None:
    """The ORA-nnnnn / DPY-nnnn code in a driver error's text, if any."""
    m = _ORA.search(str(error))
    return f"{m[1]}-{m[2]}" if m else None


def translated(name: str, what: str, error: exc.SQLAlchemyError) -> ConnectorError:
    """A driver error as the contract's error: settings and grants -> ConnectorConfigError,
    lost connections and timeouts -> ConnectorTransientError, the rest -> SourceError."""
    code = ora_code(error)
    detail = str(getattr(error, "orig", error)).strip().splitlines()[0][:300]
    if code in CONFIG_ERRORS:
        hint = CONFIG_ERRORS[code].format(name=name)
        return ConnectorConfigError(f"{name}: {what}: {hint} ({detail})")
    if code is None and _MISSING.search(detail):
        # SQLite / PostgreSQL copies: a missing table or column is the copy's shape.
        return ConnectorConfigError(
            f"{name}: {what}: the schema connectors.{name}.schema lacks an object or column "
            f"the connector reads ({detail})"
        )
    if code in TRANSIENT_ERRORS or isinstance(error, exc.OperationalError | exc.TimeoutError):
        return ConnectorTransientError(f"{name}: {what}: {detail}")
    return SourceError(f"{name}: {what}: {detail}")


def guarded(name: str, what: str, call: Callable[[], T]) -> T:
    """`call()` with the driver's errors translated (see `translated`)."""
    try:
        return call()
    except exc.SQLAlchemyError as error:
        raise translated(name, what, error) from error
