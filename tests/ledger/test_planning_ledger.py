"""Planning fed by the ledger: the sample connector's tasks, links, estimates and progress as
the writer loaded them, a late team's history, links across projects, a cycle, and the
S-curve's earned value, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.ledger.models import ProjectLink
from pmo_ledger.ledger.planning.calendar import WorkCalendar
from pmo_ledger.ledger.planning.cpm import schedule
from pmo_ledger.ledger.planning.history import history_scale
from pmo_ledger.ledger.planning.model import CycleError
from pmo_ledger.ledger.planning.montecarlo import simulate
from pmo_ledger.ledger.planning.pert import pert
from pmo_ledger.ledger.queries.planning import (
    earned_value_curve,
    history_levels,
    plan_data,
    plan_project,
)
from pmo_ledger.ledger.reconcile.context import RuleContext, load_projects, period_of
from pmo_ledger.ledger.reconcile.evm_rules import evm_rows
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.records import DependencyRecord, ProjectRecord, Record, TaskRecord
from tests.builders import load, settings, sole_authority

D = Decimal
STATUS = date(2025, 12, 31)  # the sample world's status date (default settings)
STREAMS = ("fx_rates", "projects", "tasks", "dependencies", "budgets", "actuals", "progress")
SAMPLE_CFG = settings(authority=sole_authority("sample"), rate_sources=["sample"])


def load_sample(session: Session) -> None:
    """The default sample world's streams through the writer, as a sync applies them."""
    conn = SampleConnector(SampleSettings(), ConnectorContext("sample"))
    for stream in STREAMS:
        for page in conn.extract(stream, ReadRequest(cursor=None, scope=None)):
            load(
                session,
                page.records,
                source="sample",
                stream=stream,
                cfg=SAMPLE_CFG,
                deletion_kind=conn.streams[stream].deletes,
            )


def test_the_sample_loads_every_link_type_and_the_estimates(session: Session) -> None:
    """PRJ-0010: 12 tasks (4 phases of 2 leaves), 10 links: the FS chain with its SS, the FF,
    the SF and the lead; every leaf has O <= M <= P; Testing is 18% done on 31 December."""
    load_sample(session)
    data = plan_data(session, ["PRJ-0010"], STATUS)
    assert len(data.tasks) == 12 and data.outside_projects == {}
    assert Counter(lk.type for lk in data.links) == {"FS": 7, "SS": 1, "FF": 1, "SF": 1}
    lead = next(lk for lk in data.links if lk.lag < 0)
    assert (lead.predecessor, lead.successor, lead.type) == ("PRJ-0010.T05", "PRJ-0010.T08", "FS")
    leaves = [t for t in data.tasks if t.parent is not None]
    assert len(leaves) == 8
    assert all(t.optimistic <= t.most_likely <= t.pessimistic for t in leaves)  # type: ignore[operator]
    testing = next(t for t in data.tasks if t.key == "PRJ-0010.T11")
    assert (testing.percent, testing.most_likely, testing.actual_start) == (
        D("18.00"),
        D("35.00"),
        date(2025, 12, 22),
    )


def test_the_sample_project_is_scheduled_from_the_ledger(session: Session) -> None:
    """Testing: 35 days, 18% done: 28.7 remain from Thursday 1 January 2026 (day 0), ending on
    day 28, Tuesday 10 February. Go-live (35 days) follows it (FS) from mid-day 28 to day 63,
    Tuesday 31 March. Everything before is done; the two are the critical path."""
    load_sample(session)
    data = plan_data(session, ["PRJ-0010"], STATUS)
    s = schedule(data.tasks, data.links, WorkCalendar(), status_date=STATUS, start=data.start)
    t11, t12 = s.row("PRJ-0010.T11"), s.row("PRJ-0010.T12")
    assert (t11.state, t11.duration, t11.early_finish) == ("started", D("28.70"), date(2026, 2, 10))
    assert (t12.state, t12.early_start, t12.early_finish) == (
        "open",
        date(2026, 2, 10),
        date(2026, 3, 31),
    )
    assert s.finish == date(2026, 3, 31)
    assert s.critical_paths == [["PRJ-0010.T11", "PRJ-0010.T12"]]
    assert sum(r.state == "done" for r in s.rows if not r.summary) == 6
    assert pert(s.network).without_estimates == 0


