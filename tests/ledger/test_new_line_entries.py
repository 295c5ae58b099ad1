"""The entries of a batch's new lines: each names its line and carries its version, in the
lines' order, after lines already stored (SQLite reads them back from the new lines by id,
PostgreSQL writes them in the lines' own statement)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import ActualLine, LedgerEntry
from tests.builders import T0, actual, add_project, load, settings


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


def _raw(session: Session, table: str, stream: str) -> list[tuple[object, ...]]:
    """The stored values as the driver reads them (SQLite: the integers and texts), with the
    line's key, not its id or stream."""
    key = "l.external_id" if table == "ledger_entry" else "external_id"
    source = (
        "ledger_entry e JOIN actual_line l ON l.id = e.line_id"
        if table == "ledger_entry"
        else "actual_line l"
    )
    rows = session.connection().exec_driver_sql(
        f"SELECT {key}, {'e' if table == 'ledger_entry' else 'l'}.* FROM {source}"
        f" WHERE l.stream = '{stream}' ORDER BY {'e' if table == 'ledger_entry' else 'l'}.id"
    )
    names = list(rows.keys())
    drop = {i for i, n in enumerate(names) if n in ("id", "line_id", "stream")}
    return [tuple(v for i, v in enumerate(r) if i not in drop) for r in rows]


def test_new_lines_straight_into_the_table_store_what_the_stage_stores(session: Session) -> None:
    """A flush of new lines only, at least `aggregate_inline_max` of them, goes straight into
    actual_line on SQLite (not through the stage): the same lines and entries, value for value,
    as the same records staged (a batch below it)."""
    add_project(session, "P1")
    load(session, [actual("seed", "1.00")], at=T0)
    records = [
        actual("a", "1.005"),
        actual("b", "-2.50", currency="EUR", description="o'neil caf\u00e9"),
        actual("c", None, hours=Decimal("7.5"), currency=None),
        actual("d", "3.00", base_amount=Decimal("2.75"), project_ref="NOPE"),
        actual("e", "4.00", project_ref=None, task_ref="T-1", quantity=Decimal("2"), uom="ea"),
    ]
    at = T0 + timedelta(hours=1)
    load(session, records, stream="direct", cfg=settings(aggregate_inline_max=1), at=at)
    load(session, records, stream="staged", cfg=settings(aggregate_inline_max=1000), at=at)
    for table in ("actual_line", "ledger_entry"):
        direct, staged = _raw(session, table, "direct"), _raw(session, table, "staged")
        assert direct == staged
        assert [r[0] for r in direct] == ["a", "b", "c", "d", "e"]
