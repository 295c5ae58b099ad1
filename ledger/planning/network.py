"""The schedule network: the leaf tasks in topological order with their links, durations and
progress at the status date, in hundredths of a working day on one timeline. CPM, PERT and the
Monte Carlo simulation all run over it.

- Summary tasks (any task that is some task's parent) are not activities: a link to or from one
  stands for links to or from each of its leaf tasks.
- A task's duration is its most-likely estimate, else its planned dates in working days, else
  0 (and the task is listed in `without_duration`).
- At a status date (end of that day) a task is `done` (actual finish on or before it: fixed at
  its actual dates), `started` (actual start on or before it, or some percent complete: its
  start is fixed and its remaining duration, duration x (100 - percent) / 100, runs from the
  status date) or `open` (it starts no earlier than the status date). As Primavera's progress
  override, links into a started or done task no longer move it, and are dropped.
- An open task with no predecessor starts no earlier than its planned start (the date its
  source placed it on).
- A link to a task that is not loaded is reported (`outside`), not used; cycles raise
  CycleError naming their tasks. Order and cycles come from networkx.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pmo_ledger.ledger.planning.calendar import UNIT, Timeline, WorkCalendar
from pmo_ledger.ledger.planning.model import (
    CycleError,
    OutsideLink,
    PlanLink,
    PlanningError,
    PlanTask,
)

State = Literal["done", "started", "open"]
#: (other task's index, link type, lag in hundredths)
Edge = tuple[int, str, int]
HUNDRED = Decimal(100)


def units(days: Decimal) -> int:
    """Working days (2 places) as whole hundredths, half up."""
    return int((days * UNIT).to_integral_value(ROUND_HALF_UP))


@dataclass
class Network:
    """Leaf tasks in topological order (index = position) and what the passes need."""

    timeline: Timeline
    status_date: date | None
    status_offset: int | None
    tasks: dict[str, PlanTask]
    children: dict[str, list[str]]
    keys: list[str]
    state: list[State]
    #: Duration to schedule: the whole for open tasks, what remains for started ones, the
    #: actual one for done ones (hundredths of a working day).
    duration: list[int]
    optimistic: list[int]
    most_likely: list[int]
    pessimistic: list[int]
    #: The whole duration (estimate or planned), before progress: weights summaries' percent.
    whole: list[int]
    floor: list[int]
    fixed_start: list[int | None]
    fixed_finish: list[int | None]
    preds: list[list[Edge]]
    succs: list[list[Edge]]
    outside: list[OutsideLink] = field(default_factory=list)
    #: Leaf key -> its index (position in `keys`).
    index: dict[str, int] = field(default_factory=dict)
    #: Every link between loaded leaves (pred key, succ key, type), used or not (charts).
    links: list[tuple[str, str, str]] = field(default_factory=list)
    without_duration: list[str] = field(default_factory=list)
    #: Open or started leaves counted with O = M = P (no complete three-point estimate).
    without_estimates: int = 0

    @property
    def size(self) -> int:
        return len(self.keys)

    def label(self, key: str) -> str:
        task = self.tasks.get(key)
        return task.label if task is not None else key


def _leaves_under(key: str, children: Mapping[str, list[str]]) -> list[str]:
    out, stack = [], [key]
    while stack:
        k = stack.pop()
        kids = children.get(k)
        if kids:
            stack.extend(reversed(kids))
        else:
            out.append(k)
    return out


def _cycles(graph: object, labels: dict[str, str]) -> CycleError:
    """Each strongly connected group of tasks as one cycle through it, in order."""
    import networkx as nx

    cycles = []
    for group in nx.strongly_connected_components(graph):
        sub = graph.subgraph(group)  # type: ignore[attr-defined]
        if len(group) == 1 and not sub.has_edge(next(iter(group)), next(iter(group))):
            continue
        cycles.append([u for u, _v in nx.find_cycle(sub)])
    cycles.sort()
    return CycleError(cycles, labels)


def build_network(
    tasks: Iterable[PlanTask],
    links: Iterable[PlanLink],
    calendar: WorkCalendar,
    *,
    status_date: date | None = None,
    start: date | None = None,
    outside_projects: Mapping[str, str] | None = None,
) -> Network:
    """The network of `tasks` and `links` on `calendar` at `status_date` (None: a plan with
    no progress). `start` is the earliest day anything may start (e.g. the project's planned
    start); `outside_projects` names the project of tasks that are linked but not loaded.
    Raises CycleError, or PlanningError when nothing dates the schedule."""
    import networkx as nx

    by_key: dict[str, PlanTask] = {}
    for t in tasks:
        if t.key in by_key:
            raise PlanningError(f"task {t.key} is given twice")
        by_key[t.key] = t
    children: dict[str, list[str]] = {}
    for t in by_key.values():
        if t.parent is not None and t.parent in by_key:
            children.setdefault(t.parent, []).append(t.key)
    leaves = [k for k in by_key if k not in children]
    use_progress = status_date is not None
    anchors = [d for d in (start,) if d is not None]
    for k in leaves:
        t = by_key[k]
        anchors += [d for d in (t.planned_start,) if d is not None]
        if use_progress and t.actual_start is not None:
            anchors.append(t.actual_start)
    if not anchors:
        if status_date is None:
            raise PlanningError("no task has a planned or actual start, and no start was given")
        anchors.append(status_date)
    timeline = Timeline(calendar, min(anchors))

    outside: list[OutsideLink] = []
    known = outside_projects or {}
    graph = nx.DiGraph()
    graph.add_nodes_from(leaves)
    expanded: list[tuple[str, str, str, int]] = []
    for link in links:
        missing = next((k for k in (link.predecessor, link.successor) if k not in by_key), None)
        if missing is not None:
            outside.append(OutsideLink(link, missing, known.get(missing)))
            continue
        lag = units(link.lag)
        for p in _leaves_under(link.predecessor, children):
            for s in _leaves_under(link.successor, children):
                expanded.append((p, s, link.type, lag))
                graph.add_edge(p, s)
    labels = {k: t.label for k, t in by_key.items()}
    if not nx.is_directed_acyclic_graph(graph):
        raise _cycles(graph, labels)
    order: list[str] = list(nx.topological_sort(graph))
    index = {k: i for i, k in enumerate(order)}

    n = len(order)
    net = Network(
        timeline=timeline,
        status_date=status_date,
        status_offset=timeline.end_offset(status_date) if status_date is not None else None,
        tasks=by_key,
        children=children,
        keys=order,
        state=["open"] * n,
        duration=[0] * n,
        optimistic=[0] * n,
        most_likely=[0] * n,
        pessimistic=[0] * n,
        whole=[0] * n,
        floor=[0] * n,
        fixed_start=[None] * n,
        fixed_finish=[None] * n,
        preds=[[] for _ in range(n)],
        succs=[[] for _ in range(n)],
        outside=outside,
        index=index,
    )
    for i, k in enumerate(order):
        _place(net, i, by_key[k])
    # One drawn link per pair (and type): a summary's link expanded onto a pair already
    # linked is the same arrow.
    net.links = list(dict.fromkeys((p, s, kind) for p, s, kind, _lag in expanded))
    for p, s, kind, lag in expanded:
        i, j = index[p], index[s]
        if net.state[j] != "open":
            continue  # progress override: a started or done task is where it is
        net.preds[j].append((i, kind, lag))
        net.succs[i].append((j, kind, lag))
    for i, k in enumerate(order):
        t = by_key[k]
        if not net.preds[i] and net.state[i] == "open" and t.planned_start is not None:
            net.floor[i] = max(net.floor[i], timeline.start_offset(t.planned_start))
    return net


def _planned_units(timeline: Timeline, t: PlanTask) -> int | None:
    if t.planned_start is None or t.planned_finish is None:
        return None
    if t.planned_finish < t.planned_start:
        raise PlanningError(f"task {t.label} finishes before it starts (planned dates)")
    return timeline.end_offset(t.planned_finish) - timeline.start_offset(t.planned_start)


def _place(net: Network, i: int, t: PlanTask) -> None:
    """Duration, estimates and progress state of leaf i."""
    tl = net.timeline
    if t.most_likely is not None:
        full = units(t.most_likely)
    else:
        planned = _planned_units(tl, t)
        if planned is None:
            net.without_duration.append(t.key)
        full = planned or 0
    net.whole[i] = full
    three = (t.optimistic, t.most_likely, t.pessimistic)
    if all(v is not None for v in three):
        o, m, p = (units(v) for v in three if v is not None)
        if not o <= m <= p:
            raise PlanningError(
                f"task {t.label}: expected optimistic <= most likely <= pessimistic, "
                f"got {t.optimistic}, {t.most_likely}, {t.pessimistic}"
            )
    else:
        o = m = p = full
    sd, status = net.status_offset, net.status_date
    if status is None or sd is None:
        state: State = "open"
    elif t.actual_finish is not None and t.actual_finish <= status:
        state = "done"
    elif (t.actual_start is not None and t.actual_start <= status) or (t.percent or 0) > 0:
        state = "started"
    else:
        state = "open"
    net.state[i] = state
    if state == "done":
        assert t.actual_finish is not None
        finish = tl.end_offset(t.actual_finish)
        begin = t.actual_start or t.planned_start
        start = min(finish, tl.start_offset(begin)) if begin is not None else finish - full
        net.fixed_start[i], net.fixed_finish[i] = start, finish
        net.duration[i] = net.optimistic[i] = net.most_likely[i] = net.pessimistic[i] = (
            finish - start
        )
        return
    if state == "started":
        assert sd is not None
        begin = t.actual_start or t.planned_start
        net.fixed_start[i] = min(sd, tl.start_offset(begin)) if begin is not None else sd
        left = (HUNDRED - min(HUNDRED, max(Decimal(0), t.percent or Decimal(0)))) / HUNDRED
        o, m, p, full = (
            int((v * left).to_integral_value(ROUND_HALF_UP))
            for v in (Decimal(o), Decimal(m), Decimal(p), Decimal(full))
        )
        net.floor[i] = sd
    elif sd is not None:
        net.floor[i] = sd
    if (t.optimistic, t.most_likely, t.pessimistic).count(None):
        net.without_estimates += 1
    net.duration[i], net.optimistic[i], net.most_likely[i], net.pessimistic[i] = full, o, m, p
