"""The sample connector: determinism, paging, checkpoints, scopes, mutation rounds, knobs,
memory, and records the writer loads (on SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import (
    ConnectorContext,
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
)
from pmo_ledger.connectors.errors import ConnectorConfigError, ConnectorTransientError
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.connectors.sample.fastrecord import actual, slow_actual
from pmo_ledger.ledger.records import (
    ActualRecord,
    BudgetRecord,
    ProgressRecord,
    ProjectRecord,
    Record,
    TaskRecord,
)
from pmo_ledger.ledger.write import apply_batch
from tests.builders import settings, sole_authority

E0 = datetime(2026, 1, 1, tzinfo=UTC)  # round 0 of every stream, with the default settings
KNOBS: dict[str, Any] = {
    "actuals": 1_000,
    "edit_every": 7,
    "delete_every": 11,
    "move_every": 13,
    "currency_every": 17,
    "add": 25,
    "page_size": 97,
}


def sample(**kw: Any) -> SampleConnector:
    """A sample connector named 'sample' with these settings."""
    return SampleConnector(SampleSettings(**kw), ConnectorContext("sample"))


def read(
    conn: SampleConnector,
    stream: str = "actuals",
    cursor: Cursor | None = None,
    scope: str | None = None,
) -> list[Page]:
    """Every page of one read."""
    return list(conn.extract(stream, ReadRequest(cursor=cursor, scope=scope)))


def records(pages: list[Page]) -> list[Any]:
    return [r for p in pages for r in p.records]


def by_key(pages: list[Page]) -> dict[str, Any]:
    return {r.external_id: r for r in records(pages)}


def content(r: Any) -> Any:
    """A record without its change time."""
    return dataclasses.replace(r, source_modified_at=None)


# --- determinism, paging, order ---------------------------------------------------------


def test_same_settings_give_identical_pages() -> None:
    """Two connectors with the same settings yield equal pages on every stream."""
    a = sample(reject_every=50, capacity_hours_per_day=8)
    b = sample(reject_every=50, capacity_hours_per_day=8)
    for stream in SampleConnector.streams:
        assert read(a, stream) == read(b, stream), stream


def test_the_seed_changes_the_world() -> None:
    """Another seed gives other actual lines under the same keys."""
    a, b = by_key(read(sample(actuals=50))), by_key(read(sample(actuals=50, seed=7)))
    assert a.keys() == b.keys()
    assert sum(content(a[k]) != content(b[k]) for k in a) == 50


def test_first_actual_line_exact() -> None:
    """Line 0 of the default world, field by field."""
    first = read(sample())[0].records[0]
    assert first == ActualRecord(
        external_id="ACT-000000001",
        project_ref="PRJ-0010",
        posted_on=date(2025, 4, 15),
        cost_type="labor",
        task_ref="PRJ-0010.T02",
        resource_ref="RES-0016",
        currency="EUR",
        amount=Decimal("456.75"),
        hours=Decimal("7.25"),
        description="Timecard Emma Nakamura",
        source_modified_at=E0,
    )


def test_stream_sizes_of_the_default_world() -> None:
    """Records per stream with the default settings (12 projects, 40 resources)."""
    conn = sample()
    sizes = {s: len(records(read(conn, s))) for s in conn.streams}
    assert sizes == {
        "projects": 12,
        "tasks": 144,
        "dependencies": 120,
        "resources": 40,
        "resource_rates": 80,
        "allocations": 462,
        "budgets": 24,
        "actuals": 5_000,
        "fx_rates": 24,
        "progress": 117,
    }


def test_pages_hold_page_size_items() -> None:
    """Every page but the last holds page_size records, on every stream."""
    assert [len(p.records) for p in read(sample())] == [2_000, 2_000, 1_000]
    conn = sample(page_size=7)
    for stream in conn.streams:
        sizes = [len(p.records) for p in read(conn, stream)]
        n = conn.tables[stream].size if stream != "actuals" else 5_000
        assert sizes[: n // 7] == [7] * (n // 7), stream
        assert sum(sizes) == n, stream


def test_records_are_ordered_by_modstamp_then_key() -> None:
    """Each stream is strictly ordered by (source_modified_at, external_id)."""
    conn = sample(**KNOBS, round=2)
    for stream in conn.streams:
        keys = [(r.source_modified_at, r.external_id) for r in records(read(conn, stream))]
        assert keys == sorted(set(keys)), stream


def test_round_zero_modstamps_are_one_second_apart() -> None:
    """Record i of a stream was last modified at e0 + i seconds (e0: the day after the months)."""
    stamps = [r.source_modified_at for r in records(read(sample(actuals=100)))]
    assert stamps == [E0 + timedelta(seconds=i) for i in range(100)]


def test_checkpoints_are_the_last_items_modstamp_and_never_decrease() -> None:
    """A page's checkpoint is the timestamp cursor of its last item; they never go back."""
    conn = sample(**KNOBS, round=1, reject_every=10)
    for stream in conn.streams:
        pages = read(conn, stream)
        last = E0
        for page in pages:
            assert page.checkpoint is not None and page.checkpoint.kind == "timestamp"
            value = page.checkpoint.value
            assert isinstance(value, datetime)
            assert all(r.source_modified_at and r.source_modified_at <= value for r in page.records)
            assert value >= last
            last = value
    pages = read(sample(actuals=10, page_size=4))
    assert [p.checkpoint for p in pages] == [
        Cursor("timestamp", E0 + timedelta(seconds=3)),
        Cursor("timestamp", E0 + timedelta(seconds=7)),
        Cursor("timestamp", E0 + timedelta(seconds=9)),
    ]


