"""Migration 0012 (project.condition) down and up again with projects stored, on SQLite and
PostgreSQL: down drops the column and keeps the projects (and the views that read them), up
brings it back empty."""

from __future__ import annotations

import importlib

from sqlalchemy import Engine, inspect, text

from pmo_ledger.ledger import migrate
from tests.builders import T0

REVISION = importlib.import_module("pmo_ledger.migrations.versions.0012_project_condition")


def columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("project")}


def test_down_drops_the_condition_and_keeps_the_projects(engine: Engine) -> None:
    insert = text(
        "INSERT INTO project (id, code, name, condition, created_at, updated_at) "
        "VALUES (7, 'P7', 'Project 7', 'at_risk', :t, :t)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"t": T0})
    assert REVISION.down_revision == "0011"
    migrate.downgrade(engine, REVISION.down_revision)
    try:
        assert migrate.current(engine) == "0011"
        assert "condition" not in columns(engine)
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT code, name FROM project WHERE id = 7")).one()
            views = conn.execute(text("SELECT count(*) FROM v_project_budget_vs_actual")).scalar()
        assert tuple(kept) == ("P7", "Project 7")
        assert views == 2  # UNMAPPED and P7
    finally:
        migrate.upgrade(engine)
    assert migrate.at_head(engine) and "condition" in columns(engine)
    with engine.connect() as conn:
        again = conn.execute(text("SELECT code, condition FROM project WHERE id = 7")).one()
    assert tuple(again) == ("P7", None)
