"""New lines written ahead in chunks on PostgreSQL while the writer builds the next ones
(`LineWriter.writing_ahead`, `ledger/write/inflight.py`): the same lines, ids and entries as
when everything waits for the flush; an error of the statement in flight bisected down to the
record; nothing runs on the connection while a statement is in flight."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pmo_ledger.ledger.db import session_factory
from pmo_ledger.ledger.models import ActualLine, LedgerEntry, Quarantine
from pmo_ledger.ledger.write import actuals, entries, inflight
from tests.builders import T0, actual, add_project, assert_entries_match_lines, load


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Chunks of 2 new lines; the statements sent ahead, as they were sent."""
    monkeypatch.setattr(entries, "AHEAD_CHUNK", 2)
    statements: list[str] = []
    send = inflight.InFlight.send

    def spy(self: inflight.InFlight, sql: str) -> None:
        statements.append(sql)
        send(self, sql)

    monkeypatch.setattr(inflight.InFlight, "send", spy)
    return statements


def _lines_and_entries(session: Session) -> list[tuple[Any, ...]]:
    """(external_id, entry reason, amount_delta) by line id then entry id."""
    rows = session.execute(
        select(ActualLine.external_id, LedgerEntry.reason, LedgerEntry.amount_delta)
        .join(LedgerEntry, LedgerEntry.line_id == ActualLine.id)
        .order_by(ActualLine.id, LedgerEntry.id)
    ).all()
    return [tuple(r) for r in rows]


def _entry_line_order(session: Session) -> list[str]:
    """External ids of the entries' lines, in entry id order."""
    return list(
        session.scalars(
            select(ActualLine.external_id)
            .join(LedgerEntry, LedgerEntry.line_id == ActualLine.id)
            .order_by(LedgerEntry.id)
        )
    )


def test_lines_written_ahead_keep_their_order_ids_and_entries(
    session: Session, engine: Engine, sent: list[str]
) -> None:
    """Seven new lines in chunks of two (the last chunk, of one, goes ahead too when the
    block ends): lines and entries in the records' order, one each."""
    add_project(session, "P1")
    keys = [f"a{i}" for i in range(7)]
    load(session, [actual(k, f"{i + 1}.00") for i, k in enumerate(keys)], at=T0)
    assert len(sent) == (4 if engine.dialect.name == "postgresql" else 0)
    assert _lines_and_entries(session) == [
        (k, "insert", Decimal(f"{i + 1}.0000")) for i, k in enumerate(keys)
    ]
    assert _entry_line_order(session) == keys
    assert_entries_match_lines(session)


def test_a_restated_line_between_new_ones_keeps_every_entry_in_order(
    session: Session, engine: Engine, sent: list[str]
) -> None:
    """A restatement among new lines: the new lines still go ahead, the restatement's entry
    comes after every insert entry, as when all waited for the flush."""
    add_project(session, "P1")
    load(session, [actual("old", "1.00")], at=T0)
    load(
        session,
        [actual("n1"), actual("old", "5.00"), actual("n2"), actual("n3"), actual("n4")],
        at=T0.replace(hour=1),
    )
    # One chunk for 'old' in the first load, two for n1-n4 in the second.
    assert len(sent) == (3 if engine.dialect.name == "postgresql" else 0)
    assert _entry_line_order(session) == ["old", "n1", "n2", "n3", "n4", "old"]
    assert_entries_match_lines(session)


