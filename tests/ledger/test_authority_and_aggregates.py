"""One system of record (rule 8), aggregates (rule 12), bisecting rejected batches, scopes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.admin import authority_apply
from pmo_ledger.ledger.models import AggregateState, LedgerEntry, Quarantine
from pmo_ledger.ledger.settings import AuthoritySettings
from pmo_ledger.ledger.write.scopes import end_scope, record_seen
from tests.builders import (
    T0,
    actual,
    add_project,
    assert_entries_match_lines,
    line,
    load,
    project_total,
    settings,
)

TWO_SOURCES = AuthoritySettings(
    projects="psa", labor="psa", expense="sap", hours="psa", revenue="psa", budget="sap"
)


def _view_actual(session: Session, code: str) -> Decimal:
    value = session.execute(
        text("SELECT actual FROM v_project_budget_vs_actual WHERE project_code = :c"), {"c": code}
    ).scalar_one()
    return Decimal(value)


def test_two_sources_for_one_project_count_once(session: Session) -> None:
    """PSA and SAP both report the same labor: only the labor authority's lines count."""
    p1 = add_project(session, "P1")
    add_project_link = text(
        "INSERT INTO project_link (source, object_type, external_id, project_id, origin, created_at, updated_at)"
        " VALUES ('sap', 'wbs', 'P1.01', :p, 'manual', :t, :t)"
    )
    session.execute(add_project_link, {"p": p1, "t": T0.replace(tzinfo=None)})
    cfg = settings(authority=TWO_SOURCES)
    load(session, [actual("tc1", "500.00", cost_type="labor")], cfg=cfg, at=T0)
    load(
        session,
        [actual("co1", "500.00", cost_type="labor", project_ref="P1.01", project_ref_type="wbs")],
        source="sap",
        cfg=cfg,
        at=T0,
    )
    assert (line(session, "tc1").counts_amount, line(session, "co1", "sap").counts_amount) == (
        True,
        False,
    )
    assert project_total(session, p1) == Decimal("500.00")
    assert _view_actual(session, "P1") == Decimal("500.00")


def test_hours_from_one_source_and_labor_cost_from_another_each_count_once(
    session: Session,
) -> None:
    """Hours count from the hours authority, labor cost from the labor authority."""
    p1 = add_project(session, "P1")
    session.execute(
        text(
            "INSERT INTO project_link (source, object_type, external_id, project_id, origin, created_at,"
            " updated_at) VALUES ('sap', 'project', 'P1', :p, 'manual', :t, :t)"
        ),
        {"p": p1, "t": T0.replace(tzinfo=None)},
    )
    cfg = settings(
        authority=AuthoritySettings(
            projects="psa", labor="sap", expense="sap", hours="psa", revenue="psa", budget="sap"
        )
    )
    load(session, [actual("tc", "800.00", hours=Decimal("8"), cost_type="labor")], cfg=cfg, at=T0)
    load(
        session,
        [actual("co", "760.00", hours=Decimal("8"), cost_type="labor")],
        source="sap",
        cfg=cfg,
        at=T0,
    )
    psa, sap = line(session, "tc"), line(session, "co", "sap")
    assert (psa.counts_amount, psa.counts_hours, sap.counts_amount, sap.counts_hours) == (
        False,
        True,
        True,
        False,
    )
    row = session.execute(
        text(
            "SELECT actual, actual_hours FROM v_project_budget_vs_actual WHERE project_code = 'P1'"
        )
    ).one()
    assert (Decimal(row[0]), Decimal(row[1])) == (Decimal("760.00"), Decimal("8"))
    assert project_total(session, p1) == Decimal("760.00")


def test_authority_apply_reclasses_with_entries(session: Session) -> None:
    """Changing the labor authority and applying it writes reclass entries and moves totals."""
    p1 = add_project(session, "P1")
    session.execute(
        text(
            "INSERT INTO project_link (source, object_type, external_id, project_id, origin, created_at,"
            " updated_at) VALUES ('sap', 'project', 'P1', :p, 'manual', :t, :t)"
        ),
        {"p": p1, "t": T0.replace(tzinfo=None)},
    )
    cfg = settings(authority=TWO_SOURCES)
    load(session, [actual("tc", "500.00", cost_type="labor")], cfg=cfg, at=T0)
    load(session, [actual("co", "450.00", cost_type="labor")], source="sap", cfg=cfg, at=T0)
    assert project_total(session, p1) == Decimal("500.00")
    swapped = settings(
        authority=AuthoritySettings(
            projects="psa", labor="sap", expense="sap", hours="psa", revenue="psa", budget="sap"
        )
    )
    result = authority_apply(session, swapped)
    session.commit()
    assert result["lines"] == 2
    assert project_total(session, p1) == Decimal("450.00")
    reasons = session.scalars(select(LedgerEntry.reason).order_by(LedgerEntry.id)).all()
    assert reasons == ["insert", "insert", "reclass", "reclass", "reclass", "reclass"]
    assert_entries_match_lines(session)


