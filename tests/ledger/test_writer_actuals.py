"""The writer's promises for actual lines (rules 1-3, 5, 6), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import ActualLine, ActualPeriodTotal, LedgerEntry
from pmo_ledger.ledger.records import FxRateRecord
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
            LedgerEntry.reason,
            LedgerEntry.project_id,
            LedgerEntry.amount_delta,
            LedgerEntry.currency,
            LedgerEntry.base_delta,
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


def test_restated_amount_adds_one_entry_with_the_delta(session: Session) -> None:
    """100.00 restated to 92.50 adds one restate entry of -7.50."""
    p1 = add_project(session, "P1")
    load(session, [actual("a1", "100.00")], at=T0)
    load(session, [actual("a1", "92.50")], at=T0 + timedelta(days=1))
    assert _entries(session, "a1") == [
        ("insert", p1, Decimal("100.0000"), "USD", Decimal("100.0000")),
        ("restate", p1, Decimal("-7.5000"), "USD", Decimal("-7.5000")),
    ]
    assert project_total(session, p1) == Decimal("92.50")
    assert_entries_match_lines(session)


def test_changed_hash_without_money_change_writes_no_entry(session: Session) -> None:
    """A new description updates the line and writes no entry."""
    add_project(session, "P1")
    load(session, [actual("a1", description="old")], at=T0)
    load(session, [actual("a1", description="new")], at=T0 + timedelta(days=1))
    assert line(session, "a1").description == "new"
    assert len(_entries(session, "a1")) == 1


def test_move_between_projects_keeps_history(session: Session) -> None:
    """A line moved from A to B: A as known before is unchanged; after, A drops and B rises."""
    a = add_project(session, "A")
    b = add_project(session, "B")
    load(session, [actual("x", "40.00", project_ref="A")], at=T0)
    t1 = T0 + timedelta(days=1)
    load(session, [actual("x", "40.00", project_ref="B")], at=t1)
    assert project_total(session, a, as_known_at=T0) == Decimal("40.00")
    assert project_total(session, b, as_known_at=T0) == Decimal("0")
    assert project_total(session, a) == Decimal("0")
    assert project_total(session, b) == Decimal("40.00")
    assert [e[0:3] for e in _entries(session, "x")] == [
        ("insert", a, Decimal("40.0000")),
        ("restate", a, Decimal("-40.0000")),
        ("restate", b, Decimal("40.0000")),
    ]
    assert_entries_match_lines(session)


def test_currency_restatement_reverses_usd_and_adds_eur(session: Session) -> None:
    """100.00 USD restated to 92.00 EUR: a USD reversal and a EUR entry."""
    p1 = add_project(session, "P1")
    load(
        session,
        [
            FxRateRecord(
                from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 10, 1), rate=Decimal("1.08")
            )
        ],
        source="manual",
        stream="fx",
        at=T0,
    )
    load(session, [actual("a1", "100.00")], at=T0)
    load(session, [actual("a1", "92.00", currency="EUR")], at=T0 + timedelta(days=1))
    assert _entries(session, "a1") == [
        ("insert", p1, Decimal("100.0000"), "USD", Decimal("100.0000")),
        ("restate", p1, Decimal("-100.0000"), "USD", Decimal("-100.0000")),
        ("restate", p1, Decimal("92.0000"), "EUR", Decimal("99.3600")),
    ]
    assert line(session, "a1").rate == Decimal("1.08000000")
    assert_entries_match_lines(session)


def test_rate_arriving_later_converts_each_waiting_line_once(session: Session) -> None:
    """Lines without a rate wait with base NULL; the rate adds one fx_convert entry per line."""
    p1 = add_project(session, "P1")
    load(
        session,
        [actual("e1", "10.00", currency="EUR"), actual("e2", "20.00", currency="EUR")],
        at=T0,
    )
    assert line(session, "e1").base_amount is None
    assert project_total(session, p1) == Decimal("0")
    result = load(
        session,
        [
            FxRateRecord(
                from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 10, 1), rate=Decimal("1.1")
            )
        ],
        source="manual",
        stream="fx",
        at=T0 + timedelta(days=1),
    )
    assert result.fx == {"fx_convert": 2, "fx_restate": 0, "rate_outdated": 0}
    assert [e[0] for e in _entries(session, "e1")] == ["insert", "fx_convert"]
    assert _entries(session, "e2")[1] == (
        "fx_convert",
        p1,
        Decimal("0.0000"),
        "EUR",
        Decimal("22.0000"),
    )
    assert project_total(session, p1) == Decimal("33.00")
    assert_entries_match_lines(session)


def test_changed_rate_restates_open_periods_and_flags_closed_ones(session: Session) -> None:
    """A changed rate: fx_restate in open periods; closed periods keep their rate, flagged."""
    from pmo_ledger.ledger.time.periods import close_period

    add_project(session, "P1")
    fx = dict(source="manual", stream="fx")
    load(
        session,
        [
            FxRateRecord(
                from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 9, 1), rate=Decimal("1.10")
            )
        ],
        at=T0,
        **fx,
    )
    load(
        session,
        [
            actual("sep", "100.00", currency="EUR", posted_on=date(2025, 9, 10)),
            actual("oct", "100.00", currency="EUR"),
        ],
        at=T0,
    )
    close_period(session, "fiscal", "2025-09", T0)
    session.commit()
    result = load(
        session,
        [
            FxRateRecord(
                from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 9, 1), rate=Decimal("1.20")
            )
        ],
        at=T0 + timedelta(days=1),
        **fx,
    )
    assert result.fx == {"fx_convert": 0, "fx_restate": 1, "rate_outdated": 1}
    assert line(session, "oct").base_amount == Decimal("120.0000")
    sep = line(session, "sep")
    assert (sep.base_amount, sep.rate_outdated) == (Decimal("110.0000"), True)
    assert_entries_match_lines(session)


def test_deletion_reverses_and_keeps_history(session: Session) -> None:
    """A deleted key writes a delete entry; the line stays, marked deleted."""
    p1 = add_project(session, "P1")
    load(session, [actual("a1", "70.00"), actual("a2", "5.00")], at=T0)
    load(session, deletions=["a1"], at=T0 + timedelta(days=1))
    stored = line(session, "a1")
    assert stored.deleted_at is not None and stored.amount == Decimal("70.0000")
    assert [e[0] for e in _entries(session, "a1")] == ["insert", "delete"]
    assert project_total(session, p1) == Decimal("5.00")
    assert project_total(session, p1, as_known_at=T0) == Decimal("75.00")
    assert_entries_match_lines(session)


def test_deleted_line_comes_back_with_an_insert(session: Session) -> None:
    """A key that returns after its deletion is inserted again."""
    p1 = add_project(session, "P1")
    load(session, [actual("a1", "70.00")], at=T0)
    load(session, deletions=["a1"], at=T0 + timedelta(days=1))
    load(session, [actual("a1", "70.00")], at=T0 + timedelta(days=2))
    assert [e[0] for e in _entries(session, "a1")] == ["insert", "delete", "insert"]
    assert project_total(session, p1) == Decimal("70.00")
    assert_entries_match_lines(session)


def test_as_known_at_before_and_after_each_change(session: Session) -> None:
    """Totals as known at T follow recorded_at, whatever the posting dates."""
    p1 = add_project(session, "P1")
    times = [T0 + timedelta(hours=h) for h in range(4)]
    load(session, [actual("a1", "10.00")], at=times[0])
    load(session, [actual("a1", "15.00"), actual("a2", "1.00")], at=times[1])
    load(session, deletions=["a2"], at=times[2])
    assert [project_total(session, p1, t) for t in times] == [
        Decimal("10.00"),
        Decimal("16.00"),
        Decimal("15.00"),
        Decimal("15.00"),
    ]
    assert project_total(session, p1, T0 - timedelta(seconds=1)) == Decimal("0")


def test_fx_rate_daily_is_forward_filled_and_rederived_from_the_change(session: Session) -> None:
    """fx_rate_daily holds each day's rate; a later rate re-derives only the days from it on."""
    from sqlalchemy import text as sql

    fx = {"source": "manual", "stream": "fx"}
    load(session, [FxRateRecord(from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 10, 1), rate=Decimal("1.1"))],
         at=T0, **fx)
    load(session, [FxRateRecord(from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 10, 20), rate=Decimal("1.2"))],
         at=T0, **fx)
    rows = dict(session.execute(sql(
        "SELECT day, valid_from FROM fx_rate_daily WHERE day IN ('2025-10-01', '2025-10-19', '2025-10-20', '2026-12-31')"
    )).all())
    as_dates = {str(k)[:10]: str(v)[:10] for k, v in rows.items()}
    assert as_dates == {
        "2025-10-01": "2025-10-01", "2025-10-19": "2025-10-01",
        "2025-10-20": "2025-10-20", "2026-12-31": "2025-10-20",
    }
    total = session.execute(sql("SELECT count(*) FROM fx_rate_daily")).scalar()
    assert total == (date(2026, 12, 31) - date(2025, 10, 1)).days + 1


