"""Database fixtures: every ledger test runs on SQLite and on PostgreSQL.

PostgreSQL: one database per xdist worker, migrated once, emptied between tests. With
CI=true a PostgreSQL test fails when the server is unreachable; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine, session_factory
from pmo_ledger.ledger.models import Base

PG_URL = os.environ.get("PMO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _no_terminal_size_from_readline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No COLUMNS/LINES unless a test sets them: GNU readline, loaded in xdist workers, puts
    COLUMNS=80 in the environment, and the CLI fits its tables to an explicit COLUMNS."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of this worker's own migrated PostgreSQL database."""
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"pmo_ledger_test_{_worker()}_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - reported as fail (CI) or skip
        admin.dispose()
        message = f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    with admin.connect() as conn:
        # A test database needs no commit to wait for its WAL on disk (a crash loses it anyway).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


#: Empties every table and restarts the sequences a test advanced, in one round trip. Rows
#: are deleted with triggers and foreign-key checks off (`replica`): a test leaves a few rows,
#: and a TRUNCATE of the ~40 tables (new files for each) cost 80-250 ms a test.
_EMPTY = """
DO $$
DECLARE
    t text;
    s text;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOREACH t IN ARRAY string_to_array(:tables, ',') LOOP
        EXECUTE 'DELETE FROM ' || quote_ident(t);
    END LOOP;
    FOR s IN
        SELECT quote_ident(sequencename) FROM pg_sequences
        WHERE schemaname = current_schema() AND last_value IS NOT NULL
    LOOP
        EXECUTE 'ALTER SEQUENCE ' || s || ' RESTART';
    END LOOP;
END
$$
"""


def _empty_postgres(engine: Engine) -> None:
    tables = ",".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # (A DO block takes no parameters: the names are ours, written in as a literal.)
        conn.exec_driver_sql(_EMPTY.replace(":tables", f"'{tables}'"))
        conn.execute(
            text(
                "INSERT INTO project (id, code, name, created_at, updated_at) "
                "VALUES (0, 'UNMAPPED', 'Unmapped postings', now(), now())"
            )
        )


@pytest.fixture
def pg(pg_database: str) -> Iterator[Engine]:
    """The worker's migrated PostgreSQL database, emptied (only the UNMAPPED project): for a
    test of PostgreSQL alone (several connections, roles)."""
    engine = make_engine(pg_database)
    _empty_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty ledger database on each engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ledger.db"
        shutil.copy(template, path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        eng = make_engine(request.getfixturevalue("pg_database"))
        _empty_postgres(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test commits when it means to."""
    with session_factory(engine)() as s:
        yield s
