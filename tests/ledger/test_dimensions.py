"""Structure, resources and progress writers (rules 1, 5, 8, 12), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine
from pmo_ledger.ledger.models import (
    HISTORY,
    UNMAPPED_ID,
    Allocation,
    Base,
    Portfolio,
    Program,
    ProgressSnapshot,
    Project,
    ProjectLink,
    Quarantine,
    ResourceCapacity,
    ResourceRate,
    Task,
    TaskDependency,
    table_of,
)
from pmo_ledger.ledger.quarantine import Held
from pmo_ledger.ledger.records import (
    AllocationRecord,
    CapacityRecord,
    DependencyRecord,
    ProgressRecord,
    ProjectRecord,
    ResourceRateRecord,
    ResourceRecord,
    TaskRecord,
)
from pmo_ledger.ledger.settings import AuthoritySettings, LedgerSettings, LinkRule
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.progress import apply_progress
from pmo_ledger.ledger.write.resources import (
    apply_allocations,
    apply_capacity,
    apply_resource_rates,
    apply_resources,
)
from pmo_ledger.ledger.write.structure import apply_projects
from pmo_ledger.ledger.write.tasks import apply_dependencies, apply_tasks

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


def ctx(session: Session, source: str = "psa", at: datetime = T0, **kw: Any) -> WriteContext:
    """A batch context where 'psa' creates projects."""
    settings = LedgerSettings(authority=AuthoritySettings(projects="psa"), **kw)
    return WriteContext(session, settings, source, recorded_at=at)


def project(external_id: str = "a1", code: str = "P1", **kw: Any) -> ProjectRecord:
    """A project record named after its code."""
    return ProjectRecord(external_id=external_id, code=code, name=f"Project {code}", **kw)


def task(external_id: str, parent: str | None = None, **kw: Any) -> TaskRecord:
    """A task of source project 'a1'."""
    return TaskRecord(
        external_id=external_id,
        project_ref="a1",
        name=f"Task {external_id}",
        parent_ref=parent,
        **kw,
    )


def load_project(session: Session, *records: ProjectRecord) -> list[Held]:
    """Apply project records from 'psa'; returns what was held."""
    held: list[Held] = []
    apply_projects(ctx(session), "projects", records, held=held)
    return held


def counts(session: Session) -> dict[str, int]:
    """Row count of every ledger table."""
    return {
        t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
        for t in Base.metadata.sorted_tables
    }


def snapshots(session: Session) -> list[tuple[Any, ...]]:
    """(project_id, task_id, status_date, percent, source) of every snapshot, in order."""
    ps = ProgressSnapshot
    rows = session.execute(
        select(ps.project_id, ps.task_id, ps.status_date, ps.percent, ps.source).order_by(ps.id)
    )
    return [tuple(r) for r in rows]


def reasons(held: list[Held]) -> dict[str | None, str]:
    """Held reason by key."""
    return {h.external_id: h.reason for h in held}


def pid(session: Session, code: str) -> int:
    """Id of the project with this code."""
    return session.execute(select(Project.id).where(Project.code == code)).scalar_one()


# --- projects --------------------------------------------------------------------------------


def test_authority_project_creates_portfolio_program_project_and_link(session: Session) -> None:
    """The projects authority creates the portfolio, program, project and its link."""
    held = load_project(
        session,
        project(portfolio="PF", portfolio_name="Growth", program="PG", currency="EUR"),
    )
    assert held == []
    pf = session.execute(select(Portfolio.id, Portfolio.name)).one()
    pg = session.execute(select(Program.name, Program.portfolio_id)).one()
    p = session.execute(select(Project).where(Project.code == "P1")).scalar_one()
    link = session.execute(select(ProjectLink)).scalar_one()
    assert tuple(pf)[1] == "Growth"
    assert tuple(pg) == ("PG", pf.id)
    assert (p.name, p.currency, p.source, p.external_id) == ("Project P1", "EUR", "psa", "a1")
    assert (p.portfolio_id, p.program_id) == (pf.id, session.execute(select(Program.id)).scalar())
    assert (link.source, link.object_type, link.external_id, link.project_id, link.origin) == (
        "psa",
        "project",
        "a1",
        p.id,
        "authority",
    )


def test_project_replay_changes_nothing(session: Session) -> None:
    """Replaying the same project records changes no row count and no updated_at."""
    records = [project(portfolio="PF", program="PG", percent_complete=Decimal("40"))]
    load_project(session, *records)
    before = counts(session)
    apply_projects(ctx(session, at=T1), "projects", records, held=[])
    assert counts(session) == before
    assert session.execute(select(Project.updated_at).where(Project.code == "P1")).scalar() == T0
    assert session.execute(select(Portfolio.updated_at)).scalar() == T0


def test_project_change_updates_the_row(session: Session) -> None:
    """A renamed project is updated in place with the batch's updated_at."""
    load_project(session, project())
    stats = apply_projects(ctx(session, at=T1), "projects", [project(manager="Ada")], held=[])
    p = session.execute(select(Project).where(Project.code == "P1")).scalar_one()
    assert (stats.written, p.manager, p.updated_at, p.created_at) == (1, "Ada", T1, T0)


