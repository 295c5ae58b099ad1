"""Dashboard fixes seen in the screenshots (both engines): a data_quality line check's variance
lists the lines it counted, messages say "1 line" (not "1 lines"), a completed project's Gantt
spans its own dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.jobs.service.ui import charts, views
from pmo_ledger.ledger.models import ActualLine, Project, Variance
from pmo_ledger.ledger.planning.cpm import ScheduledTask
from pmo_ledger.ledger.queries.dashboard import VarianceDetail, variance_detail, variance_lines
from pmo_ledger.ledger.queries.variances import HistoryEntry
from tests.ledger.reconcile.portfolio import NOW, base_portfolio, run, spend
from tests.service.test_ui_pages import build, loaded


def first_project(s: Session) -> tuple[int, str]:
    """The id and code of the sample's first project."""
    pid, code = s.execute(
        select(Project.id, Project.code).where(Project.code != "UNMAPPED").order_by(Project.code)
    ).first()  # type: ignore[misc]
    return int(pid), str(code)


def test_an_outside_dates_variance_lists_the_lines_it_counted(
    engine: Engine, tmp_path: Path
) -> None:
    with loaded(engine, tmp_path) as ui:
        with Session(engine) as s:
            pid, code = first_project(s)
            start, finish = date(2026, 3, 1), date(2026, 5, 31)
            s.execute(
                update(Project).where(Project.id == pid)
                .values(planned_start=start, planned_finish=finish)
            )  # fmt: skip
            s.commit()
            outside = set(
                s.scalars(
                    select(ActualLine.id).where(
                        ActualLine.project_id == pid,
                        ActualLine.deleted_at.is_(None),
                        or_(ActualLine.posted_on < start, ActualLine.posted_on > finish),
                    )
                )
            )
        assert len(outside) > 1
        run_reconcile(ui.app)
        with Session(engine) as s:
            v = s.scalars(
                select(Variance).where(
                    Variance.project_id == pid, Variance.rule == "data_quality",
                    Variance.dimension == "outside_dates", Variance.status == "open",
                )
            ).one()  # fmt: skip
            assert v.measures == {"lines": len(outside)}
            lines = variance_lines(s, [v.id], project_id=pid, limit=10_000)[v.id]
            assert {line.line_id for line in lines} == outside
            assert all(not start <= line.posted_on <= finish for line in lines)
            assert [line.posted_on for line in lines] == sorted(line.posted_on for line in lines)
            detail = variance_detail(s, v.id)
            assert detail is not None and len(detail.lines) == len(outside)
            total = s.scalar(select(func.count()).select_from(ActualLine).where(
                ActualLine.project_id == pid, ActualLine.deleted_at.is_(None)))  # fmt: skip
            assert total is not None and total > len(outside)
        html = ui.client.get(f"/ui/projects/{code}").text
        block = html[html.index(f'id="variance-{v.id}"') :]
        shown = min(len(outside), 50)
        assert f"{shown} ledger lines" in block[: block.index("</summary>")]
        page = ui.client.get(f"/ui/variances/{v.id}").text
        assert page.count("<tr><td>psa/") == len(outside)


def _sched(status: date | None) -> Any:
    """A two-task schedule over 2025-04-01..2025-10-31 at this status date."""
    spans = (
        ("T1", date(2025, 4, 1), date(2025, 6, 30)),
        ("T2", date(2025, 7, 1), date(2025, 10, 31)),
    )
    rows = [
        ScheduledTask(
            key=key,
            name=key,
            project="P",
            level=0,
            summary=False,
            milestone=False,
            state="done",
            duration=Decimal(1),
            percent=Decimal(100),
            early_start=a,
            early_finish=b,
            late_start=None,
            late_finish=None,
            total_float=Decimal(0),
            free_float=None,
            critical=True,
            es=0,
            ef=0,
            ls=None,
            lf=None,
        )
        for key, a, b in spans
    ]
    return SimpleNamespace(
        rows=rows, start=date(2025, 4, 1), finish=date(2025, 10, 31), status_date=status
    )


