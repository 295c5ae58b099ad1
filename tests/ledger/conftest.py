"""Fixtures of the ledger tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session


@pytest.fixture
def poison_trigger(engine: Engine, session: Session) -> Iterator[None]:
    """A trigger that makes the database refuse the external id 'poison' (dropped afterwards)."""
    if engine.dialect.name == "sqlite":
        session.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON actual_line WHEN NEW.external_id = 'poison'"
                " BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
            )
        )
    else:
        session.execute(
            text(
                "CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN"
                " IF NEW.external_id = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON actual_line FOR EACH ROW"
                " EXECUTE FUNCTION refuse_poison()"
            )
        )
    session.commit()
    yield
    session.rollback()
    drop_poison_trigger(engine, session)
    session.commit()


def drop_poison_trigger(engine: Engine, session: Session) -> None:
    """Drop the trigger of `poison_trigger` (idempotent)."""
    suffix = "" if engine.dialect.name == "sqlite" else " ON actual_line"
    session.execute(text("DROP TRIGGER IF EXISTS refuse_poison" + suffix))


@contextmanager
def refusing_rates_from(engine: Engine, currency: str) -> Iterator[None]:
    """A trigger that makes the database refuse fx_rate rows from `currency` ('... refused'),
    dropped afterwards (the PostgreSQL test database outlives the test)."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite:
            conn.execute(text(
                f"CREATE TRIGGER refuse_fx BEFORE INSERT ON fx_rate WHEN NEW.from_ccy = '{currency}'"
                f" BEGIN SELECT RAISE(ABORT, '{currency} refused'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "CREATE OR REPLACE FUNCTION refuse_fx() RETURNS trigger AS $$ BEGIN"
                f" IF NEW.from_ccy = '{currency}' THEN RAISE EXCEPTION '{currency} refused'; END IF;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            ))  # fmt: skip
            conn.execute(text(
                "CREATE TRIGGER refuse_fx BEFORE INSERT ON fx_rate FOR EACH ROW"
                " EXECUTE FUNCTION refuse_fx()"
            ))  # fmt: skip
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_fx" + ("" if sqlite else " ON fx_rate")))