def test_non_authority_project_is_held_unmapped_project(session: Session) -> None:
    """Another source's project that nothing links is held as 'unmapped_project'."""
    held: list[Held] = []
    apply_projects(ctx(session, "jira"), "projects", [project("JIRA-7", "J7")], held=held)
    assert reasons(held) == {"JIRA-7": "unmapped_project"}
    assert session.execute(select(func.count()).select_from(Project)).scalar() == 1  # UNMAPPED


def test_non_authority_project_links_by_rule(session: Session) -> None:
    """A link rule links another source's project to the ledger project its key names."""
    load_project(session, project("a1", "P-7"))
    rule = LinkRule(
        source="jira", object_type="project", pattern=r"JIRA-(?P<n>\d+)", project="P-{n}"
    )
    held: list[Held] = []
    stats = apply_projects(
        ctx(session, "jira", link_rules=[rule]), "projects", [project("JIRA-7", "J7")], held=held
    )
    link = session.execute(select(ProjectLink).where(ProjectLink.source == "jira")).scalar_one()
    assert (held, stats.written) == ([], 1)
    assert (link.external_id, link.project_id, link.origin) == (
        "JIRA-7",
        pid(session, "P-7"),
        "rule",
    )


def test_linking_resolves_the_unmapped_project_entry(session: Session) -> None:
    """Once a rule links the project, its open quarantine entry is resolved."""
    load_project(session, project("a1", "P-7"))
    held: list[Held] = []
    apply_projects(ctx(session, "jira"), "projects", [project("JIRA-7", "J7")], held=held)
    quarantine.hold(session, "jira", "projects", held, run_id=None, now=T0)
    rule = LinkRule(source="jira", pattern=r"JIRA-(?P<n>\d+)", project="P-{n}")
    apply_projects(
        ctx(session, "jira", T1, link_rules=[rule]), "projects", [project("JIRA-7", "J7")], held=[]
    )
    entry = session.execute(select(Quarantine)).scalar_one()
    assert (entry.status, entry.resolution) == ("resolved", "loaded")


def test_project_deletion_sets_deleted_at(session: Session) -> None:
    """A deleted project keeps its row with deleted_at set."""
    load_project(session, project())
    stats = apply_projects(ctx(session, at=T1), "projects", [], ["a1"], held=[])
    p = session.execute(select(Project).where(Project.code == "P1")).scalar_one()
    assert (stats.deleted, p.deleted_at) == (1, T1)


def test_invalid_project_is_held_while_the_rest_load(session: Session) -> None:
    """Bad percent, unknown currency and the reserved code are held; the good one loads."""
    held = load_project(
        session,
        project("a1", "P1", percent_complete=Decimal("101")),
        project("a2", "P2", currency="ZZZ"),
        project("a3", "UNMAPPED"),
        project("a4", "P4"),
    )
    assert reasons(held) == {"a1": "bad_percent", "a2": "unknown_currency", "a3": "reserved_code"}
    codes = set(session.execute(select(Project.code)).scalars())
    assert codes == {"UNMAPPED", "P4"}


def test_project_progress_snapshot_only_on_change(session: Session) -> None:
    """40% then 40% again then 55% appends two project snapshots."""
    day = date(2025, 2, 28)
    load_project(session, project(percent_complete=Decimal("40"), status_date=day))
    apply_projects(
        ctx(session, at=T1),
        "projects",
        [project(percent_complete=Decimal("40"), status_date=day + timedelta(days=1))],
        held=[],
    )
    apply_projects(
        ctx(session, at=T1),
        "projects",
        [project(percent_complete=Decimal("55"), status_date=day + timedelta(days=2))],
        held=[],
    )
    p1 = pid(session, "P1")
    assert snapshots(session) == [
        (p1, None, day, Decimal("40.0000"), "psa"),
        (p1, None, date(2025, 3, 2), Decimal("55.0000"), "psa"),
    ]


def test_project_snapshot_defaults_to_the_batch_date(session: Session) -> None:
    """Without a status date the snapshot is dated the batch's recorded_at date."""
    load_project(session, project(percent_complete=Decimal("10")))
    assert snapshots(session)[0][2] == date(2025, 3, 1)