def test_a_completed_projects_gantt_spans_its_own_dates_with_the_status_line_at_the_edge() -> None:
    plot_right = charts.WIDTH - charts.PLOT_RIGHT
    g = charts.gantt(_sched(date(2026, 12, 7)))  # status date 13 months after the finish
    first, last = g.bars
    assert first.x == charts.GANTT_LABEL
    assert last.x + last.width == plot_right  # the bars fill the chart's width
    assert last.x > charts.GANTT_LABEL + (plot_right - charts.GANTT_LABEL) * 0.4
    assert (g.status_x, g.status_clipped) == (plot_right, "after")
    assert [m.label for m in g.months][:2] == ["Apr 2025", "May"]
    early = charts.gantt(_sched(date(2024, 1, 10)))  # long before the start
    assert (early.status_x, early.status_clipped) == (charts.GANTT_LABEL, "before")
    assert early.bars[1].x + early.bars[1].width == plot_right
    near = charts.gantt(_sched(date(2025, 11, 10)))  # just after the finish: the axis widens
    assert near.status_clipped == "" and near.status_x is not None
    assert near.bars[1].x + near.bars[1].width < near.status_x < plot_right
    inside = charts.gantt(_sched(date(2025, 7, 1)))
    assert inside.status_clipped == "" and inside.status_x == inside.bars[1].x


