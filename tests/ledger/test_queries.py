"""The shared read-side queries (ledger/queries) on SQLite and PostgreSQL: the rows the CLI
and the API both show, with their order, filters and limits."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import (
    CostObjectMap,
    Project,
    ProjectLink,
    Quarantine,
    SyncRun,
    SyncRunStream,
    Task,
    Variance,
)
from pmo_ledger.ledger.queries.fx import StoredRate, fx_rates
from pmo_ledger.ledger.queries.mappings import (
    CostObjectMapRow,
    ExplicitMapping,
    ProjectLinkRow,
    UnmappedKey,
    cost_object_maps,
    explicit_mapping,
    live_project_id,
    project_links,
)
from pmo_ledger.ledger.queries.metrics import RunCount, StreamRows, ledger_figures
from pmo_ledger.ledger.queries.quarantine import quarantine_entries
from pmo_ledger.ledger.queries.reports import BudgetVsActual, NotCounted, budget_report
from pmo_ledger.ledger.queries.runs import last_done, list_runs, run_with_streams
from pmo_ledger.ledger.queries.variances import list_variances
from pmo_ledger.ledger.records import (
    BudgetLineRecord,
    BudgetRecord,
    FxRateRecord,
    ProjectRecord,
    TaskRecord,
)
from tests.builders import T0, actual, load

H = timedelta(hours=1)


# --- runs --------------------------------------------------------------------------------------


def _stream(
    run_id: int, stream: str, at_s: int, read: int, written: int, **kw: Any
) -> SyncRunStream:
    values: dict[str, Any] = {
        "rows_unchanged": 0,
        "rows_quarantined": 0,
        "rows_deleted": 0,
        "status": "succeeded",
        "started_at": T0 + timedelta(seconds=at_s),
    } | kw
    return SyncRunStream(
        run_id=run_id, stream=stream, rows_read=read, rows_written=written, **values
    )


def _runs(session: Session) -> None:
    """psa succeeded (2 streams), erp failed (none), psa partial (1 stream), psa running."""
    session.add_all(
        [
            SyncRun(id=1, connector="psa", status="succeeded", trigger="cli", started_at=T0,
                    finished_at=T0 + timedelta(minutes=1), options={"full": True}),
            SyncRun(id=2, connector="erp", status="failed", trigger="schedule",
                    started_at=T0 + H, finished_at=T0 + H, message="boom"),
            SyncRun(id=3, connector="psa", status="partial", trigger="api", started_at=T0 + 2 * H,
                    finished_at=T0 + 2 * H, retry_at=T0 + 3 * H),
            SyncRun(id=4, connector="psa", status="running", trigger="cli", started_at=T0 + 3 * H,
                    holder="host:1:x"),
        ]
    )  # fmt: skip
    session.flush()
    session.add_all(
        [
            _stream(1, "actuals", 10, 10, 8, rows_quarantined=2,
                    checkpoint={"kind": "offset", "value": 10}, amounts={"read": {"USD": "12.50"}}),
            _stream(1, "projects", 5, 3, 3),
            _stream(3, "actuals", 7205, 5, 5, status="partial", error="quota"),
        ]
    )  # fmt: skip
    session.commit()


def test_runs_are_listed_newest_first_with_their_stream_totals(session: Session) -> None:
    _runs(session)
    listed = list_runs(session, limit=10)
    assert [(r.id, r.connector, r.status, r.rows_read, r.rows_written, r.rows_quarantined)
            for r in listed] == [
        (4, "psa", "running", 0, 0, 0),
        (3, "psa", "partial", 5, 5, 0),
        (2, "erp", "failed", 0, 0, 0),
        (1, "psa", "succeeded", 13, 11, 2),
    ]  # fmt: skip
    first = listed[-1]
    assert (first.trigger, first.options, first.started_at, first.finished_at) == (
        "cli", {"full": True}, T0, T0 + timedelta(minutes=1)
    )  # fmt: skip
    assert first.started_at.utcoffset() == timedelta(0)
    assert (listed[0].holder, listed[1].retry_at, listed[2].message) == (
        "host:1:x", T0 + 3 * H, "boom"
    )  # fmt: skip
    assert [r.id for r in list_runs(session, limit=10, connector="psa")] == [4, 3, 1]
    assert [r.id for r in list_runs(session, limit=10, status="failed")] == [2]
    assert [r.id for r in list_runs(session, limit=10, connector="psa", status="succeeded")] == [1]
    assert [r.id for r in list_runs(session, limit=2)] == [4, 3]
    assert list_runs(session, limit=10, connector="nope") == []


def test_a_run_is_shown_with_its_streams_in_the_order_they_started(session: Session) -> None:
    _runs(session)
    run = run_with_streams(session, 1)
    assert run is not None
    assert (run.id, run.connector, run.status) == (1, "psa", "succeeded")
    assert [(s.stream, s.rows_read, s.rows_written, s.rows_quarantined) for s in run.streams] == [
        ("projects", 3, 3, 0),
        ("actuals", 10, 8, 2),
    ]
    actuals = run.streams[1]
    assert (actuals.checkpoint, actuals.amounts, actuals.started_at) == (
        {"kind": "offset", "value": 10}, {"read": {"USD": "12.50"}}, T0 + timedelta(seconds=10)
    )  # fmt: skip
    partial = run_with_streams(session, 3)
    assert partial is not None
    assert [(s.stream, s.status, s.error) for s in partial.streams] == [
        ("actuals", "partial", "quota")
    ]
    empty = run_with_streams(session, 2)
    assert empty is not None and empty.streams == ()
    assert run_with_streams(session, 99) is None


def test_last_done_is_the_start_of_the_last_succeeded_or_partial_run(session: Session) -> None:
    _runs(session)
    assert last_done(session, "psa") == T0 + 2 * H
    assert last_done(session, "erp") is None  # failed runs do not count
    assert last_done(session, "nope") is None


# --- variances ---------------------------------------------------------------------------------


def _variance(vid: int, severity: str, status: str, subject: str, rule: str, **kw: Any) -> Variance:
    values: dict[str, Any] = {
        "subject_type": "project",
        "dimension": "amount",
        "period": "2025-10",
        "message": f"finding {vid}",
        "measures": {"pct": str(vid)},
        "thresholds": {"pct": "5"},
        "as_known_at": T0,
        "first_seen_at": T0,
        "last_seen_at": T0 + vid * H,
        "reopened_count": 0,
    } | kw
    return Variance(
        id=vid, rule=rule, subject_id=subject, severity=severity, status=status, **values
    )


def _variances(session: Session) -> None:
    session.add_all(
        [
            _variance(1, "low", "open", "P1", "burn_rate"),
            _variance(2, "high", "resolved", "P2", "budget_overrun", resolved_at=T0 + 5 * H),
            _variance(3, "medium", "acknowledged", "P1", "budget_overrun",
                      acknowledged_at=T0 + 4 * H, acknowledged_by="ana", note="known"),
            _variance(4, "high", "open", "P1", "stale_actuals"),
            _variance(5, "medium", "open", "psa", "stale_actuals", subject_type="connector"),
        ]
    )  # fmt: skip
    session.commit()


def test_variances_come_a_page_at_a_time_with_the_filtered_total(session: Session) -> None:
    """`limit`/`offset` walk the same order; `total` counts every row the filters match,
    whatever the page (issue 18, item 4)."""
    _variances(session)

    def page(**kw: Any) -> tuple[list[int], int]:
        found = list_variances(session, **kw)
        return [v.id for v in found.items], found.total

    assert page(limit=2) == ([4, 2], 5)
    assert page(limit=2, offset=2) == ([5, 3], 5)
    assert page(limit=2, offset=4) == ([1], 5)
    assert page(limit=2, offset=5) == ([], 5)
    assert page(open_only=True, limit=1, offset=1) == ([5], 4)
    assert page(severity="medium", rule="budget_overrun", project="P1") == ([3], 1)
    assert page(status="resolved", limit=10) == ([2], 1)


def test_variances_are_listed_most_severe_and_newest_first(session: Session) -> None:
    _variances(session)

    def ids(**kw: Any) -> list[int]:
        return [v.id for v in list_variances(session, **kw).items]

    assert ids() == [4, 2, 5, 3, 1]
    assert ids(open_only=True) == [4, 5, 3, 1]
    assert ids(status="acknowledged") == [3]
    assert ids(status="resolved") == [2]
    assert ids(project="P1") == [4, 3, 1]
    assert ids(project="psa") == []  # a connector subject is not a project
    assert ids(rule="budget_overrun") == [2, 3]
    assert ids(severity="medium") == [5, 3]
    assert ids(severity="high", open_only=True) == [4]
    assert ids(limit=2) == [4, 2]
    acknowledged = list_variances(session, status="acknowledged").items[0]
    assert (
        acknowledged.rule, acknowledged.subject_type, acknowledged.subject_id,
        acknowledged.dimension, acknowledged.period, acknowledged.severity, acknowledged.message,
        acknowledged.measures, acknowledged.thresholds, acknowledged.acknowledged_by,
        acknowledged.note, acknowledged.reopened_count,
    ) == (
        "budget_overrun", "project", "P1", "amount", "2025-10", "medium", "finding 3",
        {"pct": "3"}, {"pct": "5"}, "ana", "known", 0,
    )  # fmt: skip
    assert (acknowledged.acknowledged_at, acknowledged.last_seen_at) == (T0 + 4 * H, T0 + 3 * H)
    assert acknowledged.acknowledged_at is not None
    assert acknowledged.acknowledged_at.utcoffset() == timedelta(0)


# --- the budget report, mappings, quarantine, rates ---------------------------------------------


def _portfolio(session: Session) -> dict[str, int]:
    """P1 (budget 900, labor 250 and 2.5 hours from psa, an expense of 75 from erp that does
    not count: psa is the authority), P2 (100 from psa), key zz9 unmapped in USD and EUR."""
    load(session, [ProjectRecord(external_id="a1", code="P1", name="Alpha"),
                   ProjectRecord(external_id="a2", code="P2", name="Beta")],
         stream="projects", at=T0)  # fmt: skip
    ids = dict(session.execute(select(Project.code, Project.id)).tuples().all())
    session.add(ProjectLink(source="erp", object_type="project", external_id="a1",
                            project_id=ids["P1"], origin="manual", created_at=T0, updated_at=T0))  # fmt: skip
    session.commit()
    budget = BudgetRecord(
        external_id="b-a1", project_ref="a1", kind="current", effective_from=date(2025, 10, 1),
        lines=(BudgetLineRecord(external_id="L1", amount=Decimal("900.00"), currency="USD",
                                cost_type="labor", period="2025-10"),),
    )  # fmt: skip
    load(session, [budget], stream="budgets", deletion_kind="budget", at=T0)
    load(session, [actual("t1", "250.00", project_ref="a1", cost_type="labor", hours=Decimal("2.5")),
                   actual("t2", "100.00", project_ref="a2"),
                   actual("u1", "40.00", project_ref="zz9"),
                   actual("u2", "10.00", project_ref="zz9", currency="EUR")], at=T0)  # fmt: skip
    load(session, [actual("e1", "75.00", project_ref="a1")], source="erp", at=T0 + H)
    return ids


def test_the_budget_report_rows_unmapped_keys_and_lines_not_counted(session: Session) -> None:
    _portfolio(session)
    report = budget_report(session)
    assert report.rows == [
        BudgetVsActual("P1", "Alpha", None, None, Decimal("900.00"), Decimal("250.00"),
                       Decimal("650.00"), Decimal("2.50"), 0),
        BudgetVsActual("P2", "Beta", None, None, Decimal("0.00"), Decimal("100.00"),
                       Decimal("-100.00"), Decimal("0.00"), 0),
    ]  # fmt: skip
    assert report.unmapped == [
        UnmappedKey("psa", "project", "zz9", 2, {"EUR": Decimal("10.00"), "USD": Decimal("40.00")})
    ]
    assert report.ignored == [NotCounted("erp", "cost", "expense", 1, Decimal("75.00"))]


def test_mappings_are_listed_and_a_key_is_placed(session: Session) -> None:
    ids = _portfolio(session)
    load(session, [TaskRecord(external_id="t-9", project_ref="a1", name="Build", wbs_code="1.2")],
         stream="tasks", at=T0)  # fmt: skip
    task = session.scalar(select(Task.id).where(Task.external_id == "t-9"))
    session.add_all(
        [
            CostObjectMap(source="sap", object_type="wbs", external_id="W-2", project_id=ids["P2"],
                          task_id=None, cost_type="expense", origin="import", created_at=T0,
                          updated_at=T0),
            CostObjectMap(source="sap", object_type="wbs", external_id="W-1", project_id=ids["P1"],
                          task_id=task, cost_type=None, origin="manual", created_at=T0,
                          updated_at=T0),
        ]
    )  # fmt: skip
    session.commit()
    assert project_links(session) == [
        ProjectLinkRow("erp", "project", "a1", "P1", "manual"),
        ProjectLinkRow("psa", "project", "a1", "P1", "authority"),
        ProjectLinkRow("psa", "project", "a2", "P2", "authority"),
    ]
    assert cost_object_maps(session) == [
        CostObjectMapRow("sap", "wbs", "W-1", "P1", "1.2", None, "manual"),
        CostObjectMapRow("sap", "wbs", "W-2", "P2", None, "expense", "import"),
    ]
    assert explicit_mapping(session, "psa", "project", "a2") == ExplicitMapping(
        "P2", "project_link", "authority"
    )
    assert explicit_mapping(session, "sap", "wbs", "W-1") == ExplicitMapping(
        "P1", "cost_object_map", "manual"
    )
    assert explicit_mapping(session, "sap", "wbs", "W-3") is None
    assert live_project_id(session, "P2") == ids["P2"]
    assert live_project_id(session, "P9") is None


def _entry(source: str, external_id: str, reason: str, seen: int, **kw: Any) -> Quarantine:
    values: dict[str, Any] = {"status": "open", "payload_kind": "record", "payload_hash": "h"} | kw
    return Quarantine(source=source, stream="actuals", external_id=external_id, reason=reason,
                      first_seen_at=T0, last_seen_at=T0 + seen * H, **values)  # fmt: skip


def test_quarantine_entries_newest_first(session: Session) -> None:
    _portfolio(session)  # u1 and u2 unmapped, seen at T0
    session.add_all(
        [
            _entry("erp", "x1", "bad_amount", 2, detail="amount 'n/a'"),
            _entry("psa", "u0", "unmapped", 1, status="resolved", resolution="remapped",
                   resolved_at=T0 + 3 * H),
        ]
    )  # fmt: skip
    session.commit()
    entries = quarantine_entries(session)
    assert [(e.source, e.external_id, e.reason, e.detail, e.last_seen_at) for e in entries] == [
        ("erp", "x1", "bad_amount", "amount 'n/a'", T0 + 2 * H),
        ("psa", "u2", "unmapped", "no project for project 'zz9'", T0),
        ("psa", "u1", "unmapped", "no project for project 'zz9'", T0),
    ]
    assert [e.external_id for e in quarantine_entries(session, reason="unmapped")] == ["u2", "u1"]
    assert [e.external_id for e in quarantine_entries(session, source="erp")] == ["x1"]
    assert [e.external_id for e in quarantine_entries(session, limit=2)] == ["x1", "u2"]
    resolved = quarantine_entries(session, status="resolved")
    assert [(e.external_id, e.resolution, e.resolved_at) for e in resolved] == [
        ("u0", "remapped", T0 + 3 * H)
    ]


def test_stored_rates_newest_first(session: Session) -> None:
    rates = [
        FxRateRecord(
            from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 9, 1), rate=Decimal("1.1")
        ),
        FxRateRecord(
            from_ccy="GBP", to_ccy="USD", valid_from=date(2025, 10, 1), rate=Decimal("1.3")
        ),
    ]
    load(session, rates, source="manual", stream="fx", at=T0)
    assert fx_rates(session) == [
        StoredRate("manual", "corporate", "GBP", "USD", date(2025, 10, 1), Decimal("1.3")),
        StoredRate("manual", "corporate", "EUR", "USD", date(2025, 9, 1), Decimal("1.1")),
    ]
    assert [r.from_ccy for r in fx_rates(session, "EUR")] == ["EUR"]
    assert [r.from_ccy for r in fx_rates(session, "USD", limit=1)] == ["GBP"]
    assert fx_rates(session, "JPY") == []


# --- the figures of /metrics -------------------------------------------------------------------


def test_the_ledger_figures_of_a_scrape(session: Session) -> None:
    _runs(session)
    _variances(session)
    _portfolio(session)
    figures = ledger_figures(session)
    assert sorted(figures.runs) == [
        RunCount("erp", "failed", 1),
        RunCount("psa", "partial", 1),
        RunCount("psa", "running", 1),
        RunCount("psa", "succeeded", 1),
    ]
    assert sorted(figures.stream_rows) == [
        StreamRows("psa", "actuals", {"read": 15, "written": 13, "unchanged": 0,
                                      "quarantined": 2, "deleted": 0}),
        StreamRows("psa", "projects", {"read": 3, "written": 3, "unchanged": 0,
                                       "quarantined": 0, "deleted": 0}),
    ]  # fmt: skip
    assert figures.last_success == {"psa": T0}
    assert figures.open_quarantine == {"psa": 2}
    assert figures.open_variances == {"high": 1, "medium": 2, "low": 1}
