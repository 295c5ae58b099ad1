"""The entries of a batch's new lines: each names its line and carries its version, in the
lines' order, after lines already stored (SQLite reads them back from the new lines by id,
PostgreSQL writes them in the lines' own statement)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import ActualLine, LedgerEntry
from tests.builders import T0, actual, add_project, load


def _entries(session: Session) -> list[tuple[str, str, Decimal | None, Decimal | None, str]]:
    rows = session.execute(
        select(
            ActualLine.external_id,
            ActualLine.stream,
            LedgerEntry.amount_delta,
            LedgerEntry.hours_delta,
            LedgerEntry.reason,
        )
        .join(ActualLine, ActualLine.id == LedgerEntry.line_id)
        .order_by(LedgerEntry.id)
    )
    return [tuple(r) for r in rows]


def test_new_lines_entries_name_their_lines_in_order(session: Session) -> None:
    add_project(session, "P1")
    load(session, [actual("x", "1.00")], stream="other", at=T0)
    load(session, [actual("a", "2.00")], at=T0)
    load(
        session,
        [actual("c", "3.00"), actual("b", "4.00", hours=Decimal("1.5")), actual("d", "5.00")],
        at=T0 + timedelta(hours=1),
    )
    # A restatement beside a new line: the new line's entry first, then the restatement's.
    load(session, [actual("a", "2.50"), actual("e", "6.00")], at=T0 + timedelta(hours=2))
    assert _entries(session) == [
        ("x", "other", Decimal("1"), None, "insert"),
        ("a", "actuals", Decimal("2"), None, "insert"),
        ("c", "actuals", Decimal("3"), None, "insert"),
        ("b", "actuals", Decimal("4"), Decimal("1.5"), "insert"),
        ("d", "actuals", Decimal("5"), None, "insert"),
        ("e", "actuals", Decimal("6"), None, "insert"),
        ("a", "actuals", Decimal("0.5"), None, "restate"),
    ]
    ids = dict(session.execute(select(ActualLine.external_id, ActualLine.id)).tuples().all())
    assert ids["c"] < ids["b"] < ids["d"] < ids["e"]