def test_counted_says_one_line_and_leaves_other_counts() -> None:
    assert views.counted("PRJ-0002: 1 lines posted outside the project's planned dates") == (
        "PRJ-0002: 1 line posted outside the project's planned dates"
    )
    assert views.counted("psa.actuals: 1 records wait in quarantine") == (
        "psa.actuals: 1 record waits in quarantine"
    )
    assert views.counted("sap: 1 actual lines wait on UNMAPPED (10.00 base)") == (
        "sap: 1 actual line waits on UNMAPPED (10.00 base)"
    )
    for same in ("P: 11 lines posted", "P: 21 lines", "P: 2 lines with negative hours",
                 "gap 0.1 lines", "P-1 lines", "P: 1 linesman"):  # fmt: skip
        assert views.counted(same) == same
    assert views.counted(None) == ""
    assert [views.count_of(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert views.count_of(1, "entry", "entries") == "1 entry"
    assert views.count_of(3, "entry", "entries") == "3 entries"


def test_a_one_line_variance_reads_one_line_on_the_pages(engine: Engine, tmp_path: Path) -> None:
    with loaded(engine, tmp_path) as ui:
        with Session(engine) as s:
            pid, code = first_project(s)
            lines = s.execute(
                select(ActualLine.id, ActualLine.posted_on)
                .where(ActualLine.project_id == pid, ActualLine.deleted_at.is_(None))
                .order_by(ActualLine.id)
            ).all()  # fmt: skip
            moved = lines[0].id
            s.execute(update(ActualLine).where(ActualLine.id == moved)
                      .values(posted_on=date(2020, 1, 15)))  # fmt: skip
            s.execute(
                update(Project)
                .where(Project.id == pid)
                .values(
                    planned_start=min(d for _, d in lines[1:]),
                    planned_finish=max(d for _, d in lines[1:]),
                )
            )
            s.commit()
        run_reconcile(ui.app)
        with Session(engine) as s:
            v = s.scalars(
                select(Variance).where(
                    Variance.project_id == pid, Variance.dimension == "outside_dates",
                    Variance.status == "open",
                )
            ).one()  # fmt: skip
            assert v.message == f"{code}: 1 lines posted outside the project's planned dates"
        said = f"{code}: 1 line posted outside the project&#39;s planned dates"
        html = ui.client.get(f"/ui/projects/{code}").text
        block = html[html.index(f'id="variance-{v.id}"') :]
        assert said in block and not re.search(r"\b1 lines", html)
        assert "1 ledger line</summary>" in block
        page = ui.client.get(f"/ui/variances/{v.id}").text
        assert said in page and not re.search(r"\b1 lines", page)
        assert page.count("<tr><td>psa/") == 1
        listed = ui.client.get("/ui/variances?rule=data_quality").text
        assert said in listed and not re.search(r"\b1 lines", listed)


def test_a_reopened_variances_page_dates_each_reopen(
    engine: Engine, tmp_path: Path, session: Session
) -> None:
    """P1 labor to date over budget (opened at NOW), resolved and reopened twice by credits
    and rebookings, one reconcile an hour: the variance page lists each step with its time,
    "last seen" among them, and no undated line."""
    base_portfolio(session)
    run(session)
    for hour, (key, amount) in enumerate(
        (("C1", "-500.00"), ("C2", "500.00"), ("C3", "-500.00"), ("C4", "500.00")), start=1
    ):
        spend(session, key, "P1", "labor", date(2025, 10, 10 + hour), amount)
        run(session, now=NOW + timedelta(hours=hour))
    v = session.scalars(select(Variance).where(
        Variance.rule == "budget_overrun", Variance.subject_id == "P1",
        Variance.dimension == "labor", Variance.period == "")).one()  # fmt: skip
    assert (v.status, v.reopened_count) == ("open", 2)
    session.close()
    ui = build(engine, tmp_path)
    with ui.client:
        page = ui.client.get(f"/ui/variances/{v.id}").text
    ui.worker.stop(5)
    shown = [
        (what, re.sub(r"<[^>]+>", "", rest).strip())
        for what, rest in re.findall(r'<li data-event="([a-z ]+)">(.*?)</li>', page)
    ]
    assert shown == [
        ("opened", "opened 2025-10-20 12:00 UTC (medium, open)"),
        ("resolved", "resolved 2025-10-20 13:00 UTC (medium, resolved)"),
        ("reopened", "reopened 2025-10-20 14:00 UTC (medium, open)"),
        ("resolved", "resolved 2025-10-20 15:00 UTC (medium, resolved)"),
        ("reopened", "reopened 2025-10-20 16:00 UTC (medium, open)"),
        ("last seen", "last seen 2025-10-20 16:00 UTC"),
    ]


def test_reopens_from_before_the_events_are_one_undated_line() -> None:
    """A variance reopened three times, the first before migration 0015 (its reconstructed
    history dates its opening only): the two dated reopens, then "reopened once before the
    ledger kept a time for each"."""
    t = [datetime(2026, 12, d, 9, 0, tzinfo=UTC) for d in (1, 2, 3, 4, 5)]

    def event(i: int, what: str, status: str, reconstructed: bool = False) -> HistoryEntry:
        return HistoryEntry(i, what, t[i], "high", status, None, None, None, reconstructed)

    v = VarianceDetail(
        id=7, rule="budget_overrun", subject_type="project", subject_id="P", dimension="labor",
        period="2026-11", severity="high", status="open", message="m", measures=None,
        thresholds=None, first_seen_at=t[0], last_seen_at=t[4], acknowledged_at=None,
        acknowledged_by=None, resolved_at=None, escalated_at=None, reopened_count=3, note=None,
        events=[event(0, "opened", "open", True), event(1, "resolved", "resolved"),
                event(2, "reopened", "open"), event(3, "resolved", "resolved"),
                event(4, "reopened", "open")],
    )  # fmt: skip
    assert [(e.what, e.at, e.reconstructed, e.detail) for e in v.history] == [
        ("opened", t[0], True, None),
        ("resolved", t[1], False, None),
        ("reopened", t[2], False, None),
        ("resolved", t[3], False, None),
        ("reopened", t[4], False, None),
        ("last seen", t[4], False, None),
        ("reopened", None, False, "reopened once before the ledger kept a time for each"),
    ]
