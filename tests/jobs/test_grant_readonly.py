"""`pmo-ledger db grant-readonly ROLE`: on PostgreSQL a role that reads every table and view
and writes nothing; odd names and SQLite are refused with one line.

Roles are cluster-wide, so each test names its own (worker and process id) and drops it. The
PostgreSQL tests use the worker's migrated database (`pg_database`): with CI=true they fail
when the server is unreachable, elsewhere they are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.models import Base
from tests.conftest import PG_URL
from tests.jobs.test_cli import failed, ok, write_config

INSUFFICIENT_PRIVILEGE = "42501"


def _role_name(suffix: str = "") -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"pmo_ro_{worker}_{os.getpid()}{suffix}"


def _drop_role(engine: Engine, role: str) -> None:
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


@pytest.fixture
def role(pg: Engine) -> Iterator[str]:
    """A role name of this test's own; the role is dropped afterwards."""
    name = _role_name()
    _drop_role(pg, name)
    yield name
    _drop_role(pg, name)


def invoke(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run `pmo-ledger --config CONFIG ARGS...` in-process with extra environment variables."""
    try:
        return CliRunner().invoke(make_cli(), ["--config", str(config), *args], env=env)
    finally:
        reset_logging()


def _config(tmp_path: Path, engine: Engine) -> Path:
    return write_config(tmp_path, engine.url.render_as_string(hide_password=False))


def _as(engine: Engine, role: str, statement: str) -> list[Any]:
    """Run one statement as `role` (SET LOCAL ROLE inside its own transaction); its rows."""
    with engine.begin() as conn:
        conn.execute(text(f'SET LOCAL ROLE "{role}"'))
        result = conn.execute(text(statement))
        return [tuple(r) for r in result] if result.returns_rows else []


def _refused(engine: Engine, role: str, statement: str) -> str:
    """The SQLSTATE with which PostgreSQL refuses `statement` run as `role`."""
    with pytest.raises(ProgrammingError) as caught:
        _as(engine, role, statement)
    return str(getattr(caught.value.orig, "sqlstate", ""))


def _relations(engine: Engine) -> int:
    """Tables of the models, alembic_version and the views of the schema."""
    with engine.connect() as conn:
        views = conn.execute(
            text("SELECT count(*) FROM pg_views WHERE schemaname = current_schema()")
        ).scalar_one()
    return len(Base.metadata.tables) + 1 + int(views)


@pytest.mark.postgres
def test_the_role_reads_views_and_tables_and_writes_nothing(
    pg: Engine, role: str, tmp_path: Path
) -> None:
    """Created NOLOGIN; it selects from a view and a table; INSERT, UPDATE, DELETE, TRUNCATE
    and CREATE are refused with insufficient_privilege."""
    stdout = ok(invoke(_config(tmp_path, pg), "db", "grant-readonly", role))
    assert stdout == (
        f"created role {role} (NOLOGIN): it reads the {_relations(pg)} tables and views of the "
        "ledger's schema and writes nothing\n"
    )
    assert _as(pg, role, "SELECT project_code FROM v_project_budget_vs_actual") == [("UNMAPPED",)]
    assert _as(pg, role, "SELECT count(*) FROM v_project_evm") == [(0,)]
    assert _as(pg, role, "SELECT code FROM project WHERE id = 0") == [("UNMAPPED",)]
    for statement in (
        "INSERT INTO portfolio (code, name, created_at, updated_at)"
        " VALUES ('X', 'X', now(), now())",
        "UPDATE project SET name = 'changed' WHERE id = 0",
        "DELETE FROM project WHERE id = 0",
        "TRUNCATE variance",
        "CREATE TABLE analyst_scratch (a integer)",
        "CREATE VIEW v_analyst AS SELECT 1 AS one",
    ):
        assert _refused(pg, role, statement) == INSUFFICIENT_PRIVILEGE, statement
    with pg.connect() as conn:
        assert conn.execute(text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"),
                            {"r": role}).scalar_one() is False  # fmt: skip


@pytest.mark.postgres
def test_tables_created_later_are_readable(pg: Engine, role: str, tmp_path: Path) -> None:
    """Default privileges: a table a later migration creates (as the same owner) is readable,
    not writable."""
    ok(invoke(_config(tmp_path, pg), "db", "grant-readonly", role))
    with pg.begin() as conn:
        conn.execute(text("CREATE TABLE later_table (a integer)"))
        conn.execute(text("INSERT INTO later_table VALUES (7)"))
    try:
        assert _as(pg, role, "SELECT a FROM later_table") == [(7,)]
        assert _refused(pg, role, "INSERT INTO later_table VALUES (8)") == INSUFFICIENT_PRIVILEGE
    finally:
        with pg.begin() as conn:
            conn.execute(text("DROP TABLE later_table"))


@pytest.mark.postgres
def test_a_login_role_gets_its_password_from_the_environment_and_connects(
    pg: Engine, role: str, tmp_path: Path
) -> None:
    """--login --password-env: the password is stored as a SCRAM verifier and never shown;
    the role connects, reads and cannot write. A second run updates the same role."""
    config = _config(tmp_path, pg)
    secret = "correct horse: battery=staple"
    result = invoke(config, "db", "grant-readonly", role, "--login",
                    "--password-env", "PMO_RO_PASSWORD", env={"PMO_RO_PASSWORD": secret})  # fmt: skip
    assert ok(result).startswith(f"created role {role} (LOGIN): it reads the ")
    assert secret not in result.output
    with pg.connect() as conn:
        verifier = conn.execute(
            text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role}
        ).scalar_one()
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    url = pg.url.set(username=role, password=secret)
    reader = make_engine(url.render_as_string(hide_password=False))
    try:
        with reader.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == role
            assert conn.execute(text("SELECT count(*) FROM v_open_variances")).scalar_one() == 0
        with pytest.raises(ProgrammingError) as caught, reader.begin() as conn:
            conn.execute(text("DELETE FROM variance"))
        assert getattr(caught.value.orig, "sqlstate", "") == INSUFFICIENT_PRIVILEGE
    finally:
        reader.dispose()
    again = ok(invoke(config, "db", "grant-readonly", role))
    assert again.startswith(f"updated role {role} (LOGIN): ")


@pytest.mark.postgres
def test_a_role_that_still_writes_through_another_role_is_an_error(
    pg: Engine, role: str, tmp_path: Path
) -> None:
    """Privileges inherited from a role it is a member of are not this command's to revoke:
    it says which tables stay writable and through whom, and exits 1."""
    writer = _role_name("_w")
    _drop_role(pg, writer)
    with pg.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        conn.execute(text(f'CREATE ROLE "{writer}" NOLOGIN'))
        conn.execute(text(f'GRANT INSERT ON project, variance TO "{writer}"'))
        conn.execute(text(f'GRANT "{writer}" TO "{role}"'))
    try:
        stderr = failed(invoke(_config(tmp_path, pg), "db", "grant-readonly", role))
    finally:
        _drop_role(pg, writer)
    assert stderr == (
        f"error: role {role} can still write: 2 tables (project, variance); it is a member of "
        f"{writer}\n"
    )


@pytest.mark.postgres
def test_the_role_the_ledger_runs_as_is_refused(pg: Engine, tmp_path: Path) -> None:
    """Revoking from the ledger's own role would lock its writer out."""
    me = pg.url.username
    stderr = failed(invoke(_config(tmp_path, pg), "db", "grant-readonly", str(me)))
    assert stderr == f"error: role {me} is the role this command runs as (the ledger's owner)\n"


@pytest.mark.parametrize(
    "name,message",
    [
        ("Analyst", "is not allowed"),
        ("read only", "is not allowed"),
        ('x"; DROP ROLE postgres; --', "is not allowed"),
        ("1reader", "is not allowed"),
        ("r" * 64, "is not allowed"),
        ("pg_reader", "is reserved by PostgreSQL"),
        ("public", "is reserved by PostgreSQL"),
        ("current_user", "is reserved by PostgreSQL"),
    ],
)
def test_odd_role_names_are_refused(tmp_path: Path, name: str, message: str) -> None:
    """Names are checked before anything touches the database."""
    stderr = failed(invoke(write_config(tmp_path, PG_URL), "db", "grant-readonly", name))
    assert stderr.startswith(f"error: role name {name!r} {message}")
    assert stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args,env,message",
    [
        (("--login",), {}, "--login needs --password-env VAR naming the password's variable"),
        (("--password-env", "PW"), {"PW": "x"},
         "--password-env needs --login (a NOLOGIN role has no use for a password)"),
        (("--login", "--password-env", "PMO_UNSET_PW"), {},
         "environment variable PMO_UNSET_PW is not set or empty"),
    ],
)  # fmt: skip
def test_password_options_must_go_together(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    """--login needs a password variable that is set; a password needs --login."""
    config = write_config(tmp_path, PG_URL)
    result = invoke(config, "db", "grant-readonly", "analyst", *args, env=env)
    assert failed(result) == f"error: {message}\n"


def test_sqlite_has_no_roles(tmp_path: Path) -> None:
    """One line: SQLite has no roles; open the file read-only instead."""
    db = tmp_path / "ledger.db"
    stderr = failed(invoke(write_config(tmp_path, f"sqlite:///{db}"), "db", "grant-readonly", "x"))
    assert stderr == (
        "error: SQLite has no roles: give analysts the file read-only instead, e.g. "
        f"sqlite3 'file:{db}?mode=ro'\n"
    )


# --- what PostgreSQL gives every role (issue 18, item 13) -------------------------------------

LARGE_OBJECTS_LEFT = (
    "large objects (lo_creat, lo_create, lo_from_bytea; a superuser runs REVOKE EXECUTE ON "
    "FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea) FROM PUBLIC)"
)
SYNC_CONFIG = """\
[ledger]
url = "{url}"
base_currency = "USD"

[connectors.demo]
kind = "sample"
actuals = 60
projects = 3
page_size = 25
lookback = "0s"

[reconcile]
after_sync = false

[logging]
level = "ERROR"
"""


def _creates_nothing(engine: Engine, role: str) -> None:
    """As `role`: TEMP tables, tables and functions in `public` or `pg_temp`, and large
    objects (created, from bytea, imported) are refused with insufficient_privilege."""
    for statement in (
        "CREATE TEMP TABLE analyst_temp (a integer)",
        "CREATE TABLE public.analyst_table (a integer)",
        "CREATE FUNCTION public.analyst_f() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        "CREATE FUNCTION pg_temp.analyst_f() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        "SELECT lo_creat(-1)",
        "SELECT lo_create(0)",
        "SELECT lo_from_bytea(0, '\\x00'::bytea)",
        "SELECT lo_import('/etc/hostname')",
    ):
        assert _refused(engine, role, statement) == INSUFFICIENT_PRIVILEGE, statement


@pytest.mark.postgres
def test_the_role_gets_no_temp_tables_functions_or_large_objects(
    pg: Engine, role: str, tmp_path: Path
) -> None:
    """What PUBLIC holds by default (TEMP on the database, EXECUTE on the large-object
    creators) is revoked: as the role, each way to write is refused; views still read."""
    ok(invoke(_config(tmp_path, pg), "db", "grant-readonly", role))
    _creates_nothing(pg, role)
    assert _as(pg, role, "SELECT count(*) FROM v_open_variances") == [(0,)]
    with pg.connect() as conn:
        acl = conn.execute(
            text("SELECT datacl::text FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    assert "=c/" in acl and "=Tc/" not in acl  # PUBLIC keeps CONNECT, not TEMP


@pytest.mark.postgres
def test_create_in_public_held_by_public_is_revoked(pg: Engine, role: str, tmp_path: Path) -> None:
    """Before PostgreSQL 15 every role may create in `public` (granted here to stand for it):
    the command revokes it and the role creates nothing there."""
    with pg.begin() as conn:
        conn.execute(text("GRANT CREATE ON SCHEMA public TO PUBLIC"))
    try:
        ok(invoke(_config(tmp_path, pg), "db", "grant-readonly", role))
        assert (
            _refused(pg, role, "CREATE TABLE public.analyst_table (a integer)")
            == INSUFFICIENT_PRIVILEGE
        )
    finally:
        with pg.begin() as conn:
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


@contextmanager
def _writer_database(*, owned_by_writer: bool) -> Iterator[tuple[Engine, Engine]]:
    """A database of its own, migrated by a LOGIN role that is no superuser (the ledger's
    writer): owned by it, as docs/operations.md sets it up, or by the superuser with the
    writer allowed to create in `public`. Yields (superuser engine, writer engine) on it."""
    writer = _role_name("_writer")
    name = f"pmo_ledger_{writer}"
    server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    _drop_role(server, writer)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE ROLE "{writer}" LOGIN'))
        owner = f' OWNER "{writer}"' if owned_by_writer else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{owner}'))
    admin = make_engine(make_url(PG_URL).set(database=name).render_as_string(False))
    if not owned_by_writer:
        with admin.begin() as conn:
            conn.execute(text(f'GRANT CREATE ON SCHEMA public TO "{writer}"'))
    url = make_url(PG_URL).set(database=name, username=writer).render_as_string(False)
    own = make_engine(url)
    try:
        migrate.upgrade(own)
        yield admin, own
    finally:
        own.dispose()
        admin.dispose()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _drop_role(server, writer)
        server.dispose()


def _syncs(writer: Engine, tmp_path: Path) -> None:
    """The writer syncs the sample connector and reconciles (both stage in TEMP tables)."""
    config = tmp_path / "sync.toml"
    url = writer.url.render_as_string(hide_password=False)
    config.write_text(SYNC_CONFIG.format(url=url), encoding="utf-8")
    ok(invoke(config, "sync", "demo"))
    ok(invoke(config, "reconcile"))
    with writer.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM actual_line")).scalar_one() == 60


@pytest.mark.postgres
def test_on_a_database_the_ledger_role_owns_large_objects_need_a_superuser(
    role: str, tmp_path: Path
) -> None:
    """The documented set-up: the ledger's role owns the database and runs the command on a
    role a superuser created. It takes TEMP and CREATE from PUBLIC; the large-object functions are a superuser's, so it
    says what stays and the statement to run (exit 1). Once a superuser has run it, the
    command succeeds; the role creates nothing and the writer still syncs and reconciles."""
    with _writer_database(owned_by_writer=True) as (admin, writer):
        with admin.begin() as conn:  # the ledger's role may not create roles
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        config = _config(tmp_path, writer)
        stderr = failed(invoke(config, "db", "grant-readonly", role))
        assert stderr == f"error: role {role} can still write: {LARGE_OBJECTS_LEFT}\n"
        with admin.begin() as conn:
            conn.execute(
                text(
                    "REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), "
                    "lo_from_bytea(oid, bytea) FROM PUBLIC"
                )
            )
        assert ok(invoke(config, "db", "grant-readonly", role)).startswith(
            f"updated role {role} (NOLOGIN): "
        )
        _creates_nothing(admin, role)
        assert _as(admin, role, "SELECT count(*) FROM v_project_evm") == [(0,)]
        _syncs(writer, tmp_path)
        _drop_role(admin, role)  # its grants live in this database


@pytest.mark.postgres
def test_a_writer_that_does_not_own_the_database_keeps_temp(role: str, tmp_path: Path) -> None:
    """A superuser runs the command on a database it owns, where the ledger's writer owns the
    tables: PUBLIC loses TEMP but the writer keeps it by name and syncs; the role cannot."""
    with _writer_database(owned_by_writer=False) as (admin, writer):
        ok(invoke(_config(tmp_path, admin), "db", "grant-readonly", role))
        _creates_nothing(admin, role)
        _syncs(writer, tmp_path)
        _drop_role(admin, role)