@pytest.fixture
def refusing_poison(pg: Engine) -> Iterator[Session]:
    """A session on PostgreSQL where a trigger refuses the key 'poison' as a check violation
    (SQLSTATE 23514), dropped afterwards."""
    with session_factory(pg)() as s:
        s.execute(
            text(
                "CREATE OR REPLACE FUNCTION refuse_poison_check() RETURNS trigger AS $$ BEGIN"
                " IF NEW.external_id = 'poison' THEN"
                " RAISE EXCEPTION 'poison refused' USING ERRCODE = 'check_violation'; END IF;"
                " RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        s.execute(
            text(
                "CREATE TRIGGER refuse_poison_check BEFORE INSERT ON actual_line FOR EACH ROW"
                " EXECUTE FUNCTION refuse_poison_check()"
            )
        )
        s.commit()
        yield s
        s.rollback()
        s.execute(text("DROP TRIGGER IF EXISTS refuse_poison_check ON actual_line"))
        s.commit()


@pytest.mark.postgres
def test_a_record_refused_in_a_chunk_in_flight_is_quarantined_alone(
    refusing_poison: Session, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement in flight fails (IntegrityError, 23514) while the next chunk is built:
    the batch is bisected, 'poison' is held as db_rejected, every other record loads once."""
    session = refusing_poison
    raised: list[BaseException] = []
    collect = inflight.InFlight.collect

    def spy(self: inflight.InFlight) -> None:
        try:
            collect(self)
        except BaseException as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(inflight.InFlight, "collect", spy)
    add_project(session, "P1")
    keys = ["a", "b", "c", "poison", "d", "e", "f"]
    load(session, [actual(k) for k in keys], at=T0)
    # Refused in flight on the first try, and again by the half that still holds 'poison'.
    assert {(type(e), e.orig.sqlstate) for e in raised} == {(IntegrityError, "23514")}  # type: ignore[attr-defined]
    held = session.execute(select(Quarantine.external_id, Quarantine.reason)).all()
    assert [tuple(h) for h in held] == [("poison", "db_rejected")]
    assert sorted(session.scalars(select(ActualLine.external_id))) == sorted(set(keys) - {"poison"})
    assert session.scalar(select(LedgerEntry.id).where(LedgerEntry.reason != "insert")) is None
    assert len(_lines_and_entries(session)) == 6
    assert_entries_match_lines(session)


@pytest.mark.postgres
def test_a_value_refused_while_its_chunk_is_formatted_is_quarantined_alone(
    pg: Engine, sent: list[str]
) -> None:
    """A description with a NUL character, which PostgreSQL's text cannot hold, in the chunk
    formatted while the one before it is in flight: the batch is bisected, that record alone
    is held as db_rejected, every other record loads once."""
    keys = ["a", "b", "c", "nul", "d", "e", "f"]
    with session_factory(pg)() as session:
        add_project(session, "P1")
        records = [actual(k, description="a\x00b" if k == "nul" else k) for k in keys]
        load(session, records, at=T0)
        held = session.execute(select(Quarantine.external_id, Quarantine.reason)).all()
        assert [tuple(h) for h in held] == [("nul", "db_rejected")]
        loaded = session.execute(select(ActualLine.external_id, ActualLine.description)).all()
        assert sorted(tuple(r) for r in loaded) == sorted((k, k) for k in keys if k != "nul")
        assert len(_lines_and_entries(session)) == 6
        assert_entries_match_lines(session)


@pytest.mark.postgres
def test_an_error_in_the_build_loop_waits_for_the_statement_in_flight(
    pg: Engine, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Python error while a chunk is in flight comes out as itself, and the connection is
    usable after the rollback (nothing left in flight, nothing written)."""
    build_line = actuals.build_line

    def failing(ctx: Any, stream: str, r: Any, *args: Any, **kw: Any) -> dict[str, Any]:
        if r.external_id == "boom":
            raise RuntimeError("boom")
        return build_line(ctx, stream, r, *args, **kw)

    monkeypatch.setattr(actuals, "build_line", failing)
    with session_factory(pg)() as session:
        add_project(session, "P1")
        session.commit()
        with pytest.raises(RuntimeError, match="boom"):
            load(session, [actual("a"), actual("b"), actual("c"), actual("boom")], at=T0)
        assert len(sent) == 1
        session.rollback()
        assert session.scalar(select(ActualLine.id)) is None


@pytest.mark.postgres
def test_a_statement_through_the_session_waits_for_the_one_in_flight(pg: Engine) -> None:
    """The guard: a statement through the session collects the one in flight first."""
    with session_factory(pg)() as session:
        session.execute(text("CREATE TEMP TABLE ahead_t (x integer)"))
        ahead = inflight.InFlight(session)
        ahead.send("INSERT INTO ahead_t SELECT g FROM generate_series(1, 5000) g")
        assert ahead.busy
        assert session.scalar(text("SELECT count(*) FROM ahead_t")) == 5000
        assert not ahead.busy
        ahead.close()
        session.rollback()


@pytest.mark.postgres
def test_an_error_in_flight_surfaces_at_the_next_statement_as_sqlalchemy_s_class(
    pg: Engine,
) -> None:
    """A refused row of the statement in flight raises IntegrityError (its sqlstate kept) at
    the next use of the session; the savepoint rolls back and the session goes on."""
    with session_factory(pg)() as session:
        session.execute(text("CREATE TEMP TABLE ahead_c (x integer CHECK (x < 10))"))
        savepoint = session.begin_nested()
        ahead = inflight.InFlight(session)
        ahead.send("INSERT INTO ahead_c VALUES (1); INSERT INTO ahead_c VALUES (20)")
        with pytest.raises(IntegrityError) as caught:
            session.execute(text("SELECT 1"))
        assert caught.value.orig.sqlstate == "23514"  # type: ignore[union-attr]
        assert not ahead.busy
        savepoint.rollback()
        ahead.close()
        assert session.scalar(text("SELECT count(*) FROM ahead_c")) == 0
        session.rollback()
