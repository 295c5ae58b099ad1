"""A run's keys of a stream that began it empty (`WrittenKeys`): a first load looks up only
the keys it may have written itself, and a key it did write is still found and restated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import ActualLine, LedgerEntry, Quarantine
from pmo_ledger.ledger.write import WrittenKeys
from pmo_ledger.ledger.write import actuals as actuals_module
from tests.builders import T0, actual, add_project, load


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The keys of each lookup of stored lines (`stored_versions`), in order."""
    calls: list[list[str]] = []
    real = actuals_module.stored_versions

    def spy(session: Session, source: str, stream: str, keys: list[str]) -> object:
        calls.append(list(keys))
        return real(session, source, stream, keys)

    monkeypatch.setattr(actuals_module, "stored_versions", spy)
    yield calls


def _lines(session: Session) -> dict[str, Decimal]:
    rows = session.execute(
        select(ActualLine.external_id, ActualLine.amount).where(ActualLine.deleted_at.is_(None))
    )
    return {k: v for k, v in rows.tuples()}


def _entry_sums(session: Session) -> dict[str, Decimal]:
    rows = session.execute(
        select(ActualLine.external_id, func.sum(LedgerEntry.amount_delta))
        .join(ActualLine, ActualLine.id == LedgerEntry.line_id)
        .group_by(ActualLine.external_id)
    )
    return {k: v for k, v in rows.tuples()}


def test_a_first_load_looks_up_only_what_it_wrote_and_restates_it(
    session: Session, looked_up: list[list[str]]
) -> None:
    add_project(session, "P1")
    written = WrittenKeys()
    first = [actual(f"k{i:03d}", "10.00") for i in range(200)]
    load(session, first, at=T0, written=written)
    assert looked_up == []  # the stream began empty: nothing to look up
    # A later page restates k007 and brings 200 new keys.
    later = [actual("k007", "17.50"), *(actual(f"n{i:03d}", "1.00") for i in range(200))]
    result = load(session, later, at=T0 + timedelta(hours=1), written=written)
    [keys] = looked_up
    assert "k007" in keys
    assert len(keys) < 20  # the new keys are not looked up (a few false positives may be)
    assert (result.stats.restated, result.stats.inserted, result.stats.quarantined) == (1, 200, 0)
    lines = _lines(session)
    assert len(lines) == 400
    assert lines["k007"] == Decimal("17.50")
    sums = _entry_sums(session)
    assert sums["k007"] == Decimal("17.50")
    assert sum(sums.values()) == Decimal("199") * 10 + Decimal("17.50") + 200
    assert session.scalar(select(func.count()).select_from(Quarantine)) == 0


def test_a_stream_with_lines_before_the_run_looks_up_every_key(
    session: Session, looked_up: list[list[str]]
) -> None:
    add_project(session, "P1")
    load(session, [actual("old", "5.00")], at=T0)  # an earlier run's line
    looked_up.clear()
    written = WrittenKeys()
    load(session, [actual("a", "1.00")], at=T0 + timedelta(hours=1), written=written)
    result = load(
        session,
        [actual("old", "6.00"), actual("b", "2.00")],
        at=T0 + timedelta(hours=2),
        written=written,
    )
    assert looked_up == [["a"], ["old", "b"]]
    assert result.stats.restated == 1
    assert _lines(session) == {"old": Decimal("6.00"), "a": Decimal("1.00"), "b": Decimal("2.00")}
    assert _entry_sums(session)["old"] == Decimal("6.00")


def test_a_key_of_a_batch_the_database_refused_is_still_looked_up(
    session: Session, looked_up: list[list[str]], poison_trigger: None
) -> None:
    """A refused batch is bisected and its other keys written: every key it held is
    remembered, so the next page's version of a written key restates it."""
    add_project(session, "P1")
    written = WrittenKeys()
    result = load(session, [actual("a", "1.00"), actual("poison", "2.00")], written=written)
    assert (result.stats.inserted, result.stats.quarantined) == (1, 1)
    looked_up.clear()  # (the bisected halves looked up the keys of the refused attempt)
    result = load(session, [actual("a", "3.00")], at=T0 + timedelta(hours=1), written=written)
    assert looked_up == [["a"]]
    assert result.stats.restated == 1
    assert _lines(session) == {"a": Decimal("3.00")}
