"""Predecessors and assignments deleted in Workfront leave the ledger: those streams are read
in full every run and remember the IDs they listed (the kit's listing, in a token), so the
next run deletes what Workfront no longer lists (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import Allocation, Project, Task, TaskDependency
from pmo_ledger.ledger.planning.model import PlanLink
from pmo_ledger.ledger.queries.planning import plan_data
from tests.connectors.workfront.account import Account, wf_app


def _links(app: object, code: str) -> list[PlanLink]:
    with app.reading() as s:  # type: ignore[attr-defined]
        return plan_data(s, [code], None).links


def test_a_deleted_predecessor_and_assignment_leave_the_ledger_and_the_plan(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """After a predecessor and an assignment are deleted in Workfront, the next run sets
    deleted_at on that task_dependency row and on every period of that allocation, leaves
    the others live, and the project's plan no longer has the link."""
    app = wf_app(engine, tmp_path, account)
    first = run_sync(app, "wf")
    assert first.status == "succeeded", first.message
    link = next(r for r in account.store.rows("PRED") if r["ID"] != account.seed.cross_project_link)
    before, after = str(link["predecessorID"]), str(link["successorID"])
    assignment = str(account.store.rows("ASSGN")[0]["ID"])
    with app.reading() as s:
        code = s.scalar(
            select(Project.code).join(Task, Task.project_id == Project.id)
            .where(Task.external_id == before)
        )  # fmt: skip
        periods = s.scalars(
            select(Allocation.period).where(
                Allocation.external_id == assignment, Allocation.deleted_at.is_(None)
            )
        ).all()
    assert code is not None and periods
    planned = _links(app, code)
    assert (before, after) in {(x.predecessor, x.successor) for x in planned}

    account.server.delete_predecessor(str(link["ID"]))
    account.server.delete_assignment(assignment)
    second = run_sync(app, "wf")
    assert second.status == "succeeded", second.message

    with app.reading() as s:
        links = dict(
            s.execute(select(TaskDependency.external_id, TaskDependency.deleted_at)).tuples().all()
        )
        allocations = s.execute(
            select(Allocation.external_id, Allocation.period, Allocation.deleted_at)
        ).all()
    assert links[str(link["ID"])] is not None
    assert [k for k, gone in links.items() if gone is not None] == [str(link["ID"])]
    assert sorted(p for e, p, gone in allocations if e == assignment and gone) == sorted(periods)
    assert {e for e, _, gone in allocations if gone is not None} == {assignment}
    remaining = _links(app, code)
    assert len(remaining) == len(planned) - 1
    assert (before, after) not in {(x.predecessor, x.successor) for x in remaining}
