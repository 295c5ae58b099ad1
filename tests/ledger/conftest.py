"""Fixtures of the ledger tests."""

from __future__ import annotations

from collections.abc import Iterator

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
