"""`pmo-ledger db upgrade | downgrade REV | current | rebuild-aggregates [--source S] |
grant-readonly ROLE [--login --password-env VAR]`."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Annotated, Any

import typer
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.orm import Session

from pmo_ledger.jobs.cli.common import Group, app_of, fail, group, ledger_transaction, out, reported
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.models import utcnow

#: Role names we create: lower case as PostgreSQL folds unquoted names, so analysts can type
#: them bare; at most 63 bytes (NAMEDATALEN - 1).
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: Names that mean something else in GRANT / SET ROLE, and PostgreSQL's reserved prefix.
RESERVED_ROLES = frozenset(
    {"public", "none", "all", "current_user", "current_role", "session_user"}
)
#: The ledger schema's relations a role reads (tables, partitioned, views, materialized,
#: foreign), per role `:r`: those it can read, those it owns, those it can write.
_RELATIONS = (
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
)
_READABLE = "SELECT count(*)" + _RELATIONS + " AND has_table_privilege(:r, c.oid, 'SELECT')"
_OWNED = "SELECT count(*)" + _RELATIONS + " AND pg_get_userbyid(c.relowner) = :r"
_WRITABLE = (
    "SELECT c.relname"
    + _RELATIONS
    + " AND has_table_privilege(:r, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') ORDER BY 1"
)
#: The functions that create a large object (a write outside any table): PUBLIC may run the
#: first three by default; the server-side imports are a superuser's unless granted.
LARGE_OBJECT_CREATORS = (
    "lo_creat(integer)",
    "lo_create(oid)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
)
_LO_FUNCTIONS = ", ".join(f"pg_catalog.{f}" for f in LARGE_OBJECT_CREATORS)
#: Run in this order: take everything away, then give back exactly read access.
_READ_ONLY = (
    "REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
    "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
    "REVOKE CREATE ON SCHEMA {s} FROM {r}",
    "REVOKE CREATE, TEMPORARY ON DATABASE {d} FROM {r}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TABLES FROM {r}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON SEQUENCES FROM {r}",
    "GRANT CONNECT ON DATABASE {d} TO {r}",
    "GRANT USAGE ON SCHEMA {s} TO {r}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r}",
    # Tables and views that later migrations create (run as this same role) are readable too.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {r}",
)
#: What PostgreSQL gives PUBLIC by default that lets any role write, as (may this command's
#: role revoke it, the statement). The grantor test holds for the object's owner and a
#: superuser; what stays granted is reported by `_write_paths`, with the statement to run.
_PUBLIC_DEFAULTS = (
    (
        "SELECT has_database_privilege(current_database(), 'TEMPORARY WITH GRANT OPTION')",
        "REVOKE TEMPORARY ON DATABASE {d} FROM PUBLIC",
    ),
    (
        "SELECT has_schema_privilege(current_schema(), 'CREATE WITH GRANT OPTION')",
        "REVOKE CREATE ON SCHEMA {s} FROM PUBLIC",
    ),
    (  # before PostgreSQL 15 every role may create in `public`
        "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public'"
        " AND has_schema_privilege(oid, 'CREATE WITH GRANT OPTION'))",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ),
    (
        "SELECT has_function_privilege('pg_catalog.lo_creat(integer)',"
        " 'EXECUTE WITH GRANT OPTION')",
        f"REVOKE EXECUTE ON FUNCTION {_LO_FUNCTIONS} FROM PUBLIC, {{r}}",
    ),
)
#: The ledger's writers, who keep TEMP (the stages of sync, reconcile and aggregates) once
#: PUBLIC has lost it: the role running the command and the owners of the schema's relations.
_WRITERS = (
    "SELECT rolname FROM pg_roles WHERE NOT rolsuper AND (rolname = current_user OR oid IN"
    " (SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema())) ORDER BY 1"
)


def groups() -> list[Group]:
    db = group("db", "Schema migrations, aggregates and read-only access for analysts.")
    db.app.command("upgrade")(upgrade)
    db.app.command("downgrade")(downgrade)
    db.app.command("current")(current)
    db.app.command("rebuild-aggregates")(rebuild_aggregates)
    db.app.command("grant-readonly")(grant_readonly)
    return [db]


def _revision(ctx: typer.Context) -> str:
    from pmo_ledger.ledger import migrate  # alembic only for the commands that migrate

    engine = app_of(ctx).engine
    rev = migrate.current(engine)
    if rev is None:
        return "none (empty database)"
    return f"{rev} (head)" if rev in migrate.heads(engine) else rev


def upgrade(ctx: typer.Context) -> None:
    """Migrate the ledger database to the current schema."""
    from pmo_ledger.ledger import migrate

    app = app_of(ctx)
    with reported(app):
        before = migrate.current(app.engine)
        migrate.upgrade(app.engine)
        after = _revision(ctx)
    if before is not None and after.startswith(before):
        out(f"{app.url} is already at {after}")
    else:
        out(f"upgraded {app.url} to {after}")


def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops everything.")],
) -> None:
    """Migrate the ledger database down to REVISION."""
    from pmo_ledger.ledger import migrate

    app = app_of(ctx)
    with reported(app):
        migrate.downgrade(app.engine, revision)
        after = _revision(ctx)
    out(f"downgraded {app.url} to {after}")


def current(ctx: typer.Context) -> None:
    """Print the revision the ledger database is at."""
    with reported(app_of(ctx)):
        out(_revision(ctx))


def rebuild_aggregates(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", help="Only this connector's aggregates.")
    ] = None,
) -> None:
    """Rebuild actual_period_total from the lines and clear the stale flags."""
    with ledger_transaction(ctx) as session:
        stale = aggregates.stale_sources(session)
        aggregates.rebuild(session, source, now=utcnow())
    what = f"source {source}" if source else "every source"
    was = f" (stale before: {', '.join(stale)})" if stale else ""
    out(f"rebuilt the aggregates of {what}{was}")


def grant_readonly(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="The role to create or restrict, e.g. analyst.")],
    login: Annotated[
        bool, typer.Option("--login", help="The role may log in (needs --password-env).")
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env", metavar="VAR", help="Environment variable holding its password."
        ),
    ] = None,
) -> None:
    """PostgreSQL: let ROLE read every table and view of the ledger's schema (now and after
    later migrations) and write nothing; create it when missing (NOLOGIN unless --login)."""
    app = app_of(ctx)
    if app.engine.dialect.name == "sqlite":
        path = app.engine.url.database or "pmo-ledger.db"
        raise fail(
            "SQLite has no roles: give analysts the file read-only instead, e.g. "
            f"sqlite3 'file:{path}?mode=ro'"
        )
    problem = _role_problem(role)
    if problem:
        raise fail(problem)
    password = _password(login, password_env)
    with ledger_transaction(ctx) as session:
        created = _grant_readonly(session, role, login, password)
        readable = session.execute(text(_READABLE), {"r": role}).scalar_one()
        can_login = session.execute(
            text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).scalar_one()
        leaks = _write_paths(session, role)
    if leaks:
        raise fail(f"role {role} can still write: {leaks}")
    out(
        f"{'created' if created else 'updated'} role {role} "
        f"({'LOGIN' if can_login else 'NOLOGIN'}): it reads the {readable} tables and views "
        "of the ledger's schema and writes nothing"
    )


def _role_problem(role: str) -> str | None:
    """Why `role` is refused as a name, or None."""
    if not ROLE_NAME.fullmatch(role):
        return (
            f"role name {role!r} is not allowed: use 1-63 lower-case letters, digits and "
            "underscores, starting with a letter or an underscore"
        )
    if role.startswith("pg_") or role in RESERVED_ROLES:
        return f"role name {role!r} is reserved by PostgreSQL"
    return None


def _password(login: bool, password_env: str | None) -> str | None:
    """The password from the named environment variable (read by the command, never shown);
    only with --login. Raises typer.Exit(1) with one line otherwise."""
    if password_env is None:
        if login:
            raise fail("--login needs --password-env VAR naming the password's variable")
        return None
    if not login:
        raise fail("--password-env needs --login (a NOLOGIN role has no use for a password)")
    password = os.environ.get(password_env, "")
    if not password:
        raise fail(f"environment variable {password_env} is not set or empty")
    return password


def _grant_readonly(session: Session, role: str, login: bool, password: str | None) -> bool:
    """Create or restrict `role` in the session's transaction; True when it was created.

    Refuses (ValueError) the role this command runs as, a superuser and a role owning
    relations in the schema: revoking from them would lock the ledger's own writer out, and a
    superuser writes regardless. Names are quoted by psycopg's `sql.Identifier`; a password
    goes over as a SCRAM verifier made on this side, so no server log can show it."""
    conn = session.connection()
    raw: Any = conn.connection.driver_connection
    me, schema, database = conn.execute(
        text("SELECT current_user, current_schema(), current_database()")
    ).one()
    if role == me:
        raise ValueError(f"role {role} is the role this command runs as (the ledger's owner)")
    superuser = conn.execute(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}
    ).scalar_one_or_none()
    if superuser:
        raise ValueError(f"role {role} is a superuser: it can never be read-only")
    owned = conn.execute(text(_OWNED), {"r": role}).scalar_one()
    if owned:
        raise ValueError(f"role {role} owns {owned} tables or views of schema {schema}")

    parts = {"r": sql.Identifier(role), "s": sql.Identifier(schema), "d": sql.Identifier(database)}

    def run(statement: str, **extra: sql.Composable) -> None:
        conn.exec_driver_sql(sql.SQL(statement).format(**parts, **extra).as_string(raw))

    secret: sql.Composable = sql.SQL("")
    if password is not None:
        verifier = raw.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        secret = sql.SQL(" PASSWORD {}").format(sql.Literal(verifier.decode()))
    created = superuser is None
    if created:
        run("CREATE ROLE {r} " + ("LOGIN" if login else "NOLOGIN") + "{p}", p=secret)
    elif login:
        run("ALTER ROLE {r} LOGIN{p}", p=secret)
    for statement in _READ_ONLY:
        run(statement)
    _revoke_public_defaults(session, run)
    return created


def _revoke_public_defaults(session: Session, run: Callable[..., None]) -> None:
    """Take from PUBLIC the TEMP, CREATE and large-object rights PostgreSQL gives every role,
    where this command's role may; TEMP is granted back by name to the ledger's writers that
    are no superusers. Other roles of this database that relied on PUBLIC lose them too."""
    conn = session.connection()
    allowed = [bool(conn.execute(text(query)).scalar_one()) for query, _ in _PUBLIC_DEFAULTS]
    for (_, statement), may in zip(_PUBLIC_DEFAULTS, allowed, strict=True):
        if may:
            run(statement)
    if allowed[0]:  # TEMP: the writers keep it by name
        for writer in list(conn.execute(text(_WRITERS)).scalars()):
            run("GRANT TEMPORARY ON DATABASE {d} TO {w}", w=sql.Identifier(writer))


def _write_paths(session: Session, role: str) -> str:
    """What the role can still write after the grants ('' for nothing): privileges it holds
    through PUBLIC or the roles it is a member of, which this command leaves alone."""
    conn = session.connection()
    params = {"r": role}
    writable = list(conn.execute(text(_WRITABLE), params).scalars())
    database, temp, create_db = conn.execute(
        text(
            "SELECT current_database(), has_database_privilege(:r, current_database(), "
            "'TEMPORARY'), has_database_privilege(:r, current_database(), 'CREATE')"
        ),
        params,
    ).one()
    schemas = list(
        conn.execute(
            text(
                "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(:r, oid, 'CREATE')"
                " ORDER BY 1"
            ),
            params,
        ).scalars()
    )
    large_objects = [
        f
        for f in LARGE_OBJECT_CREATORS
        if conn.execute(
            text("SELECT has_function_privilege(:r, :f, 'EXECUTE')"),
            {**params, "f": f"pg_catalog.{f}"},
        ).scalar_one()
    ]
    member_of = list(
        conn.execute(
            text(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
                " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :r ORDER BY g.rolname"
            ),
            params,
        ).scalars()
    )
    found = []
    if writable:
        shown = ", ".join(writable[:5]) + (", ..." if len(writable) > 5 else "")
        found.append(f"{len(writable)} tables ({shown})")
    if temp:
        found.append(
            f"TEMP tables (held by PUBLIC? the database's owner runs REVOKE TEMPORARY ON "
            f"DATABASE {database} FROM PUBLIC)"
        )
    if create_db:
        found.append("CREATE on the database")
    for schema in schemas:
        found.append(
            f"CREATE in schema {schema} (held by PUBLIC? its owner runs REVOKE CREATE ON "
            f"SCHEMA {schema} FROM PUBLIC)"
        )
    if large_objects:
        names = ", ".join(f.split("(")[0] for f in dict.fromkeys(large_objects))
        found.append(
            f"large objects ({names}; a superuser runs REVOKE EXECUTE ON FUNCTION "
            f"{', '.join(large_objects)} FROM PUBLIC)"
        )
    if not found:
        return ""
    via = f"; it is a member of {', '.join(member_of)}" if member_of else ""
    return "; ".join(found) + via