def test_full_read_is_wrapped_in_the_streams_scope() -> None:
    """ScopeStart(stream) on the first page, ScopeEnd(stream) on the last, none between."""
    pages = read(sample())
    assert [p.scope for p in pages] == [ScopeStart("actuals"), None, ScopeEnd("actuals")]


def test_one_page_read_gets_an_empty_scope_end_page() -> None:
    """A stream that fits one page ends with an empty page carrying ScopeEnd."""
    pages = read(sample(), "projects")
    assert [(len(p.records), p.scope) for p in pages] == [
        (12, ScopeStart("projects")),
        (0, ScopeEnd("projects")),
    ]
    assert pages[1].checkpoint == pages[0].checkpoint


def test_empty_stream_full_read_is_an_empty_scope() -> None:
    """No actuals: a ScopeStart page and a ScopeEnd page, no records, no checkpoint."""
    pages = read(sample(actuals=0))
    assert pages == [Page(scope=ScopeStart("actuals")), Page(scope=ScopeEnd("actuals"))]


# --- incremental reads and rounds -----------------------------------------------------------


def test_incremental_read_yields_records_at_or_after_the_cursor() -> None:
    """From record 1234's modstamp: records 1234.. (>= the cursor), no scope markers."""
    conn = sample()
    pages = read(conn, cursor=Cursor("timestamp", E0 + timedelta(seconds=1234)))
    got = records(pages)
    assert got[0].external_id == "ACT-000001235"
    assert len(got) == 5_000 - 1_234
    assert all(p.scope is None for p in pages)
    between = read(conn, cursor=Cursor("timestamp", E0 + timedelta(seconds=1234, microseconds=1)))
    assert records(between)[0].external_id == "ACT-000001236"


def test_incremental_read_past_the_end_yields_nothing() -> None:
    """A cursor after every record: no page at all (never 'delete everything')."""
    assert read(sample(), cursor=Cursor("timestamp", E0 + timedelta(days=400))) == []


def test_incremental_read_refuses_other_cursor_kinds() -> None:
    """The sample's cursors are timestamps."""
    with pytest.raises(ConnectorConfigError, match="timestamp cursor"):
        read(sample(), cursor=Cursor("period", "2025-03"))


