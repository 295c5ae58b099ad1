"""The writer's promises for actual lines (rules 1-3, 5, 6), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import UNMAPPED_ID, LedgerEntry, Quarantine
from tests.builders import (
    T0,
    actual,
    add_project,
    assert_entries_match_lines,
    counts,
    line,
    load,
    project_total,
)


def _entries(session: Session, external_id: str) -> list[tuple[object, ...]]:
    """(reason, project_id, amount_delta, currency, base_delta) of a line's entries, in order."""
    lid = line(session, external_id).id
    rows = session.execute(
        select(
            LedgerEntry.reason, LedgerEntry.project_id, LedgerEntry.amount_delta,
            LedgerEntry.currency, LedgerEntry.base_delta,
        )
        .where(LedgerEntry.line_id == lid)
        .order_by(LedgerEntry.id)
    ).all()
    return [tuple(r) for r in rows]


def test_first_load_inserts_lines_and_entries(session: Session) -> None:
    """A first batch writes one line and one insert entry per record."""
    p1 = add_project(session, "P1")
    load(session, [actual("a1", "100.00"), actual("a2", "50.25")], at=T0)
    assert line(session, "a1").amount == Decimal("100.0000")
    assert line(session, "a2").base_amount == Decimal("50.2500")
    assert project_total(session, p1) == Decimal("150.25")
    assert counts(session)["ledger_entry"] == 2
    assert_entries_match_lines(session)


def test_replay_changes_nothing(session: Session) -> None:
    """Replaying the same batch changes no line, entry, quarantine row or total."""
    add_project(session, "P1")
    batch = [actual("a1"), actual("a2", None, hours=Decimal("8")), actual("bad", currency="XYZ")]
    load(session, batch, at=T0)
    before = counts(session)
    updated = line(session, "a1").updated_at
    load(session, batch, at=T0 + timedelta(hours=1))
    assert counts(session) == before
    assert line(session, "a1").updated_at == updated
