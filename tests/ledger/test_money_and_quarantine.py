"""Exact money on both engines (rule 6) and the quarantine's promises (rule 5)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.admin import quarantine_retry
from pmo_ledger.ledger.models import UNMAPPED_ID, Quarantine
from tests.builders import T0, actual, add_project, counts, line, load, project_total, settings
from tests.ledger.conftest import drop_poison_trigger


def _view_row(session: Session, code: str) -> dict[str, object]:
    row = (
        session.execute(
            text("SELECT * FROM v_project_budget_vs_actual WHERE project_code = :c"), {"c": code}
        )
        .mappings()
        .one()
    )
    return dict(row)


def _open(session: Session) -> list[tuple[str, str]]:
    return [
        (q.external_id, q.reason)
        for q in session.scalars(
            select(Quarantine).where(Quarantine.status == "open").order_by(Quarantine.external_id)
        )
    ]


def test_view_sums_exactly(session: Session, engine: Engine) -> None:
    """0.10 + 0.20 is exactly 0.30 in a raw SELECT from the view, on both engines."""
    add_project(session, "P1")
    load(session, [actual("a", "0.10"), actual("b", "0.20")], at=T0)
    row = _view_row(session, "P1")
    if engine.dialect.name == "sqlite":
        assert (row["actual"], row["actual_e4"]) == ("0.3000", 3000)
        assert row["variance"] == "-0.3000"
    else:
        assert row["actual"] == Decimal("0.30")
        assert isinstance(row["actual"], Decimal)


def test_largest_amount_round_trips(session: Session) -> None:
    """899,999,999,999,999.9999 is stored and read back exactly."""
    add_project(session, "P1")
    load(session, [actual("big", "899999999999999.9999")], at=T0)
    assert line(session, "big").amount == Decimal("899999999999999.9999")


def test_amount_beyond_range_is_quarantined(session: Session) -> None:
    """Amounts beyond +/-900,000,000,000,000 are held as amount_out_of_range; others load."""
    add_project(session, "P1")
    load(session, [actual("huge", "900000000000000.0001"), actual("ok", "1.00")], at=T0)
    assert _open(session) == [("huge", "amount_out_of_range")]
    assert line(session, "ok").amount == Decimal("1.0000")


def test_half_cent_ties_round_half_up_on_both_engines(session: Session) -> None:
    """Ties round half up per line: 0.125 EUR -> 0.13 USD, -0.125 -> -0.13, 0.005 USD -> 0.01."""
    from pmo_ledger.ledger.records import FxRateRecord

    p1 = add_project(session, "P1")
    load(
        session,
        [
            FxRateRecord(
                from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 1, 1), rate=Decimal("1")
            )
        ],
        source="manual",
        stream="fx",
        at=T0,
    )
    load(
        session,
        [
            actual("t1", "0.125", currency="EUR"),
            actual("t2", "-0.125", currency="EUR"),
            actual("t3", "0.005"),
            actual("t4", "0.00005"),
        ],
        at=T0,
    )
    assert line(session, "t1").base_amount == Decimal("0.1300")
    assert line(session, "t2").base_amount == Decimal("-0.1300")
    assert line(session, "t3").base_amount == Decimal("0.0100")
    assert line(session, "t4").amount == Decimal("0.0001")
    assert project_total(session, p1) == Decimal("0.01")


def test_invalid_and_unmapped_are_held_with_reasons_while_the_rest_loads(session: Session) -> None:
    """Invalid records stay out; unmapped ones load under UNMAPPED without counting."""
    p1 = add_project(session, "P1")
    load(
        session,
        [
            actual("ok", "10.00"),
            actual("noamt", None),
            actual("ccy", "5.00", currency="XYZ"),
            actual("noccy", "5.00", currency=None),
            actual("orphan", "7.00", project_ref="NOPE"),
            actual("noproj", "3.00", project_ref=None),
        ],
        at=T0,
    )
    assert _open(session) == [
        ("ccy", "unknown_currency"),
        ("noamt", "missing_amount"),
        ("noccy", "missing_currency"),
        ("noproj", "unmapped"),
        ("orphan", "unmapped"),
    ]
    orphan = line(session, "orphan")
    assert (orphan.project_id, orphan.counts_amount, orphan.amount) == (
        UNMAPPED_ID,
        False,
        Decimal("7.0000"),
    )
    assert project_total(session, p1) == Decimal("10.00")
    assert project_total(session, UNMAPPED_ID) == Decimal("0")
    before = counts(session)
    load(
        session,
        [actual("ccy", "5.00", currency="XYZ"), actual("orphan", "7.00", project_ref="NOPE")],
        at=T0 + timedelta(hours=1),
    )
    assert counts(session) == before
    assert _open(session)[0] == ("ccy", "unknown_currency")


def test_newer_version_resolves_the_held_one(session: Session) -> None:
    """A newer valid version loads and resolves the open entry of its key."""
    add_project(session, "P1")
    load(session, [actual("a", "5.00", currency="XYZ", source_modified_at=T0)], at=T0)
    load(
        session,
        [actual("a", "5.00", source_modified_at=T0 + timedelta(minutes=5))],
        at=T0 + timedelta(hours=1),
    )
    assert _open(session) == []
    q = session.scalars(select(Quarantine)).one()
    assert (q.status, q.resolution) == ("resolved", "loaded")


def test_older_version_never_replaces_a_newer_one(session: Session) -> None:
    """A late page with an older version leaves the line and the quarantine as they are."""
    add_project(session, "P1")
    load(session, [actual("a", "9.00", source_modified_at=T0 + timedelta(minutes=10))], at=T0)
    load(session, [actual("a", "1.00", source_modified_at=T0)], at=T0 + timedelta(hours=1))
    assert line(session, "a").amount == Decimal("9.0000")


def test_invalid_new_version_reverses_the_loaded_line(session: Session) -> None:
    """A loaded line whose new version is invalid is reversed (superseded_invalid)."""
    p1 = add_project(session, "P1")
    load(session, [actual("a", "9.00", source_modified_at=T0)], at=T0)
    load(
        session,
        [actual("a", "9.00", currency="???", source_modified_at=T0 + timedelta(minutes=1))],
        at=T0 + timedelta(hours=1),
    )
    stored = line(session, "a")
    assert (stored.deleted_reason, project_total(session, p1)) == (
        "superseded_invalid",
        Decimal("0"),
    )
    assert _open(session) == [("a", "unknown_currency")]


def test_retry_never_goes_back_in_time(session: Session) -> None:
    """A held version older than its line is resolved as superseded by retry, never applied."""
    add_project(session, "P1")
    load(session, [actual("a", "6.00", source_modified_at=T0 + timedelta(days=1))], at=T0)
    load(
        session,
        [actual("a", "4.00", currency="XYZ", source_modified_at=T0)],
        at=T0 + timedelta(days=2),
    )
    assert _open(session) == [("a", "unknown_currency")]
    result = quarantine_retry(session, settings())
    session.commit()
    assert (result["retried"], result["superseded"], _open(session)) == (1, 1, [])
    assert line(session, "a").amount == Decimal("6.0000")


@pytest.mark.usefixtures("poison_trigger")
def test_retry_loads_what_the_database_refused_before(session: Session, engine: Engine) -> None:
    """A db_rejected record loads on retry once the database accepts it."""
    p1 = add_project(session, "P1")
    load(session, [actual("poison", "2.00"), actual("ok", "1.00")], at=T0)
    assert _open(session) == [("poison", "db_rejected")]
    drop_poison_trigger(engine, session)
    result = quarantine_retry(session, settings())
    session.commit()
    assert (result["retried"], _open(session), project_total(session, p1)) == (
        1,
        [],
        Decimal("3.00"),
    )


def test_mapping_fix_remaps_unmapped_lines(session: Session) -> None:
    """Adding a mapping re-points UNMAPPED lines with remap entries and resolves quarantine."""
    from pmo_ledger.ledger.write.mapping import Mapping, add_mappings, remap

    p1 = add_project(session, "P1")
    load(session, [actual("o", "7.00", project_ref="OLD-1")], at=T0)
    add_mappings(session, [Mapping("psa", "project", "OLD-1", "P1")], T0)
    assert remap(session, settings()) == 1
    session.commit()
    assert (line(session, "o").project_id, project_total(session, p1)) == (p1, Decimal("7.00"))
    assert _open(session) == []


def test_period_the_calendar_lacks_is_held(session: Session) -> None:
    """A stated special period of a calendar without special periods is held unknown_period."""
    add_project(session, "P1")
    load(session, [actual("p13", "5.00", period="2025-13"), actual("ok", "1.00", period="2025-12")], at=T0)
    assert _open(session) == [("p13", "unknown_period")]
    q = session.scalars(select(Quarantine).where(Quarantine.external_id == "p13")).one()
    assert q.detail == "calendar fiscal has no period 2025-13"
    assert line(session, "ok").period == "2025-12"


def test_special_period_stated_by_the_source_is_kept(session: Session) -> None:
    """With special periods configured, a posting the source files in 2025-13 stays there."""
    from pmo_ledger.ledger.settings import CalendarSettings

    add_project(session, "P1")
    cfg = settings(calendar=CalendarSettings(special_periods=2))
    load(session, [actual("adj", "5.00", posted_on=date(2025, 12, 31), period="2025-13")],
         cfg=cfg, at=T0)
    assert line(session, "adj").period == "2025-13"


def test_changed_mapping_moves_lines_already_mapped(session: Session) -> None:
    """Re-mapping a key from P1 to P2 moves its existing lines with remap entries."""
    from pmo_ledger.ledger.write.mapping import Mapping, add_mappings, remap

    p1, p2 = add_project(session, "P1"), add_project(session, "P2")
    add_mappings(session, [Mapping("psa", "wbs", "W-1", "P1")], T0)
    load(session, [actual("w", "7.00", project_ref="W-1", project_ref_type="wbs")], at=T0)
    assert project_total(session, p1) == Decimal("7.00")
    add_mappings(session, [Mapping("psa", "wbs", "W-1", "P2")], T0)
    assert remap(session, settings(), refs=[("psa", "wbs", "W-1")]) == 1
    session.commit()
    assert (project_total(session, p1), project_total(session, p2)) == (Decimal("0"), Decimal("7.00"))


def test_replay_of_an_unmapped_line_after_a_link_rule_remaps_it(session: Session) -> None:
    """An unchanged record whose key now resolves is re-pointed, and only then resolved."""
    from pmo_ledger.ledger.settings import LinkRule

    p1 = add_project(session, "P1")
    load(session, [actual("u", "3.00", project_ref="X-P1")], at=T0)
    cfg = settings(link_rules=[LinkRule(pattern=r"X-(P\d)", project="{1}")])
    load(session, [actual("u", "3.00", project_ref="X-P1")], cfg=cfg, at=T0 + timedelta(hours=1))
    assert (line(session, "u").project_id, project_total(session, p1)) == (p1, Decimal("3.00"))
    assert _open(session) == []


def test_record_and_deletion_of_one_key_in_one_batch(session: Session) -> None:
    """A key restated and deleted in the same batch: the deletion wins, entries still sum."""
    from tests.builders import assert_entries_match_lines

    p1 = add_project(session, "P1")
    load(session, [actual("a1", "100.00"), actual("a2", "1.00")], at=T0)
    load(session, [actual("a1", "80.00"), actual("new", "5.00")], deletions=["a1", "new"],
         at=T0 + timedelta(hours=1))
    assert line(session, "a1").deleted_at is not None
    assert project_total(session, p1) == Decimal("1.00")
    assert_entries_match_lines(session)


def test_too_long_values_are_held_on_both_engines(session: Session) -> None:
    """A 41-character cost type is held as value_too_long (PostgreSQL would refuse the batch)."""
    add_project(session, "P1")
    load(session, [actual("long", "1.00", cost_type="x" * 41), actual("ok", "1.00")], at=T0)
    assert _open(session) == [("long", "value_too_long")]


def test_base_amount_beyond_range_is_held(session: Session) -> None:
    """1e14 EUR at 160 JPY gives a base amount beyond the range: held, the batch loads."""
    from pmo_ledger.ledger.records import FxRateRecord

    cfg = settings(base_currency="JPY")
    add_project(session, "P1")
    load(session, [FxRateRecord(from_ccy="EUR", to_ccy="JPY", valid_from=date(2025, 1, 1), rate=Decimal("160"))],
         source="manual", stream="fx", cfg=cfg, at=T0)
    load(session, [actual("huge", "100000000000000.00", currency="EUR"), actual("ok", "1.00", currency="EUR")],
         cfg=cfg, at=T0)
    assert _open(session) == [("huge", "amount_out_of_range")]
    assert line(session, "ok").base_amount == Decimal("160.0000")


def test_fx_replay_with_a_nine_place_rate_changes_nothing(session: Session) -> None:
    """A rate with 9 places is stored rounded half up; replaying it is a no-op."""
    from pmo_ledger.ledger.records import FxRateRecord

    rate = FxRateRecord(from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 1, 1), rate=Decimal("1.123456785"))
    load(session, [rate], source="manual", stream="fx", at=T0)
    again = load(session, [rate], source="manual", stream="fx", at=T0 + timedelta(hours=1))
    assert again.stats.written == 0


def test_closed_period_line_keeps_its_rate_on_a_non_money_change(session: Session) -> None:
    """After the period closed and the rate changed, a description edit writes no entry."""
    from pmo_ledger.ledger.records import FxRateRecord
    from pmo_ledger.ledger.time.periods import close_period

    add_project(session, "P1")
    fx = {"source": "manual", "stream": "fx"}
    load(session, [FxRateRecord(from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 9, 1), rate=Decimal("1.10"))],
         at=T0, **fx)
    load(session, [actual("s", "100.00", currency="EUR", posted_on=date(2025, 9, 10))], at=T0)
    close_period(session, "fiscal", "2025-09", T0)
    session.commit()
    load(session, [FxRateRecord(from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 9, 1), rate=Decimal("1.20"))],
         at=T0 + timedelta(hours=1), **fx)
    load(session, [actual("s", "100.00", currency="EUR", posted_on=date(2025, 9, 10), description="edited")],
         at=T0 + timedelta(hours=2))
    stored = line(session, "s")
    assert (stored.base_amount, stored.rate_outdated, stored.description) == (Decimal("110.0000"), True, "edited")


def test_project_scope_leaves_other_object_types_alone(session: Session) -> None:
    """project:4711 does not reverse a cost_center 4711 line."""
    from pmo_ledger.ledger.write.mapping import Mapping, add_mappings
    from pmo_ledger.ledger.write.scopes import end_scope, record_seen

    add_project(session, "P1", ref="4711")
    add_mappings(session, [Mapping("psa", "cost_center", "4711", "P1")], T0)
    load(session, [actual("p", "1.00", project_ref="4711"),
                   actual("c", "2.00", project_ref="4711", project_ref_type="cost_center")], at=T0)
    record_seen(session, "project:4711", [])
    check, n = end_scope(session, settings(max_scope_reversal_min=5), "psa", "actuals", "project:4711")
    assert (check.open_lines, n) == (1, 1)
    assert line(session, "c").deleted_at is None


def test_rates_apply_values_hours_lines_that_had_no_rate(session: Session) -> None:
    """An hours-only line without a rate gets valued by rates apply once a rate exists."""
    from pmo_ledger.ledger.admin import rates_apply
    from pmo_ledger.ledger.records import ResourceRateRecord, ResourceRecord

    p1 = add_project(session, "P1")
    load(session, [ResourceRecord(external_id="r1", name="Ana")], stream="resources", at=T0)
    load(session, [actual("h", None, hours=Decimal("8"), resource_ref="r1", cost_type="labor")], at=T0)
    assert line(session, "h").amount is None
    load(session, [ResourceRateRecord(external_id="rr1", resource_ref="r1", effective_from=date(2025, 1, 1),
                                      cost_rate=Decimal("95"), currency="USD")], stream="rates", at=T0)
    assert rates_apply(session, settings(), date(2025, 1, 1)) == 1
    session.commit()
    assert (line(session, "h").amount, project_total(session, p1)) == (Decimal("760.0000"), Decimal("760.00"))


def test_refused_deletion_is_held_as_a_deletion_and_retried(session: Session, engine: Engine) -> None:
    """A deletion the database refuses waits as a deletion; retry applies it once allowed."""
    p1 = add_project(session, "P1")
    load(session, [actual("poison", "2.00"), actual("ok", "1.00")], at=T0)
    if engine.dialect.name == "sqlite":
        session.execute(text(
            "CREATE TRIGGER refuse_update BEFORE UPDATE ON actual_line WHEN OLD.external_id = 'poison'"
            " BEGIN SELECT RAISE(ABORT, 'update refused'); END"))
        drop = "DROP TRIGGER refuse_update"
    else:
        session.execute(text(
            "CREATE OR REPLACE FUNCTION refuse_update() RETURNS trigger AS $$ BEGIN"
            " IF OLD.external_id = 'poison' THEN RAISE EXCEPTION 'update refused'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"))
        session.execute(text("CREATE TRIGGER refuse_update BEFORE UPDATE ON actual_line FOR EACH ROW"
                             " EXECUTE FUNCTION refuse_update()"))
        drop = "DROP TRIGGER refuse_update ON actual_line"
    session.commit()
    try:
        load(session, deletions=["poison"], at=T0 + timedelta(hours=1))
        held = session.scalars(select(Quarantine).where(Quarantine.status == "open")).one()
        assert (held.reason, held.payload_kind) == ("db_rejected", "deletion")
    finally:
        session.rollback()
        session.execute(text(drop))
        session.commit()
    result = quarantine_retry(session, settings())
    session.commit()
    assert (result["retried"], project_total(session, p1)) == (1, Decimal("1.00"))
    assert line(session, "poison").deleted_at is not None