def _late_team(prefix: str = "P1") -> list[Record]:
    """Project P1 (program PG1): five finished tasks planned for 10 working days (two weeks
    from a Monday) that took 12 (to the Tuesday of the third week), then A -> B, certain 10-day
    tasks not started."""
    recs: list[Record] = [
        ProjectRecord(
            external_id=prefix,
            code=prefix,
            name=f"Project {prefix}",
            program="PG1",
            portfolio="PF1",
            planned_start=date(2025, 1, 6),
        )
    ]
    monday = date(2025, 1, 6)
    for i in range(5):
        start = monday + timedelta(weeks=3 * i)
        recs.append(
            TaskRecord(
                external_id=f"{prefix}.H{i}",
                project_ref=prefix,
                name=f"Done {i}",
                planned_start=start,
                planned_finish=start + timedelta(days=11),
                actual_start=start,
                actual_finish=start + timedelta(days=15),
                percent_complete=D(100),
            )
        )
    for key in ("A", "B"):
        recs.append(
            TaskRecord(
                external_id=f"{prefix}.{key}",
                project_ref=prefix,
                name=key,
                optimistic_days=D(10),
                most_likely_days=D(10),
                pessimistic_days=D(10),
            )
        )
    return recs


def test_a_late_team_in_the_ledger_is_forecast_late(session: Session) -> None:
    """Each finished task of P1 took 12 working days for 10 planned: ratio 1.2. A -> B
    (10 + 10 certain days) then finishes 24 working days after the status date in every
    iteration, instead of 20 (Monday 28 July: 20 working days from Tuesday 1 July)."""
    recs = _late_team()
    load(session, recs[:1], stream="projects")
    load(session, recs[1:], stream="tasks")
    load(
        session,
        [DependencyRecord(external_id="P1.D1", predecessor_ref="P1.A", successor_ref="P1.B")],
        stream="dependencies",
    )
    status = date(2025, 6, 30)
    project = plan_project(session, "P1")
    levels = history_levels(session, project, status)
    assert [(lv.level, lv.code, len(lv.finished)) for lv in levels] == [
        ("project", "P1", 5),
        ("program", "PG1", 5),
        ("portfolio", "PF1", 5),
    ]
    scale = history_scale(levels, WorkCalendar(), 5)
    assert scale is not None and (scale.level, scale.ratios) == ("project", (1.2,) * 5)
    data = plan_data(session, ["P1"], status)
    s = schedule(data.tasks, data.links, WorkCalendar(), status_date=status, start=data.start)
    late = simulate(s.network, 500, seed=4, history=scale)
    plain = simulate(s.network, 500, seed=4)
    assert round(late.mean_days - plain.mean_days, 6) == 4.0
    assert plain.percentiles[0.5] == s.finish == date(2025, 7, 28)


def test_a_link_to_another_project_is_reported_then_honoured(session: Session) -> None:
    """P2.X (5 days) must finish before P1.A starts: planning P1 alone reports the link with
    P2's code; planning both honours it (A starts on day 5)."""
    load(
        session,
        [
            ProjectRecord(external_id=c, code=c, name=c, planned_start=date(2025, 1, 6))
            for c in ("P1", "P2")
        ],
        stream="projects",
    )
    load(
        session,
        [
            TaskRecord(external_id="P1.A", project_ref="P1", name="A", most_likely_days=D(3)),
            TaskRecord(external_id="P2.X", project_ref="P2", name="X", most_likely_days=D(5)),
        ],
        stream="tasks",
    )
    load(
        session,
        [DependencyRecord(external_id="L1", predecessor_ref="P2.X", successor_ref="P1.A")],
        stream="dependencies",
    )
    alone = plan_data(session, ["P1"], None)
    s = schedule(
        alone.tasks, alone.links, start=alone.start, outside_projects=alone.outside_projects
    )
    assert [(o.missing, o.project) for o in s.outside] == [("P2.X", "P2")]
    assert s.row("P1.A").es == 0
    both = plan_data(session, ["P1", "P2"], None)
    s2 = schedule(both.tasks, both.links, start=both.start)
    assert (s2.outside, s2.row("P1.A").es, s2.finish) == ([], 500, date(2025, 1, 15))