# --- tasks and dependencies ------------------------------------------------------------------


def test_task_parent_resolved_when_parent_comes_later_in_the_batch(session: Session) -> None:
    """A child listed before its parent gets the parent's id."""
    load_project(session, project())
    held: list[Held] = []
    apply_tasks(ctx(session), "tasks", [task("t2", parent="t1"), task("t1")], held=held)
    ids = dict(session.execute(select(Task.external_id, Task.id)).all())
    parent = session.execute(select(Task.parent_id).where(Task.external_id == "t2")).scalar()
    assert (held, parent) == ([], ids["t1"])


def test_task_with_missing_parent_loads_and_is_held(session: Session) -> None:
    """A parent not yet known leaves parent_id NULL and holds 'unknown_parent'."""
    load_project(session, project())
    held: list[Held] = []
    apply_tasks(ctx(session), "tasks", [task("t2", parent="t9")], held=held)
    parent = session.execute(select(Task.parent_id).where(Task.external_id == "t2")).one()
    assert (reasons(held), parent[0]) == ({"t2": "unknown_parent"}, None)


def test_replayed_task_picks_up_a_parent_that_arrived_since(session: Session) -> None:
    """Re-applying an unchanged child after its parent loaded sets parent_id."""
    load_project(session, project())
    apply_tasks(ctx(session), "tasks", [task("t2", parent="t1")], held=[])
    apply_tasks(ctx(session, at=T1), "tasks", [task("t1")], held=[])
    held: list[Held] = []
    stats = apply_tasks(ctx(session, at=T1), "tasks", [task("t2", parent="t1")], held=held)
    ids = dict(session.execute(select(Task.external_id, Task.parent_id)).all())
    t1 = session.execute(select(Task.id).where(Task.external_id == "t1")).scalar()
    assert (held, stats.unchanged, ids["t2"]) == ([], 1, t1)


def task_versions(session: Session, external_id: str) -> list[tuple[Any, ...]]:
    """(operation, parent external id, recorded_at) of a task's history versions, in order."""
    h, t = HISTORY["task"], table_of(Task).alias("parent")
    rows = session.execute(
        select(h.c.operation, t.c.external_id, h.c.recorded_at)
        .outerjoin(t, t.c.id == h.c.parent_id)
        .where(h.c.external_id == external_id)
        .order_by(h.c.history_id)
    )
    return [tuple(r) for r in rows]


def test_a_parent_set_later_is_a_task_version_at_that_batchs_time(session: Session) -> None:
    """An unchanged child whose parent arrived since gets it with the batch's updated_at, and
    its history version is recorded at the batch's time, not the database's clock."""
    load_project(session, project())
    apply_tasks(ctx(session), "tasks", [task("t2", parent="t1")], held=[])
    apply_tasks(ctx(session, at=T1), "tasks", [task("t1")], held=[])
    apply_tasks(ctx(session, at=T1), "tasks", [task("t2", parent="t1")], held=[])
    updated = session.execute(select(Task.updated_at).where(Task.external_id == "t2")).scalar()
    assert (updated, task_versions(session, "t2")) == (T1, [("I", None, T0), ("U", "t1", T1)])


def test_a_parent_pass_that_changes_no_parent_touches_no_task(session: Session) -> None:
    """A child replayed while its parent is still missing, and a changed child whose parent
    stays, get no version from the parent pass (nor updated_at, for the first)."""
    load_project(session, project())
    apply_tasks(ctx(session), "tasks", [task("t1"), task("t2", parent="t1")], held=[])
    apply_tasks(ctx(session), "tasks", [task("t3", parent="t9")], held=[])
    before = task_versions(session, "t2")
    renamed = task("t2", parent="t1", wbs_code="1.2")
    apply_tasks(ctx(session, at=T1), "tasks", [renamed, task("t3", parent="t9")], held=[])
    updated = dict(session.execute(select(Task.external_id, Task.updated_at)).all())
    assert (updated["t2"], updated["t3"]) == (T1, T0)
    # one version (the change's) whatever its time: the insert's parent pass stamped t2's
    # last version with the database clock, later than T1
    assert [v[:2] for v in task_versions(session, "t2")] == [*(v[:2] for v in before), ("U", "t1")]
    assert task_versions(session, "t3") == [("I", None, T0)]


