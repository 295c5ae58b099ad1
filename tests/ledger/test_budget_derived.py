"""Derived budget versions (built from a full re-read, `BudgetRecord.derived`): content
decides, never the timestamps; single-row versions keep rule 5. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import BudgetEntry, BudgetLine, BudgetVersion, Quarantine
from pmo_ledger.ledger.records import BudgetRecord
from pmo_ledger.ledger.write.batch import apply_batch
from tests.ledger.test_budgets import (
    T0,
    T1,
    T2,
    apply,
    assert_entries_match_lines,
    budget,
    ctx,
    entries,
    line,
    p1,
)

__all__ = ["p1"]  # the fixture, imported for the tests below

JUNE, JULY = {"period": "2025-06"}, {"period": "2025-07"}


def live_budget(session: Session) -> Decimal:
    """The live lines' amount of the live versions."""
    total = session.scalar(
        select(func.sum(BudgetLine.amount))
        .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
        .where(BudgetLine.deleted_at.is_(None), BudgetVersion.deleted_at.is_(None))
    )
    return Decimal(total or 0)


def two_budgets(derived: bool) -> BudgetRecord:
    """Version b1 of 421,500.00 + 38,030.50, stamped T2 (the newest budget's change)."""
    return budget(line("B1", "421500.00", **JUNE), line("B2", "38030.50", **JULY),
                  source_modified_at=T2, derived=derived)  # fmt: skip


def test_a_derived_version_stamped_older_replaces_the_stored_one(session: Session, p1: int) -> None:
    """B2 left the re-read: the version stamped T1 (< T2 stored) replaces it, 459,530.50 ->
    421,500.00, with one delete entry of -38,030.50."""
    apply(session, [two_budgets(derived=True)])
    assert live_budget(session) == Decimal("459530.50")
    stats = apply(
        session,
        [budget(line("B1", "421500.00", **JUNE), source_modified_at=T1, derived=True)],
        at=T2,
    )
    assert (stats.written, stats.unchanged) == (1, 0)
    assert live_budget(session) == Decimal("421500.00")
    assert entries(session)[-1] == ("B2", "delete", "2025-07", Decimal("-38030.5000"))
    assert session.scalar(select(BudgetVersion.source_modified_at)) == T1
    assert_entries_match_lines(session)


def test_a_single_row_version_stamped_older_is_still_skipped(session: Session, p1: int) -> None:
    """Rule 5 for versions that are one source row: the older one changes nothing."""
    apply(session, [two_budgets(derived=False)])
    stats = apply(session, [budget(line("B1", "421500.00", **JUNE), source_modified_at=T1)], at=T2)
    assert (stats.written, stats.unchanged) == (0, 1)
    assert live_budget(session) == Decimal("459530.50")
    assert session.scalar(select(BudgetVersion.source_modified_at)) == T2


def test_an_unchanged_derived_version_writes_nothing(session: Session, p1: int) -> None:
    """The same content re-read later (a newer stamp) is unchanged: no row, no entry, and
    the stored stamp stays the read that last changed it."""
    apply(session, [two_budgets(derived=True)])
    before = session.scalar(select(func.count()).select_from(BudgetEntry))
    later = budget(line("B1", "421500.00", **JUNE), line("B2", "38030.50", **JULY),
                   source_modified_at=T2 + timedelta(days=1), derived=True)  # fmt: skip
    stats = apply(session, [later], at=T2)
    assert (stats.written, stats.unchanged, stats.entries) == (0, 1, 0)
    assert session.scalar(select(func.count()).select_from(BudgetEntry)) == before
    assert session.scalar(select(BudgetVersion.source_modified_at)) == T2


def test_within_a_batch_the_last_derived_version_given_wins(session: Session, p1: int) -> None:
    """Two re-reads of one project in one batch: the later page (stamped older) wins."""
    first = two_budgets(derived=True)
    second = budget(line("B1", "421500.00", **JUNE), source_modified_at=T1, derived=True)
    apply(session, [first, second])
    assert live_budget(session) == Decimal("421500.00")
    assert_entries_match_lines(session)


def test_the_derived_flag_is_not_content(session: Session, p1: int) -> None:
    """A version stored before versions were derived is unchanged by the same content
    re-read as derived (the flag is left out of the content hash)."""
    apply(session, [two_budgets(derived=False)])
    stats = apply(session, [two_budgets(derived=True)], at=T1)
    assert (stats.written, stats.unchanged) == (0, 1)


def test_an_invalid_derived_version_is_held_and_reverses_the_loaded_one(
    session: Session, p1: int
) -> None:
    """A derived version that cannot load (unknown currency) is quarantined with its reason,
    whatever its stamp, and the loaded version is reversed: nothing counts that the source
    no longer states, and the held record keeps what was read."""
    apply(session, [two_budgets(derived=True)])
    bad = budget(line("B1", "421500.00", currency="ZZZ", **JUNE), source_modified_at=T1,
                 derived=True)  # fmt: skip
    result = apply_batch(session, ctx(session).settings, "psa", "budgets", [bad], recorded_at=T2)
    assert result.held == 1
    held = session.scalars(select(Quarantine)).one()
    assert (held.external_id, held.reason, held.status) == ("b1", "unknown_currency", "open")
    assert held.payload is not None and held.payload["data"]["derived"] is True
    assert live_budget(session) == Decimal(0)
    assert_entries_match_lines(session)


def test_a_derived_load_resolves_a_held_version_stamped_newer(session: Session, p1: int) -> None:
    """The held bad version (T2) is resolved by the next good re-read even stamped T1."""
    bad = budget(line("B1", "1.00", currency="ZZZ", **JUNE), source_modified_at=T2, derived=True)
    settings = ctx(session).settings
    apply_batch(session, settings, "psa", "budgets", [bad], recorded_at=T0)
    good = budget(line("B1", "421500.00", **JUNE), source_modified_at=T1, derived=True)
    apply_batch(session, settings, "psa", "budgets", [good], recorded_at=T2)
    held = session.scalars(select(Quarantine)).one()
    assert (held.status, held.resolution) == ("resolved", "loaded")
    assert live_budget(session) == Decimal("421500.00")