def test_round_one_yields_exactly_the_changes_and_deletions() -> None:
    """From round 0's last checkpoint, round 1 yields the edited, moved, re-currencied and added
    lines (plus the line at the checkpoint itself) and the deleted keys."""
    before = read(sample(**KNOBS))
    checkpoint = before[-1].checkpoint
    assert checkpoint == Cursor("timestamp", E0 + timedelta(seconds=999))
    old = by_key(before)
    after = sample(**KNOBS, round=1)
    new = by_key(read(after))
    pages = read(after, cursor=checkpoint)
    changed = {k for k in new if k not in old or content(old[k]) != content(new[k])}
    assert {r.external_id for r in records(pages)} == changed | {"ACT-000001000"}
    assert {k for p in pages for k in p.deletions} == old.keys() - new.keys()
    # Round 1 touches lines i with (i + 1) % k == 0: 90 deletions (k=11), 25 new lines.
    assert len(old.keys() - new.keys()) == 90
    assert len(new.keys() - old.keys()) == 25
    assert len(changed) == 256


def test_round_one_changes_exact() -> None:
    """Line 6 (i + 1 = 7) gets a quarter hour more; line 12 (13) moves to the next project,
    line 16 (17) changes currency, line 10 (11) is deleted; all at round 1's time."""
    old, new = by_key(read(sample(**KNOBS))), by_key(read(sample(**KNOBS, round=1)))
    round_1 = datetime(2026, 1, 9, tzinfo=UTC)  # e0 + 7 days + the largest stream's days (1)
    edited, moved, changed = "ACT-000000007", "ACT-000000013", "ACT-000000017"
    assert new[edited].source_modified_at == round_1 + timedelta(milliseconds=6)
    if old[edited].hours is not None:
        assert new[edited].hours == old[edited].hours + Decimal("0.25")
    else:
        assert new[edited].amount == (old[edited].amount * Decimal("1.03")).quantize(
            Decimal("0.01"), rounding="ROUND_DOWN"
        )
    assert int(new[moved].project_ref[4:]) == int(old[moved].project_ref[4:]) % 12 + 1
    assert new[moved].posted_on == old[moved].posted_on
    ccys = ["USD", "EUR", "GBP"]
    assert new[changed].currency == ccys[(ccys.index(old[changed].currency) + 1) % 3]
    assert "ACT-000000011" in old and "ACT-000000011" not in new
    assert min(
        r.source_modified_at for r in new.values() if r.source_modified_at > E0 + timedelta(days=1)
    ) == round_1 + timedelta(milliseconds=6)


@pytest.mark.parametrize(
    "knobs",
    [
        KNOBS,
        {"actuals": 500, "edit_every": 1, "delete_every": 2, "add": 3, "page_size": 50},
        {"actuals": 500, "edit_every": 2, "move_every": 3, "currency_every": 1, "add": 40,
         "delete_every": 5, "reject_every": 9, "page_size": 64},
    ],
)  # fmt: skip
def test_incremental_rounds_compose_to_the_full_read(knobs: dict[str, Any]) -> None:
    """Round 0 in full, then each round's incremental read from the last checkpoint, applied
    in order, equals a full read of that round (records and their modstamps)."""
    state = by_key(read(sample(**knobs)))
    checkpoint = read(sample(**knobs))[-1].checkpoint
    for r in range(1, 5):
        conn = sample(**knobs, round=r)
        for page in read(conn, cursor=checkpoint):
            state.update((rec.external_id, rec) for rec in page.records)
            for key in page.deletions:
                state.pop(key, None)
            checkpoint = page.checkpoint or checkpoint
        assert state == by_key(read(conn)), r


def test_changes_are_later_than_all_earlier_data() -> None:
    """Round r's changes are after everything of rounds before it, on every stream."""
    conn0, conn1 = sample(**KNOBS), sample(**KNOBS, round=1)
    latest = max(r.source_modified_at for s in conn0.streams for r in records(read(conn0, s)))
    fresh = [r for r in records(read(conn1)) if r.source_modified_at > latest]
    assert len(fresh) == 256
    assert all(r.source_modified_at >= conn1.world.round_time(1) for r in fresh)


