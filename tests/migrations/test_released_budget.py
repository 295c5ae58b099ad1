"""Migration 0013 (a budget version may be `released`) down and up again with budgets stored, on
SQLite and PostgreSQL: down removes the released versions with their lines and history and
keeps the others (and the views that read them); the narrowed CHECK refuses the kind again; up
lets it in again."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from pmo_ledger.ledger import migrate
from tests.builders import T0

REVISION = importlib.import_module("pmo_ledger.migrations.versions.0013_released_budget")

_VERSION = (
    "INSERT INTO budget_version (id, source, stream, external_id, project_id, kind, number, "
    "effective_from, content_hash, created_at, updated_at) "
    "VALUES (:id, 'erp', 'budgets', :ext, 7, :kind, 1, '2025-01-01', 'h', :t, :t)"
)
_LINE = (
    "INSERT INTO budget_line (id, version_id, external_id, project_id, cost_type, period, "
    "currency, amount, base_amount, phasing, counts, created_at, updated_at) "
    "VALUES (:id, :id, 'l', 7, 'total', '2025-01', 'EUR', :amount, :amount, 'lump', :counts, "
    ":t, :t)"
)
_ENTRY = (
    "INSERT INTO budget_entry (budget_line_id, version_id, project_id, cost_type, period, "
    "currency, counts, amount_delta, base_delta, recorded_at, reason) "
    "VALUES (:id, :id, 7, 'total', '2025-01', 'EUR', :counts, :amount, :amount, :t, 'insert')"
)


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO project (id, code, name, created_at, updated_at) "
                "VALUES (7, 'P7', 'Project 7', :t, :t)"
            ),
            {"t": T0},
        )
        for id_, kind, amount in ((1, "current", "1000.0000"), (2, "released", "600.0000")):
            args = {"id": id_, "ext": f"P7/{kind}", "kind": kind, "amount": amount, "t": T0}
            conn.execute(text(_VERSION), args)
            conn.execute(text(_LINE), {**args, "counts": True})
            conn.execute(text(_ENTRY), {**args, "counts": True})


def _kinds(engine: Engine) -> list[tuple[str, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.kind, (SELECT count(*) FROM budget_line l WHERE l.version_id = v.id), "
                "(SELECT count(*) FROM budget_entry e WHERE e.version_id = v.id) "
                "FROM budget_version v ORDER BY v.id"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_down_removes_released_versions_and_keeps_the_budget(engine: Engine) -> None:
    _store(engine)
    assert _kinds(engine) == [("current", 1, 1), ("released", 1, 1)]
    assert REVISION.down_revision == "0012"
    migrate.downgrade(engine, REVISION.down_revision)
    try:
        assert migrate.current(engine) == "0012"
        assert _kinds(engine) == [("current", 1, 1)]
        with engine.connect() as conn:
            views = conn.execute(text("SELECT count(*) FROM v_project_budget_vs_actual")).scalar()
        assert views == 2  # UNMAPPED and P7: the views still read budget_version
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(_VERSION), {"id": 3, "ext": "P7/r", "kind": "released", "t": T0})
    finally:
        migrate.upgrade(engine)
    assert migrate.at_head(engine)
    with engine.begin() as conn:
        conn.execute(text(_VERSION), {"id": 3, "ext": "P7/released", "kind": "released", "t": T0})
    assert _kinds(engine) == [("current", 1, 1), ("released", 0, 0)]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(_VERSION), {"id": 4, "ext": "P7/x", "kind": "other", "t": T0})