def test_unmapped_task_loads_under_unmapped_and_is_held(session: Session) -> None:
    """A task whose project resolves nowhere loads under UNMAPPED with an 'unmapped' entry."""
    held: list[Held] = []
    apply_tasks(ctx(session), "tasks", [task("t1")], held=held)
    project_id = session.execute(select(Task.project_id)).scalar()
    assert (reasons(held), project_id) == ({"t1": "unmapped"}, UNMAPPED_ID)


def test_task_replay_changes_nothing(session: Session) -> None:
    """Replaying tasks changes no row count and no updated_at."""
    load_project(session, project())
    batch = [task("t1", percent_complete=Decimal("20")), task("t2", parent="t1")]
    apply_tasks(ctx(session), "tasks", batch, held=[])
    before = counts(session)
    stats = apply_tasks(ctx(session, at=T1), "tasks", batch, held=[])
    assert counts(session) == before
    assert (stats.written, stats.unchanged) == (0, 2)
    assert set(session.execute(select(Task.updated_at)).scalars()) == {T0}


def test_task_percent_change_appends_a_task_snapshot(session: Session) -> None:
    """20% then 35% on a task appends two snapshots with its task id."""
    load_project(session, project())
    day = date(2025, 2, 1)
    apply_tasks(
        ctx(session),
        "tasks",
        [task("t1", percent_complete=Decimal("20"), status_date=day)],
        held=[],
    )
    apply_tasks(
        ctx(session, at=T1),
        "tasks",
        [task("t1", percent_complete=Decimal("35"), status_date=day + timedelta(days=7))],
        held=[],
    )
    t1 = session.execute(select(Task.id)).scalar()
    p1 = pid(session, "P1")
    assert snapshots(session) == [
        (p1, t1, day, Decimal("20.0000"), "psa"),
        (p1, t1, date(2025, 2, 8), Decimal("35.0000"), "psa"),
    ]


def test_task_deletion_sets_deleted_at(session: Session) -> None:
    """A deleted task keeps its row with deleted_at set."""
    load_project(session, project())
    apply_tasks(ctx(session), "tasks", [task("t1")], held=[])
    stats = apply_tasks(ctx(session, at=T1), "tasks", [], ["t1"], held=[])
    assert (stats.deleted, session.execute(select(Task.deleted_at)).scalar()) == (1, T1)


def test_dependency_links_two_tasks(session: Session) -> None:
    """An SS dependency with 2 days lag joins the two tasks."""
    load_project(session, project())
    apply_tasks(ctx(session), "tasks", [task("t1"), task("t2")], held=[])
    dep = DependencyRecord(
        external_id="d1",
        predecessor_ref="t1",
        successor_ref="t2",
        dependency_type="SS",
        lag_days=Decimal("2"),
    )
    apply_dependencies(ctx(session), "deps", [dep], held=[])
    ids = dict(session.execute(select(Task.external_id, Task.id)).all())
    row = session.execute(select(TaskDependency)).scalar_one()
    assert (row.predecessor_id, row.successor_id, row.dependency_type, row.lag_days) == (
        ids["t1"],
        ids["t2"],
        "SS",
        Decimal("2.0000"),
    )


def test_dependency_on_unknown_task_is_held(session: Session) -> None:
    """A dependency naming a task the source never sent is held 'unknown_task'."""
    load_project(session, project())
    apply_tasks(ctx(session), "tasks", [task("t1")], held=[])
    held: list[Held] = []
    dep = DependencyRecord(external_id="d1", predecessor_ref="t1", successor_ref="t9")
    apply_dependencies(ctx(session), "deps", [dep], held=held)
    assert reasons(held) == {"d1": "unknown_task"}
    assert session.execute(select(func.count()).select_from(TaskDependency)).scalar() == 0


# --- resources -------------------------------------------------------------------------------


def resource(session: Session, external_id: str = "r1") -> None:
    """A resource of 'psa'."""
    apply_resources(
        ctx(session), "resources", [ResourceRecord(external_id=external_id, name="Ada")], held=[]
    )


def test_resource_rates_validated_while_the_rest_load(session: Session) -> None:
    """Unknown currency, zero rate and unknown resource are held; the role rate loads."""
    resource(session)

    def rate(ext: str, **kw: Any) -> ResourceRateRecord:
        values: dict[str, Any] = {"effective_from": date(2025, 1, 1), "cost_rate": Decimal("95.5")}
        values.update({"currency": "USD", "resource_ref": "r1"} | kw)
        return ResourceRateRecord(external_id=ext, **values)

    held: list[Held] = []
    stats = apply_resource_rates(
        ctx(session),
        "rates",
        [
            rate("x1", currency="ZZZ"),
            rate("x2", cost_rate=Decimal(0)),
            rate("x3", resource_ref="r9"),
            rate("x4", resource_ref=None, role="Engineer"),
        ],
        held=held,
    )
    assert reasons(held) == {"x1": "unknown_currency", "x2": "bad_rate", "x3": "unknown_resource"}
    row = session.execute(select(ResourceRate)).scalar_one()
    assert (stats.written, row.role, row.resource_id, row.cost_rate) == (
        1,
        "Engineer",
        None,
        Decimal("95.50000000"),
    )