def test_lookback_rereads_the_overlap_only() -> None:
    """Round 1's changes are milliseconds apart: a 15-minute lookback from its last checkpoint
    re-reads round 1 (and its deletions), nothing of round 0, 8 days before."""
    conn = sample(**KNOBS, round=1)
    first = read(conn, cursor=read(sample(**KNOBS))[-1].checkpoint)
    last = first[-1].checkpoint
    assert last == Cursor("timestamp", datetime(2026, 1, 9, 0, 0, 1, 24_000, tzinfo=UTC))
    again = read(conn, cursor=last.minus(timedelta(minutes=15)))
    assert records(again) == records(first)[1:]  # all but the round-0 line at the checkpoint
    assert [k for p in again for k in p.deletions] == [k for p in first for k in p.deletions]


# --- scopes -------------------------------------------------------------------------------


def test_project_scope_yields_exactly_that_projects_actuals() -> None:
    """project:<Id> lists every line of the project (after moves) between its scope markers,
    without checkpoints (it does not cover the stream)."""
    conn = sample(**KNOBS, round=2)
    pages = read(conn, scope="project:PRJ-0003")
    expected = [r for r in records(read(conn)) if r.project_ref == "PRJ-0003"]
    assert records(pages) == expected
    assert len(expected) == 63
    assert pages[0].scope == ScopeStart("project:PRJ-0003")
    assert pages[-1].scope == ScopeEnd("project:PRJ-0003")
    assert all(p.checkpoint is None for p in pages)


def test_period_scope_yields_the_lines_posted_in_that_month() -> None:
    """period:2025-03 lists the lines posted in March 2025."""
    conn = sample()
    pages = read(conn, scope="period:2025-03")
    expected = [r for r in records(read(conn)) if r.posted_on.month == 3]
    assert records(pages) == expected
    assert len(expected) == 439
    assert (pages[0].scope, pages[-1].scope) == (
        ScopeStart("period:2025-03"),
        ScopeEnd("period:2025-03"),
    )


def test_project_scope_of_allocations_and_budgets() -> None:
    """Allocations and budgets re-sync one project too."""
    conn = sample()
    for stream, n in (("allocations", 18), ("budgets", 2)):
        got = records(read(conn, stream, scope="project:PRJ-0001"))
        assert len(got) == n, stream
        assert {r.project_ref for r in got} == {"PRJ-0001"}


@pytest.mark.parametrize(
    ("stream", "scope"),
    [
        ("actuals", "customer:ACME"),
        ("actuals", "dates:2025-01-01..2025-01-31"),
        ("actuals", "project:"),
        ("actuals", "project:PRJ-9999"),
        ("actuals", "period:2025-13"),
        ("actuals", "period:March"),
        ("budgets", "period:2025-03"),
        ("tasks", "project:PRJ-0001"),
        ("fx_rates", "period:2025-03"),
    ],
)
def test_other_scopes_are_refused(stream: str, scope: str) -> None:
    """A scope the stream cannot re-sync is a config error naming both."""
    with pytest.raises(ConnectorConfigError, match=f"stream {stream} cannot re-sync scope"):
        read(sample(), stream, scope=scope)


def test_unknown_stream_is_refused() -> None:
    """extract() of a stream the sample does not have is a config error."""
    with pytest.raises(ConnectorConfigError, match="no stream 'timecards'"):
        read(sample(), "timecards")


# --- knobs --------------------------------------------------------------------------------


def test_reject_every_yields_rejected_rows() -> None:
    """Every 100th line is a Rejected('bad_amount') row with its raw payload, not a record."""
    pages = read(sample(actuals=1_000, reject_every=100))
    rejected = [r for p in pages for r in p.rejected]
    assert [r.external_id for r in rejected] == [f"ACT-{i:09d}" for i in range(100, 1_001, 100)]
    assert {r.reason for r in rejected} == {"bad_amount"}
    assert rejected[0].payload["Id"] == "ACT-000000100"
    assert len(records(pages)) == 990