def _one_day_tasks(
    session: Session, keys: tuple[str, ...], links: tuple[tuple[str, str], ...]
) -> None:
    """Project P1 with one-day tasks `keys` ("Task A", ...) and FS `links` between them."""
    load(
        session,
        [ProjectRecord(external_id="P1", code="P1", name="P1", planned_start=date(2025, 1, 6))],
        stream="projects",
    )
    load(
        session,
        [
            TaskRecord(external_id=k, project_ref="P1", name=f"Task {k}", most_likely_days=D(1))
            for k in keys
        ],
        stream="tasks",
    )
    load(
        session,
        [
            DependencyRecord(external_id=f"L{p}", predecessor_ref=p, successor_ref=s)
            for p, s in links
        ],
        stream="dependencies",
    )


def test_a_cycle_loaded_from_a_source_is_a_clear_error(session: Session) -> None:
    """A source sent A -> B and B -> A: the plan names both tasks."""
    _one_day_tasks(session, ("A", "B"), (("A", "B"), ("B", "A")))
    data = plan_data(session, ["P1"], None)
    with pytest.raises(CycleError, match=r"a cycle: A \(Task A\) -> B \(Task B\) -> A"):
        schedule(data.tasks, data.links, start=data.start)
    with pytest.raises(LookupError, match="no project 'NOPE'"):
        plan_data(session, ["NOPE"], None)


def test_the_s_curve_carries_the_ledgers_earned_value(session: Session) -> None:
    """PRJ-0010 (March 2025 - March 2026) at 31 December: 13 monthly periods; PV ends at BAC;
    EV and AC stop at 2025-12 and there equal `forecast_overrun`'s figures at the status date;
    each period's figures are those at its end."""
    load_sample(session)
    project = plan_project(session, "PRJ-0010")
    rules = ReconcileRules()
    curve = earned_value_curve(session, SAMPLE_CFG, rules, project, STATUS)
    assert [p.period for p in curve.periods][0::12] == ["2025-03", "2026-03"]
    assert len(curve.periods) == 13 and curve.periods[-1].pv == curve.bac
    past = [p for p in curve.periods if p.ev is not None]
    assert past[-1].period == "2025-12" and len(past) == 10
    current, closed = period_of(session, SAMPLE_CFG.calendar, STATUS)
    ctx = RuleContext(
        session,
        SAMPLE_CFG,
        rules,
        STATUS,
        current,
        closed,
        None,
        project.id,
        load_projects(session, project.id),
    )
    evm = evm_rows(ctx)[project.id]
    assert (past[-1].pv, past[-1].ev, past[-1].ac, curve.bac, curve.eac) == (
        evm.pv,
        evm.ev,
        evm.ac,
        evm.bac,
        evm.eac("cpi"),
    )
    assert all(a.pv <= b.pv for a, b in zip(curve.periods, curve.periods[1:], strict=False))
    assert all(p.ac is not None and p.ac > 0 for p in past)


