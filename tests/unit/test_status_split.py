"""ledger.queries.status._split: one read of many projects' tasks, cut into what `plan_data` of
each project alone gives (its tasks, the links touching them, the other ends' projects)."""

from __future__ import annotations

from pmo_ledger.ledger.planning.model import PlanLink, PlanTask
from pmo_ledger.ledger.queries.planning import PlanData
from pmo_ledger.ledger.queries.status import _split


def test_split_keeps_cross_project_links_on_both_sides() -> None:
    tasks = [PlanTask("A1", "a1", "P-A"), PlanTask("A2", "a2", "P-A"), PlanTask("B1", "b1", "P-B")]
    inside = PlanLink("A1", "A2")
    across = PlanLink("A2", "B1")
    beyond = PlanLink("X9", "B1")  # X9: a task of a project that was not read
    data = PlanData([], tasks, [inside, across, beyond], outside_projects={"X9": "P-X"})
    split = _split(data)
    assert set(split) == {"P-A", "P-B"}
    a_tasks, a_links, a_outside = split["P-A"]
    assert [t.key for t in a_tasks] == ["A1", "A2"]
    assert a_links == [inside, across] and a_outside == {"B1": "P-B"}
    b_tasks, b_links, b_outside = split["P-B"]
    assert [t.key for t in b_tasks] == ["B1"]
    assert b_links == [across, beyond] and b_outside == {"A2": "P-A", "X9": "P-X"}