def test_fail_after_pages_raises_a_transient_error() -> None:
    """fail_after_pages=2: two pages, then ConnectorTransientError; shorter reads finish."""
    got: list[Page] = []
    with pytest.raises(ConnectorTransientError, match="fails after 2 pages"):
        for page in sample(fail_after_pages=2).extract("actuals", ReadRequest()):
            got.append(page)
    assert len(got) == 2
    assert len(read(sample(fail_after_pages=2), "projects")) == 2


def test_check() -> None:
    """check() answers None, or a config error when check_fails is set."""
    sample().check()
    with pytest.raises(ConnectorConfigError, match="check_fails"):
        sample(check_fails=True).check()


def test_settings_refuse_unknown_keys_and_inconsistent_currencies() -> None:
    """Unknown keys, unknown currencies and a base outside the list are refused."""
    for bad in ({"colour": "red"}, {"currencies": ["USD", "XYZ"]}, {"base_currency": "CHF"}):
        with pytest.raises(ValueError):
            SampleSettings.model_validate(bad)


def test_fast_record_equals_the_dataclass_constructor() -> None:
    """The slot-setting builder makes records equal to ActualRecord(...)."""
    args = ("A1", "P1", date(2025, 1, 2), "labor", "T", "R", "EUR", Decimal("1.50"),
            Decimal("0.25"), "Timecard", E0)  # fmt: skip
    assert actual(*args) == slow_actual(*args)
    assert actual is not slow_actual  # the record type is still the one it knows


