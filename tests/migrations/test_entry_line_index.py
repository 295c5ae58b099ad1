"""Migration 0017 (issue 25, the index audit) on SQLite and PostgreSQL: `ledger_entry` loses the
index on `line_id` (no read of the ledger asks for a line's entries; the lines are never
deleted, so the foreign key never looks entries up by line) and keeps the two its readers use;
down puts it back. Entries written before and after stay readable either way."""

from __future__ import annotations

import importlib

from sqlalchemy import Engine, inspect, text

from pmo_ledger.ledger import migrate
from tests.builders import T0

REVISION = importlib.import_module("pmo_ledger.migrations.versions.0017_entry_line_index")


def _entry_indexes(engine: Engine) -> dict[str, list[str | None]]:
    return {
        str(ix["name"]): list(ix["column_names"])
        for ix in inspect(engine).get_indexes("ledger_entry")
    }


def _store(engine: Engine, line: int) -> None:
    with engine.begin() as conn:
        if line == 1:
            conn.execute(
                text(
                    "INSERT INTO project (id, code, name, created_at, updated_at) "
                    "VALUES (7, 'P7', 'Project 7', :t, :t)"
                ),
                {"t": T0},
            )
        conn.execute(
            text(
                "INSERT INTO actual_line (id, source, stream, external_id, project_id, kind, "
                "cost_type, period, posted_on, currency, amount, base_amount, stale_rate, "
                "rate_outdated, counts_amount, counts_hours, late, content_hash, hash_version, "
                "created_at, updated_at) VALUES (:id, 'erp', 'actuals', :ext, 7, 'cost', "
                "'expense', '2025-01', '2025-01-15', 'USD', 10, 10, false, false, true, false, "
                "false, 'h', 1, :t, :t)"
            ),
            {"id": line, "ext": f"L{line}", "t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_entry (line_id, source, project_id, kind, cost_type, period, "
                "posted_on, currency, counts_amount, counts_hours, amount_delta, base_delta, "
                "recorded_at, reason) VALUES (:id, 'erp', 7, 'cost', 'expense', '2025-01', "
                "'2025-01-15', 'USD', true, false, 10, 10, :t, 'insert')"
            ),
            {"id": line, "t": T0},
        )


def _entries(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT line_id, base_delta FROM ledger_entry ORDER BY line_id")
        ).all()
    return [(int(a), str(b)) for a, b in rows]


def test_head_has_no_line_index_on_entries(engine: Engine) -> None:
    assert _entry_indexes(engine) == {
        "ix_ledger_entry_project_id": ["project_id", "recorded_at"],
        "ix_ledger_entry_recorded_at": ["recorded_at"],
    }


def test_down_restores_the_line_index_and_up_drops_it(engine: Engine) -> None:
    _store(engine, 1)
    migrate.downgrade(engine, REVISION.down_revision)
    try:
        assert migrate.current(engine) == REVISION.down_revision
        assert _entry_indexes(engine)["ix_ledger_entry_line_id"] == ["line_id"]
        _store(engine, 2)
    finally:
        migrate.upgrade(engine)
    assert migrate.at_head(engine)
    assert "ix_ledger_entry_line_id" not in _entry_indexes(engine)
    _store(engine, 3)
    assert [line for line, _ in _entries(engine)] == [1, 2, 3]
