"""What every benchmark does to its databases: create the PostgreSQL one if missing, and start
from an empty ledger at the migration head."""

from __future__ import annotations

from sqlalchemy import Engine, text

from ledger import migrate
from ledger.db import make_engine


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