def test_iterating_100k_actuals_keeps_memory_small() -> None:
    """Lines are generated page by page: the peak stays far below the stream's size (held
    at once, 100,000 lines take about 41 MB under tracemalloc)."""
    conn = sample(actuals=100_000)
    tracemalloc.start()
    try:
        n = sum(len(p.records) for p in conn.extract("actuals", ReadRequest()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 100_000
    assert peak < 20_000_000


# --- the writer loads every stream ------------------------------------------------------

#: The order a first sync applies streams in: rates and structure before what refers to them.
LOAD_ORDER = (
    "fx_rates",
    "projects",
    "resources",
    "resource_rates",
    "tasks",
    "dependencies",
    "allocations",
    "budgets",
    "actuals",
    "progress",
)


def _snapshots(recs: list[Record]) -> int:
    """Progress snapshots the records make, in load order: one whenever the percent differs
    from the one in force on its date (the latest snapshot on or before it)."""
    series: dict[tuple[str, str | None], list[tuple[date, Decimal]]] = {}
    n = 0
    for r in recs:
        key: tuple[str, str | None]
        if isinstance(r, ProgressRecord):
            key, day, percent = (r.project_ref, None), r.status_date, r.percent
        elif isinstance(r, TaskRecord | ProjectRecord):
            key = (
                (r.project_ref, r.external_id)
                if isinstance(r, TaskRecord)
                else (r.external_id, None)
            )
            day, percent = r.status_date, r.percent_complete  # type: ignore[assignment]
        else:
            continue
        points = series.setdefault(key, [])
        in_force = [p for d, p in sorted(points, key=lambda x: x[0]) if d <= day]
        if not in_force or in_force[-1] != percent:
            points.append((day, percent))
            n += 1
    return n


def test_every_stream_loads_into_the_ledger(session: Session) -> None:
    """One full read of every stream through apply_batch: nothing quarantined but the rejected
    rows, and the expected rows per table."""
    cfg = settings(authority=sole_authority("sample"), rate_sources=["sample"])
    conn = sample(reject_every=50)
    read_back: dict[str, list[Any]] = {}
    for stream in LOAD_ORDER:
        deletes = conn.streams[stream].deletes
        read_back[stream] = []
        for page in read(conn, stream):
            apply_batch(
                session, cfg, "sample", stream, page.records, page.deletions, page.rejected,
                deletion_kind=deletes,
            )  # fmt: skip
            read_back[stream].extend(page.records)
        session.commit()

    def count(table: str, where: str = "") -> int:
        return int(session.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one())

    quarantined = session.execute(
        text("SELECT stream, reason, count(*) FROM quarantine GROUP BY stream, reason")
    ).all()
    assert [tuple(q) for q in quarantined] == [("actuals", "bad_amount", 100)]
    budgets: list[BudgetRecord] = read_back["budgets"]
    # Every line of the sample's budgets has its period (labor and each expense type per
    # month): one budget_line each, none phased by the ledger.
    assert all(ln.period for b in budgets for ln in b.lines)
    budget_lines = sum(len(b.lines) for b in budgets)
    assert {
        "project": count("project"),
        "portfolio": count("portfolio"),
        "program": count("program"),
        "task": count("task"),
        "task_dependency": count("task_dependency"),
        "resource": count("resource"),
        "resource_rate": count("resource_rate"),
        "allocation": count("allocation"),
        "budget_version": count("budget_version"),
        "budget_line": count("budget_line"),
        "actual_line": count("actual_line"),
        "unconverted": count("actual_line", "WHERE base_amount IS NULL"),
        "fx_rate": count("fx_rate"),
        "progress_snapshot": count("progress_snapshot"),
    } == {
        "project": 13,  # with UNMAPPED
        "portfolio": 1,
        "program": 3,
        "task": 144,
        "task_dependency": 120,
        "resource": 40,
        "resource_rate": 80,
        "allocation": 462,
        "budget_version": 24,
        "budget_line": budget_lines,
        "actual_line": 4_900,
        "unconverted": 0,
        "fx_rate": 24,
        "progress_snapshot": _snapshots([r for s in read_back.values() for r in s]),
    }
    assert Counter(r.cost_type for r in read_back["actuals"]) == Counter(
        {"labor": 3_400, "travel": 745, "subcontract": 392, "software": 363}
    )


def test_the_example_configuration_builds_the_sample_connector() -> None:
    """config/pmo-ledger.example.toml's sample connector builds through the registry."""
    import tomllib
    from pathlib import Path

    from pmo_ledger.connectors.registry import build_connector
    from pmo_ledger.jobs.config import ConnectorConfig

    path = Path(__file__).resolve().parents[2] / "config" / "pmo-ledger.example.toml"
    table = tomllib.loads(path.read_text(encoding="utf-8"))["connectors"]["demo"]
    cfg = ConnectorConfig.model_validate(table)
    connector = build_connector("demo", cfg.kind, cfg.settings, ConnectorContext("demo"))
    assert (connector.settings.projects, connector.settings.actuals) == (12, 5000)


def test_capacity_is_a_stream_only_when_asked_for() -> None:
    """capacity_hours_per_day = 8: one record per resource and month, working days x 8 h
    (January 2025 has 23 working days, February 20); by default there is no such stream."""
    assert "capacity" not in sample().streams
    conn = sample(capacity_hours_per_day=8, resources=2, months=2)
    got = [(r.resource_ref, r.period, r.hours) for r in records(read(conn, "capacity"))]
    assert got == [
        ("RES-0001", "2025-01", Decimal(184)),
        ("RES-0001", "2025-02", Decimal(160)),
        ("RES-0002", "2025-01", Decimal(184)),
        ("RES-0002", "2025-02", Decimal(160)),
    ]


def test_underplanned_projects_plan_a_tenth_of_their_hours() -> None:
    """underplanned_every = 3: projects 3, 6, 9 and 12 plan a tenth of the hours; the others
    plan what the default world plans; actual lines do not change."""

    def planned(conn: SampleConnector) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for r in records(read(conn, "allocations")):
            out[r.project_ref] = out.get(r.project_ref, Decimal(0)) + r.planned_hours
        return out

    base, under = planned(sample()), planned(sample(underplanned_every=3))
    picked = {k for k in base if int(k[-4:]) % 3 == 0}
    assert picked == {"PRJ-0003", "PRJ-0006", "PRJ-0009", "PRJ-0012"}
    for key, hours in base.items():
        expected = hours / 10 if key in picked else hours
        assert abs(under[key] - expected) < Decimal(1), key  # tenths of hundredths round down
    assert read(sample(actuals=300), "actuals") == read(
        sample(actuals=300, underplanned_every=3), "actuals"
    )
