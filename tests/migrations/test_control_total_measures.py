"""Migration 0009 (control_total hours and budgets) down and up again with checks stored, on
SQLite and PostgreSQL: nothing stored is lost on the way down."""

from __future__ import annotations

import importlib
from decimal import Decimal

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.control_totals import Drift, record
from tests.builders import T0

D = Decimal
REVISION = importlib.import_module("pmo_ledger.migrations.versions.0009_control_total_measures")


def test_downgrade_keeps_a_budget_checks_figures_in_the_amount_columns(engine: Engine) -> None:
    """Down from 0009 a budget row's figures move into source_amount / ledger_amount (not
    NULL again) and v_sync_health is 0002's; up again the columns are back, empty."""
    with Session(engine) as s:
        s.execute(
            text("INSERT INTO sync_state (connector, stream, updated_at) VALUES ('psa', :s, :t)"),
            [{"s": "budgets", "t": T0}, {"s": "timecards", "t": T0}],
        )
        budget = Drift("a1", "USD", 1, D("55000.00"), 1, D("50000.00"), money_measure="budget")
        hours = Drift("a1", "USD", 2, D("10.50"), 2, D("10.00"), D("3"), D("2.5"))
        record(s, "psa", "budgets", [budget], T0)
        record(s, "psa", "timecards", [hours], T0)
        s.commit()
    migrate.downgrade(engine, REVISION.down_revision)
    try:
        scale = D(10000) if engine.dialect.name == "sqlite" else D(1)
        with engine.connect() as conn:
            amounts = conn.execute(
                text(
                    "SELECT stream, source_amount, ledger_amount FROM control_total ORDER BY stream"
                )
            ).all()
            drift = conn.execute(
                text("SELECT stream, amount_drift FROM v_sync_health ORDER BY stream")
            ).all()
        assert [(r[0], D(r[1]) / scale, D(r[2]) / scale) for r in amounts] == [
            ("budgets", D("55000"), D("50000")),
            ("timecards", D("10.5"), D("10")),
        ]
        assert [(r[0], D(str(r[1]))) for r in drift] == [
            ("budgets", D("5000")),
            ("timecards", D("0.5")),
        ]
    finally:
        migrate.upgrade(engine)
    with engine.connect() as conn:
        again = conn.execute(
            text(
                "SELECT c.stream, source_hours, source_budget, drifted_groups FROM control_total c "
                "JOIN v_sync_health h ON h.connector = c.source AND h.stream = c.stream "
                "ORDER BY c.stream"
            )
        ).all()
    assert [tuple(r) for r in again] == [("budgets", None, None, 1), ("timecards", None, None, 1)]
