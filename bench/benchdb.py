"""What every benchmark does to its databases: create the PostgreSQL one if missing, and start
from an empty ledger at the migration head."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names when it does not exist yet."""
    admin = make_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    try:
        with admin.connect() as c:
            if not c.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar():
                c.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def fresh(url: str) -> Engine:
    """An engine on an empty ledger at the head revision (PostgreSQL: the public schema is
    dropped and re-created first)."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(engine)
    return engine


def reusable(url: str, lines: int) -> Engine | None:
    """An engine on the ledger an earlier run loaded, migrated to the head, when it holds
    exactly `lines` actual lines; None when there is none to reuse."""
    engine = make_engine(url)
    try:
        if inspect(engine).has_table("actual_line"):
            with engine.connect() as c:
                held = c.execute(text("SELECT count(*) FROM actual_line")).scalar()
            if held == lines:
                migrate.upgrade(engine)
                return engine
    except Exception:
        engine.dispose()
        raise
    engine.dispose()
    return None


def settle(engine: Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, what autovacuum would have done after a load (this machine's
    server runs with autovacuum off: without it the planner has no statistics and index-only
    scans no visibility map). SQLite: nothing (the ledger never runs ANALYZE there)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