def test_new_restated_and_returning_lines_in_one_batch_each_get_their_entries(
    session: Session, engine: Engine
) -> None:
    """One batch with new lines (after an id gap: a line taken by a batch that committed
    first), a restatement and a key back after its deletion: each line gets exactly its own
    entries, and the inline aggregates add up."""
    p1 = add_project(session, "P1")
    load(session, [actual("a1", "100.00"), actual("a2", "200.00")], at=T0)
    load(session, deletions=["a2"], at=T0 + timedelta(hours=1))
    # A line committed with an id past the next free one (a batch that took later ids and
    # committed first), deleted: it has no entries.
    a1 = line(session, "a1")
    ahead = a1.id + 40
    values = {c.key: getattr(a1, c.key) for c in ActualLine.__mapper__.column_attrs}
    values.update(id=ahead, external_id="gap", deleted_at=T0, deleted_reason="deleted")
    session.execute(insert(ActualLine), [values])
    session.commit()
    batch = [
        actual("n1", "1.10"),
        actual("a1", "150.00"),
        actual("n2", None, hours=Decimal("2.5")),
        actual("a2", "200.00"),
        actual("n3", "3.30", cost_type="labor"),
    ]
    load(session, batch, at=T0 + timedelta(hours=2))
    assert [e[0] for e in _entries(session, "a1")] == ["insert", "restate"]
    assert [e[2] for e in _entries(session, "a1")] == [Decimal("100.0000"), Decimal("50.0000")]
    assert [e[0] for e in _entries(session, "a2")] == ["insert", "delete", "insert"]
    new = [line(session, k) for k in ("n1", "n2", "n3")]
    # SQLite: the largest id + 1 (a rowid); PostgreSQL: the sequence's next (3).
    first = ahead + 1 if engine.dialect.name == "sqlite" else 3
    assert [n.id for n in new] == [first, first + 1, first + 2]
    assert [n.created_at for n in new] == [T0 + timedelta(hours=2)] * 3
    assert [_entries(session, n.external_id) for n in new] == [
        [("insert", p1, Decimal("1.1000"), "USD", Decimal("1.1000"))],
        [("insert", p1, None, "USD", None)],
        [("insert", p1, Decimal("3.3000"), "USD", Decimal("3.3000"))],
    ]
    assert project_total(session, p1) == Decimal("354.40")
    assert counts(session)["ledger_entry"] == 8
    assert_entries_match_lines(session)
    totals = select(
        ActualPeriodTotal.cost_type,
        ActualPeriodTotal.counts_hours,
        ActualPeriodTotal.lines,
        ActualPeriodTotal.base_amount,
        ActualPeriodTotal.hours,
    ).order_by(ActualPeriodTotal.cost_type, ActualPeriodTotal.counts_hours)
    assert [tuple(r) for r in session.execute(totals)] == [
        ("expense", False, 3, Decimal("351.1000"), Decimal(0)),
        ("expense", True, 1, Decimal(0), Decimal("2.5000")),
        ("labor", False, 1, Decimal("3.3000"), Decimal(0)),
    ]
