"""Alembic environment: runs against the engine the CLI (or a test) hands over, else the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Views are created by migrations with dialect-specific SQL; autogenerate skips them.
    return not (type_ == "table" and reflected and name and name.startswith("v_"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="ledger_types.",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///pmo-ledger.db")
    with engine.connect() as conn:
        _run(conn)