def _grouped_lines(session: Session) -> list[tuple[object, ...]]:
    rows = session.execute(
        text(
            "SELECT source, project_id, kind, cost_type, period, counts_amount, counts_hours,"
            " sum(coalesce(base_amount, 0)), sum(coalesce(hours, 0)), count(*),"
            " sum(CASE WHEN amount IS NOT NULL AND base_amount IS NULL THEN 1 ELSE 0 END)"
            " FROM actual_line WHERE deleted_at IS NULL"
            " GROUP BY source, project_id, kind, cost_type, period, counts_amount, counts_hours"
            " ORDER BY 1, 2, 3, 4, 5, 6, 7"
        )
    ).all()
    return [tuple(r) for r in rows]


def _aggregate_rows(session: Session) -> list[tuple[object, ...]]:
    rows = session.execute(
        text(
            "SELECT source, project_id, kind, cost_type, period, counts_amount, counts_hours,"
            " base_amount, hours, lines, unconverted_lines FROM actual_period_total"
            " ORDER BY 1, 2, 3, 4, 5, 6, 7"
        )
    ).all()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("n,inline", [(4999, True), (5000, False)])
def test_aggregates_equal_a_group_by_over_lines(session: Session, n: int, inline: bool) -> None:
    """Below aggregate_inline_max the batch keeps the aggregates; at it, they go stale and
    the rebuild makes them equal to a GROUP BY over actual_line."""
    add_project(session, "P1")
    add_project(session, "P2")
    load(session, [actual("seed", "1.00")], at=T0)
    batch = [
        actual(
            f"l{i}",
            f"{i}.{i % 100:02d}",
            project_ref="P1" if i % 3 else "P2",
            cost_type=("labor", "travel", "expense")[i % 3],
            currency="EUR" if i % 7 == 0 else "USD",
            posted_on=T0.date() - timedelta(days=i % 90),
            hours=Decimal(i % 5) if i % 2 else None,
        )
        for i in range(n)
    ]
    load(session, batch, at=T0 + timedelta(hours=1))
    stale = aggregates.stale_sources(session)
    assert stale == ([] if inline else ["psa"])
    if not inline:
        aggregates.rebuild(session, "psa", now=T0)
        session.commit()
        assert aggregates.stale_sources(session) == []
    assert _aggregate_rows(session) == _grouped_lines(session)
    # A small follow-up batch keeps them equal inline.
    load(
        session,
        [actual("l1", "999.99"), actual("l2", "3.00", project_ref="P2")],
        deletions=["l3"],
        at=T0 + timedelta(hours=2),
    )
    if not inline:
        assert session.get(AggregateState, "psa").stale_since is None
    assert _aggregate_rows(session) == _grouped_lines(session)


def test_a_rebuild_writes_only_what_differs(session: Session) -> None:
    """Groups gone are deleted, wrong ones corrected, missing ones added; a group that is right
    is not rewritten (PostgreSQL: its row version stays); another source's rows are left to a
    rebuild of that source."""
    add_project(session, "P1")
    add_project(session, "P2")
    load(session, [actual("a", "10.00"), actual("b", "5.50", project_ref="P2", hours=Decimal(2))],
         at=T0)  # fmt: skip
    load(session, [actual("s", "7.00", cost_type="travel")], source="sap", at=T0)
    right = _aggregate_rows(session)
    assert right == _grouped_lines(session) and len(right) == 3

    def version(project_code: str) -> object:
        if session.get_bind().dialect.name != "postgresql":
            return None
        return session.execute(
            text(
                "SELECT t.xmin::text FROM actual_period_total t JOIN project p"
                " ON p.id = t.project_id WHERE t.source = 'psa' AND p.code = :c"
            ),
            {"c": project_code},
        ).scalar_one()

    kept = version("P2")
    p1 = "SELECT id FROM project WHERE code = 'P1'"
    session.execute(
        text(
            "UPDATE actual_period_total SET base_amount = 99, lines = 7"
            f" WHERE (source = 'psa' AND project_id = ({p1})) OR source = 'sap'"
        )
    )
    session.execute(
        text(
            "INSERT INTO actual_period_total (source, project_id, kind, cost_type, period,"
            " counts_amount, counts_hours, base_amount, hours, lines, unconverted_lines)"
            f" VALUES ('psa', ({p1}), 'cost', 'ghost', '2020-01', true, true, 1, 0, 1, 0),"
            f" ('sap', ({p1}), 'cost', 'ghost', '2020-01', true, true, 2, 0, 1, 0)"
        )
    )
    session.commit()
    aggregates.rebuild(session, "psa", now=T0)
    session.commit()
    rows = _aggregate_rows(session)
    assert [r for r in rows if r[0] == "psa"] == [r for r in right if r[0] == "psa"]
    # sap's rows are not psa's rebuild's to fix: its ghost and its wrong total stay
    assert sorted((r[3], r[7]) for r in rows if r[0] == "sap") == [("ghost", 2), ("travel", 99)]
    assert version("P2") == kept
    aggregates.rebuild(session, None, now=T0)
    session.commit()
    assert _aggregate_rows(session) == right
    assert version("P2") == kept
    # Nothing stored (a first load's rebuild): every group inserted.
    session.execute(text("DELETE FROM actual_period_total"))
    aggregates.rebuild(session, "psa", now=T0)
    session.commit()
    assert _aggregate_rows(session) == [r for r in right if r[0] == "psa"]