def test_capacity_upserts_by_resource_and_period(session: Session) -> None:
    """A second capacity for the same resource and period replaces the hours."""
    resource(session)
    apply_capacity(
        ctx(session),
        "cap",
        [CapacityRecord(resource_ref="r1", period="2025-03", hours=Decimal("160"))],
        held=[],
    )
    apply_capacity(
        ctx(session, at=T1),
        "cap",
        [CapacityRecord(resource_ref="r1", period="2025-03", hours=Decimal("120"))],
        held=[],
    )
    rows = session.execute(select(ResourceCapacity.period, ResourceCapacity.hours)).all()
    assert [tuple(r) for r in rows] == [("2025-03", Decimal("120.0000"))]


def test_allocations_are_keyed_by_period_and_unmapped_load_under_unmapped(session: Session) -> None:
    """Two periods of one allocation are two rows; an unknown project loads under UNMAPPED."""
    load_project(session, project())
    resource(session)

    def alloc(period: str, ref: str = "a1") -> AllocationRecord:
        return AllocationRecord(
            external_id=f"al-{ref}",
            project_ref=ref,
            period=period,
            planned_hours=Decimal("40"),
            resource_ref="r1",
        )

    held: list[Held] = []
    apply_allocations(
        ctx(session),
        "alloc",
        [alloc("2025-03"), alloc("2025-04"), alloc("2025-03", "zz")],
        held=held,
    )
    rows = session.execute(
        select(Allocation.external_id, Allocation.period, Allocation.project_id).order_by(
            Allocation.id
        )
    ).all()
    assert reasons(held) == {"al-zz@2025-03": "unmapped"}
    p1 = pid(session, "P1")
    assert [tuple(r) for r in rows] == [
        ("al-a1", "2025-03", p1),
        ("al-a1", "2025-04", p1),
        ("al-zz", "2025-03", UNMAPPED_ID),
    ]


@pytest.mark.parametrize("whole", [False, True])
def test_a_batch_closes_the_periods_it_no_longer_lists_only_for_whole_allocations(
    session: Session, whole: bool
) -> None:
    """al-a1 has 2025-03 and 2025-04; a later batch sends only 2025-05. A source that sends
    one period at a time (the sample, Salesforce) keeps 03 and 04 live; one that sends an
    allocation's periods together (`whole`: Workfront, whose task moved) closes them."""
    load_project(session, project())
    resource(session)

    def alloc(period: str) -> AllocationRecord:
        return AllocationRecord(external_id="al-a1", project_ref="a1", period=period,
                                planned_hours=Decimal("40"), resource_ref="r1", whole=whole)  # fmt: skip

    apply_allocations(ctx(session), "alloc", [alloc("2025-03"), alloc("2025-04")], held=[])
    apply_allocations(ctx(session, at=T1), "alloc", [alloc("2025-05")], held=[])
    live = session.execute(
        select(Allocation.period).where(Allocation.deleted_at.is_(None)).order_by(Allocation.period)
    ).scalars()
    assert list(live) == (["2025-05"] if whole else ["2025-03", "2025-04", "2025-05"])


# --- progress --------------------------------------------------------------------------------


def test_progress_records_append_only_changes(session: Session) -> None:
    """Replaying dated progress appends nothing; a bad percent is held 'bad_percent'."""
    load_project(session, project())
    batch = [
        ProgressRecord(project_ref="a1", status_date=date(2025, 1, 31), percent=Decimal("10")),
        ProgressRecord(project_ref="a1", status_date=date(2025, 2, 28), percent=Decimal("10")),
        ProgressRecord(project_ref="a1", status_date=date(2025, 3, 31), percent=Decimal("30")),
    ]
    bad = ProgressRecord(project_ref="a1", status_date=date(2025, 4, 30), percent=Decimal("120"))
    held: list[Held] = []
    apply_progress(ctx(session), "progress", [*batch, bad], held=held)
    apply_progress(ctx(session, at=T1), "progress", batch, held=[])
    assert reasons(held) == {bad.external_id: "bad_percent"}
    assert [(s[2], s[3]) for s in snapshots(session)] == [
        (date(2025, 1, 31), Decimal("10.0000")),
        (date(2025, 3, 31), Decimal("30.0000")),
    ]
