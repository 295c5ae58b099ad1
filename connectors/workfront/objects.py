"""The Workfront connector's streams: the object each reads, the fields it asks for (`fields=`
replaces Workfront's default list, so every field used is named), how a row is normalized,
what else it needs to know, what its deletions remove and what counts.

Streams with `lastUpdateDate` read incrementally (`lastUpdateDate=<ISO>&lastUpdateDate_Mod=
gte`); the others (predecessors, assignments, rates) are small and read in full every run.
Workfront deletes predecessors and assignments outright and documents no journal of them, so
those two streams remember the IDs each read listed (`listed`: the kit's listing, in a token
checkpoint) and delete what the next read no longer lists.
Hours and expenses are the actual streams: Workfront deletes them outright, so their deletions
come from the journal or from a full listing (`deletes`), and a re-sync of one project reads
that project's rows as a scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pmo_ledger.connectors.base import StreamSpec
from pmo_ledger.connectors.workfront import normalize as n
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings

_STAMP = ("ID", "lastUpdateDate")


@dataclass(frozen=True)
class ObjectStream:
    """One stream over one Workfront object (two for the rates)."""

    spec: StreamSpec
    objs: tuple[str, ...]
    fields: tuple[str, ...]
    normalize: Callable[..., Any]
    #: The object has lastUpdateDate: an incremental read filters on it.
    incremental: bool = True
    #: An actual stream: the journal's subObjCode of its deletions (HOUR, EXPNS).
    journal: str | None = None
    #: A full read every run whose deletions are the IDs the last read listed and this one
    #: does not (`connectors.kit.listing`; the checkpoint is the token of those IDs).
    listed: bool = False
    #: Lookups the rows need: "projects" (currency and key of each), "hierarchy" (portfolio and
    #: program names), "tasks" (planned dates and project of each task).
    needs: frozenset[str] = frozenset()
    #: Control totals: the field summed per project (`report ..._AggFunc=sum`).
    amount: str | None = None
    hours: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def fields_with(self, settings: WorkfrontSettings) -> tuple[str, ...]:
        """The fields to ask for: a PROJ stream also reads the `project_key` field, the tasks
        the three-point duration fields configured."""
        extra: list[str | None] = []
        if self.objs == ("PROJ",):
            extra.append(settings.project_key)
        if self.objs == ("TASK",):
            extra += [settings.optimistic_field, settings.pessimistic_field]
        return tuple(dict.fromkeys([*self.fields, *(f for f in extra if f)]))


def _spec(name: str, deletes: str, external_id: str, **kw: Any) -> StreamSpec:
    return StreamSpec(name, "timestamp", deletes, external_id, **kw)


def _listed(name: str, deletes: str, external_id: str, **kw: Any) -> StreamSpec:
    return StreamSpec(name, "token", deletes, external_id, **kw)


STREAMS: dict[str, ObjectStream] = {
    s.name: s
    for s in (
        ObjectStream(
            _spec("users", "resource", "<USER.ID>"),
            ("USER",),
            (*_STAMP, "name", "emailAddr", "roleID", "isActive"),
            n.user,
        ),
        ObjectStream(
            _spec(
                "rates",
                "resource_rate",
                "USER/<USER.ID> and ROLE/<ROLE.ID>",
                counts="USER and ROLE costPerHour, from rates_from",
                after=("users",),
            ),
            ("USER", "ROLE"),
            (*_STAMP, "costPerHour"),
            n.rate,
            incremental=False,
        ),
        ObjectStream(
            _spec("projects", "project", "<PROJ.ID>"),
            ("PROJ",),
            (
                *_STAMP,
                "name",
                "referenceNumber",
                "status",
                "condition",
                "currency",
                "portfolioID",
                "programID",
                "plannedStartDate",
                "plannedCompletionDate",
                "actualStartDate",
                "actualCompletionDate",
                "percentComplete",
            ),
            n.project,
            needs=frozenset({"hierarchy"}),
        ),
        ObjectStream(
            _spec(
                "budgets",
                "budget",
                "<PROJ.ID>/current; line <PROJ.ID>/budget",
                counts="PROJ budget, the project's current cost budget",
                after=("projects",),
            ),
            ("PROJ",),
            (*_STAMP, "budget", "currency", "plannedStartDate", "plannedCompletionDate"),
            n.budget,
        ),
        ObjectStream(
            _spec("tasks", "task", "<TASK.ID>", after=("projects",)),
            ("TASK",),
            (
                *_STAMP,
                "name",
                "projectID",
                "parentID",
                "wbs",
                "taskNumber",
                "plannedStartDate",
                "plannedCompletionDate",
                "actualStartDate",
                "actualCompletionDate",
                "durationMinutes",
                "workRequired",
                "work",
                "percentComplete",
            ),
            n.task,
            needs=frozenset({"projects"}),
        ),
        ObjectStream(
            _listed("dependencies", "dependency", "<PRED.ID>", after=("tasks",)),
            ("PRED",),
            ("ID", "predecessorID", "successorID", "predecessorType", "lagDays", "lagType"),
            n.dependency,
            incremental=False,
            listed=True,
            needs=frozenset({"tasks"}),
        ),
        ObjectStream(
            _listed(
                "assignments",
                "allocation",
                "<ASSGN.ID>, one record per fiscal period of its task's planned dates",
                after=("projects", "tasks", "users"),
            ),
            ("ASSGN",),
            ("ID", "taskID", "projectID", "assignedToID", "roleID", "workRequired", "work"),
            n.assignment,
            incremental=False,
            listed=True,
            needs=frozenset({"tasks", "projects"}),
        ),
        ObjectStream(
            _spec(
                "hours",
                "actual",
                "<HOUR.ID>",
                counts="HOUR rows whose status is in hour_statuses (default: APP, approved); "
                "leaving them is a deletion; none of the hours having one stops the stream",
                scopes=("project",),
                after=("projects", "tasks", "users", "rates"),
            ),
            ("HOUR",),
            (
                *_STAMP,
                "hours",
                "entryDate",
                "status",
                "projectID",
                "taskID",
                "ownerID",
                "roleID",
                "actualCost",
            ),
            n.hour,
            journal="HOUR",
            needs=frozenset({"projects"}),
            amount="actualCost",
            hours="hours",
        ),
        ObjectStream(
            _spec(
                "expenses",
                "actual",
                "<EXPNS.ID>",
                counts="every EXPNS row (actualAmount on effectiveDate)",
                scopes=("project",),
                after=("projects", "tasks"),
            ),
            ("EXPNS",),
            (*_STAMP, "actualAmount", "effectiveDate", "projectID", "taskID", "expenseTypeID"),
            n.expense,
            journal="EXPNS",
            needs=frozenset({"projects"}),
            amount="actualAmount",
        ),
    )
}