@pytest.mark.usefixtures("poison_trigger")
def test_rejected_batch_is_bisected_to_the_offending_record(session: Session) -> None:
    """The database refuses one record: it is quarantined db_rejected and the other 9 load."""
    p1 = add_project(session, "P1")
    batch = [actual(f"a{i}", "1.00") for i in range(9)]
    batch.insert(4, actual("poison", "1000.00"))
    result = load(session, batch, at=T0)
    assert result.stats.written == 9
    held = session.scalars(select(Quarantine)).one()
    assert (held.external_id, held.reason, "poison refused" in (held.detail or "")) == (
        "poison",
        "db_rejected",
        True,
    )
    assert project_total(session, p1) == Decimal("9.00")
    assert_entries_match_lines(session)


def test_scope_end_reverses_what_the_scope_did_not_list(session: Session) -> None:
    """A project scope lists 2 of its 3 lines: the third is reversed; other projects stay."""
    p1 = add_project(session, "P1")
    p2 = add_project(session, "P2")
    load(
        session,
        [
            actual("a", "1.00"),
            actual("b", "2.00"),
            actual("c", "4.00"),
            actual("z", "8.00", project_ref="P2"),
        ],
        at=T0,
    )
    record_seen(session, "project:P1", ["a", "b"])
    check, reversed_ = end_scope(
        session,
        settings(max_scope_reversal_min=0, max_scope_reversal=Decimal("0.5")),
        "psa",
        "actuals",
        "project:P1",
    )
    session.commit()
    assert (check.open_lines, check.unseen, reversed_) == (3, 1, 1)
    assert (project_total(session, p1), project_total(session, p2)) == (
        Decimal("3.00"),
        Decimal("8.00"),
    )
    assert line(session, "c").deleted_reason == "scope_reversal"


def test_scope_end_over_the_guard_reverses_nothing_unless_allowed(session: Session) -> None:
    """Reversing 2 of 3 lines is over a 5%/min-1 guard; allow_mass_delete applies it."""
    p1 = add_project(session, "P1")
    load(session, [actual("a", "1.00"), actual("b", "2.00"), actual("c", "4.00")], at=T0)
    cfg = settings(max_scope_reversal_min=1)
    record_seen(session, "actuals", ["a"])
    check, n = end_scope(session, cfg, "psa", "actuals", "actuals")
    assert (check.unseen, n, project_total(session, p1)) == (2, 0, Decimal("7.00"))
    check, n = end_scope(session, cfg, "psa", "actuals", "actuals", allow_mass_delete=True)
    session.commit()
    assert (n, project_total(session, p1)) == (2, Decimal("1.00"))


def test_unknown_scope_key_is_refused(session: Session) -> None:
    """A malformed scope key raises a clear ValueError."""
    with pytest.raises(ValueError, match="unknown scope 'region:EU'"):
        end_scope(session, settings(), "psa", "actuals", "region:EU")


def test_authority_apply_works_through_the_ledger_in_chunks(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With chunks of one line, authority apply still reclasses every line exactly once."""
    import functools

    from pmo_ledger.ledger import admin

    p1 = add_project(session, "P1")
    load(session, [actual(f"c{i}", "1.00", cost_type="labor") for i in range(5)], at=T0)
    monkeypatch.setattr(admin, "_live_line_chunks", functools.partial(admin._live_line_chunks, size=1))
    moved = settings(authority=AuthoritySettings(
        projects="psa", labor="sap", expense="psa", hours="psa", revenue="psa", budget="psa"))
    assert authority_apply(session, moved)["lines"] == 5
    session.commit()
    assert project_total(session, p1) == Decimal("0")
    assert_entries_match_lines(session)
