"""Migration 0016 (the portfolio snapshot) down and up again with a snapshot stored, on SQLite
and PostgreSQL: down drops both tables, up creates them empty, and a snapshot's figures are
stored exactly (EV as exact text)."""

from __future__ import annotations

import importlib
from decimal import Decimal

from sqlalchemy import Engine, inspect, text

from pmo_ledger.ledger import migrate
from tests.builders import T0

REVISION = importlib.import_module("pmo_ledger.migrations.versions.0016_portfolio_snapshot")
TABLES = {"portfolio_snapshot", "portfolio_snapshot_row"}


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO portfolio_snapshot (id, status_date, period, computed_at, markers, "
                "settings_key) VALUES (1, '2025-10-20', '2025-10', :t, '[1, null]', 'k')"
            ),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO portfolio_snapshot_row (snapshot_id, project_id, budget, actual, "
                "bac, pv, ev, ac) VALUES (1, 0, :m, :m, :m, :m, '333.33633333', :m)"
            ),
            {"m": 12345678 if engine.dialect.name == "sqlite" else Decimal("1234.5678")},
        )


def test_down_drops_the_snapshot_and_up_creates_it_empty(engine: Engine) -> None:
    _store(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT budget, ev FROM portfolio_snapshot_row")).one()
    assert (Decimal(str(row[0])).scaleb(-4 if engine.dialect.name == "sqlite" else 0), row[1]) == (
        Decimal("1234.5678"),
        "333.33633333",
    )
    migrate.downgrade(engine, REVISION.down_revision)
    try:
        assert migrate.current(engine) == REVISION.down_revision
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        migrate.upgrade(engine)
    assert migrate.at_head(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM portfolio_snapshot")).scalar() == 0
