"""The re-run's fast paths (issue 25): keys staged as COPY text, slim stored versions, the
ScopeEnd count, counters summed set-wise. Each gives what the plain path gave, on both engines."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.models import UNMAPPED_ID, ActualLine
from pmo_ledger.ledger.write.actuals import (
    CHANGED_AT,
    HASH,
    LIVE,
    SETTLED,
    changed_at,
    stored_versions,
)
from pmo_ledger.ledger.write.keyed_rows import latest_by_key
from pmo_ledger.ledger.write.scopes import check_scope, forget_all_scopes, record_seen
from pmo_ledger.ledger.write.stats import ApplyStats
from tests.builders import T0, actual, add_project, line, load

_AWKWARD = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rhere", "", "ünï"]


def test_fill_keys_stages_exactly_the_keys_even_those_copy_escapes(session: Session) -> None:
    """Keys with a tab, newline, backslash or carriage return are staged as they are; a second
    fill replaces the first."""
    staging.fill_keys(session, ["old"])
    assert staging.fill_keys(session, _AWKWARD) == len(_AWKWARD)
    got = session.scalars(select(staging.stage_key.c.external_id)).all()
    assert sorted(got) == sorted(_AWKWARD)
    staging.fill_keys(session, ["a", "b"])
    assert sorted(session.scalars(select(staging.stage_key.c.external_id)).all()) == ["a", "b"]


def test_record_seen_appends_scope_keys_with_awkward_and_missing_ids(session: Session) -> None:
    """record_seen adds (scope, key) rows, awkward keys included, a None as NULL, keeping
    what the scope already holds."""
    forget_all_scopes(session)
    record_seen(session, "actuals", ["k1", "k2"])
    record_seen(session, "actuals", [*_AWKWARD, None])  # type: ignore[list-item]
    seen = staging.scope_seen
    rows = session.execute(select(seen.c.scope_key, seen.c.external_id)).all()
    assert {r[0] for r in rows} == {"actuals"}
    assert sorted((r[1] for r in rows), key=str) == sorted(["k1", "k2", *_AWKWARD, None], key=str)


def test_stored_versions_are_slim_and_exact(session: Session) -> None:
    """Hash, liveness, settled (live and mapped) and change time of each stored key; unknown
    keys are absent; the keys stay staged."""
    add_project(session, "P1")
    at = T0 - timedelta(days=1)
    load(
        session,
        [
            actual("live", source_modified_at=at),
            actual("gone"),
            actual("parked", project_ref="nowhere"),
        ],
        at=T0,
    )
    load(session, [], deletions=["gone"], at=T0 + timedelta(hours=1))
    slim = stored_versions(session, "psa", "actuals", ["live", "gone", "parked", "new", "live"])
    assert set(slim) == {"live", "gone", "parked"}
    assert slim["live"][HASH] == line(session, "live").content_hash
    assert (bool(slim["live"][LIVE]), bool(slim["live"][SETTLED])) == (True, True)
    assert (bool(slim["gone"][LIVE]), bool(slim["gone"][SETTLED])) == (False, False)
    assert line(session, "parked").project_id == UNMAPPED_ID
    assert (bool(slim["parked"][LIVE]), bool(slim["parked"][SETTLED])) == (True, False)
    assert changed_at(slim["live"]) == at
    assert slim["gone"][CHANGED_AT] is None and changed_at(slim["gone"]) is None
    staged = session.scalars(select(staging.stage_key.c.external_id)).all()
    assert sorted(staged) == ["gone", "live", "new", "parked"]


def test_unchanged_rerun_counts_and_late_pages(session: Session) -> None:
    """An unchanged re-read counts every record unchanged with its money per currency; a page
    older than the stored line is unchanged too and does not go back in time."""
    add_project(session, "P1")
    batch = [
        actual("a1", "10.10"),
        actual("a2", "5", currency="EUR"),
        actual("a3", None, hours=Decimal(8)),
    ]
    load(session, batch, at=T0)
    again = load(session, batch, at=T0 + timedelta(hours=1)).stats
    assert (again.read, again.unchanged, again.written) == (3, 3, 0)
    assert again.amounts["unchanged"] == {"USD": Decimal("10.10"), "EUR": Decimal("5")}
    assert again.amounts["read"] == again.amounts["unchanged"]
    newer = T0 + timedelta(days=2)
    load(session, [actual("a1", "11.00", source_modified_at=newer)], at=T0 + timedelta(hours=2))
    late = load(
        session,
        [actual("a1", "12.00", source_modified_at=T0)],
        at=T0 + timedelta(hours=3),
    ).stats
    assert (late.unchanged, late.written) == (1, 0)
    assert late.amounts["unchanged"] == {"USD": Decimal("12.00")}
    assert line(session, "a1").amount == Decimal("11.0000")


def test_count_records_sums_like_count() -> None:
    """count_records gives the amounts count gives record by record (no currency, no amount
    skipped; exponents kept)."""
    records = [
        actual("a", "1.10"),
        actual("b", "2", currency="EUR"),
        actual("c", None),
        actual("d", "3.005", currency=None),
        actual("e", "-0.10"),
    ]
    one, bulk = ApplyStats(), ApplyStats()
    one.count("read", "USD", Decimal("1.0"))
    bulk.count("read", "USD", Decimal("1.0"))
    for r in records:
        one.count("read", r.currency, r.amount)
    bulk.count_records("read", records)
    bulk.count_records("unchanged", [])
    assert bulk.amounts == one.amounts
    assert str(bulk.amounts["read"]["USD"]) == "2.00"


def test_latest_by_key_keeps_the_newest_of_repeated_keys() -> None:
    """Distinct keys come back in order; a repeated key keeps its newest version in the place
    of its first."""
    a, b = actual("a", "1"), actual("b", "2")
    assert list(latest_by_key([a, b]).values()) == [a, b]
    a2 = actual("a", "3", source_modified_at=T0)
    a1 = actual("a", "4", source_modified_at=T0 - timedelta(days=1))
    got = latest_by_key(iter([a2, b, a1]))
    assert list(got) == ["a", "b"] and got["a"] is a2


def test_scope_check_counts_open_and_unseen_lines(session: Session) -> None:
    """check_scope: the scope's live lines and those not listed (a deleted line is neither)."""
    add_project(session, "P1")
    load(session, [actual(f"k{i}") for i in range(6)], at=T0)
    session.execute(update(ActualLine).where(ActualLine.external_id == "k5").values(deleted_at=T0))
    forget_all_scopes(session)
    record_seen(session, "actuals", ["k0", "k1", "k1", "other"])
    check = check_scope(session, "psa", "actuals", "actuals")
    assert (check.open_lines, check.unseen) == (5, 3)
    record_seen(session, "actuals", ["k2", "k3", "k4"])
    check = check_scope(session, "psa", "actuals", "actuals")
    assert (check.open_lines, check.unseen) == (5, 0)