def _two_sources(session: Session) -> None:
    """P1 from the PSA (the projects authority): A (3 days) -> B (3 days); the ERP's copy of
    the same project: A (10 days) -> B (10 days), under the same external ids."""
    load(
        session,
        [ProjectRecord(external_id="P1", code="P1", name="P1", planned_start=date(2025, 1, 6))],
        stream="projects",
    )
    now = datetime(2025, 1, 1, tzinfo=UTC)
    session.execute(
        ProjectLink.__table__.insert().values(
            source="erp",
            object_type="project",
            external_id="P1",
            project_id=plan_project(session, "P1").id,
            origin="manual",
            created_at=now,
            updated_at=now,
        )
    )
    for src, days in (("psa", D(3)), ("erp", D(10))):
        load(
            session,
            [
                TaskRecord(external_id=k, project_ref="P1", name=k, most_likely_days=days)
                for k in ("A", "B")
            ],
            source=src,
            stream="tasks",
        )
        load(
            session,
            [DependencyRecord(external_id="L1", predecessor_ref="A", successor_ref="B")],
            source=src,
            stream="dependencies",
        )


def test_one_sources_copy_of_a_project_is_scheduled(session: Session) -> None:
    """Two sources sent P1's tasks: the authority's (psa) two are scheduled, A -> B in 6
    days, once; the ERP's two are reported as not scheduled. `source="erp"` schedules the
    ERP's instead (20 days); with no authority and no source, the choice is refused."""
    _two_sources(session)
    data = plan_data(session, ["P1"], None, authority="psa")
    assert sorted(t.key for t in data.tasks) == ["A", "B"]
    assert [(lk.predecessor, lk.successor) for lk in data.links] == [("A", "B")]
    assert (data.sources, data.not_scheduled) == ({"P1": "psa"}, {"P1": {"erp": 2}})
    s = schedule(data.tasks, data.links, start=data.start)
    assert (s.finish_offset, s.critical_paths) == (600, [["A", "B"]])
    erp = plan_data(session, ["P1"], None, authority="psa", source="erp")
    assert sorted(t.most_likely for t in erp.tasks) == [D(10), D(10)]
    assert erp.not_scheduled == {"P1": {"psa": 2}}
    assert schedule(erp.tasks, erp.links, start=erp.start).finish_offset == 2000
    with pytest.raises(LookupError, match="P1 has tasks from erp, psa: choose one with --source"):
        plan_data(session, ["P1"], None)
    with pytest.raises(LookupError, match="P1 has no tasks from source 'crm'"):
        plan_data(session, ["P1"], None, authority="psa", source="crm")


def test_a_link_to_a_deleted_task_is_left_out(session: Session) -> None:
    """P1: A -> B -> C; the source then deletes C (its link B -> C stays live in the ledger):
    the plan schedules A -> B with no link reported as not honoured."""
    _one_day_tasks(session, ("A", "B", "C"), (("A", "B"), ("B", "C")))
    load(session, deletions=["C"], stream="tasks", deletion_kind="task")
    data = plan_data(session, ["P1"], None)
    assert sorted(t.key for t in data.tasks) == ["A", "B"]
    assert [(lk.predecessor, lk.successor) for lk in data.links] == [("A", "B")]
    s = schedule(data.tasks, data.links, start=data.start, outside_projects=data.outside_projects)
    assert (s.outside, s.finish_offset) == ([], 200)


def test_the_s_curve_measures_this_periods_ev_at_the_status_date(session: Session) -> None:
    """At 15 December 2025 the period 2025-12 (ending 31 December) has EV and AC measured on
    15 December, the earlier periods at their ends, the later ones none."""
    load_sample(session)
    project = plan_project(session, "PRJ-0010")
    day = date(2025, 12, 15)
    curve = earned_value_curve(session, SAMPLE_CFG, ReconcileRules(), project, day)
    by = {p.period: p for p in curve.periods}
    assert (by["2025-12"].end_on, by["2025-12"].as_of) == (date(2025, 12, 31), day)
    assert by["2025-11"].as_of == by["2025-11"].end_on == date(2025, 11, 30)
    assert by["2026-01"].ev is None and curve.currency == "USD"
