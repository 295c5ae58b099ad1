"""Migrations: one head, up/down/up on both engines, models equal to migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.models import Base


def test_single_head(engine: Engine) -> None:
    """The migration scripts have exactly one head."""
    assert len(migrate.heads(engine)) == 1


def test_upgrade_downgrade_upgrade(engine: Engine) -> None:
    """Down to base drops every table; up again restores the schema and the UNMAPPED project."""
    migrate.downgrade(engine, "base")
    assert migrate.current(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.at_head(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code FROM project WHERE id = 0")).scalar() == "UNMAPPED"
        assert conn.execute(text("SELECT count(*) FROM v_project_budget_vs_actual")).scalar() == 1


def test_models_match_migrations(engine: Engine) -> None:
    """Autogenerate finds no difference between the models and the migrated database."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda o, n, t, r, c: not (t == "table" and n.startswith("v_")),
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


@pytest.mark.parametrize(
    "pragma,expected", [("journal_mode", "wal"), ("busy_timeout", 5000), ("foreign_keys", 1)]
)
def test_sqlite_pragmas(tmp_path: Path, pragma: str, expected: object) -> None:
    """SQLite connections set WAL, busy_timeout=5000 and foreign keys."""
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected
    engine.dispose()
