"""The critical path method: early and late dates, total and free float, every critical path
and the project finish of a `Network` (see `passes` for the link arithmetic).

Durations are whole hundredths of a working day, so ties are exact: a task is critical when
its total float is 0 (no deadline is imposed, so no float is negative). A critical path runs
along driving links (the successor's early start is exactly what the link demands) between
critical tasks, from one no critical link drives to one that drives none; with ties there are
several, all listed (up to `MAX_PATHS`, with their count).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pmo_ledger.ledger.planning.calendar import WorkCalendar
from pmo_ledger.ledger.planning.model import OutsideLink, PlanLink, PlanTask
from pmo_ledger.ledger.planning.network import Network, build_network
from pmo_ledger.ledger.planning.passes import backward, forward, link_slack

CENT = Decimal("0.01")
#: Critical paths listed at most (their number is always given).
MAX_PATHS = 20


def days(hundredths: Any) -> Decimal:
    """Hundredths of a working day as days with 2 places."""
    return Decimal(int(hundredths)).scaleb(-2)


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    """One row of the schedule: a leaf, or a summary rolled up from its leaves. Floats and
    durations are in working days; offsets in hundredths from the schedule's start."""

    key: str
    name: str
    project: str
    level: int
    summary: bool
    milestone: bool
    state: str  # done | started | open (summaries: from their leaves)
    duration: Decimal  # to schedule: whole, remaining (started) or actual (done)
    percent: Decimal
    early_start: date
    early_finish: date
    late_start: date | None
    late_finish: date | None
    total_float: Decimal | None
    free_float: Decimal | None
    critical: bool
    es: int
    ef: int
    ls: int | None
    lf: int | None
    wbs: str | None = None
    parent: str | None = None
    planned_start: date | None = None
    planned_finish: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None


@dataclass
class Schedule:
    """A project's schedule at a status date."""

    network: Network
    rows: list[ScheduledTask]
    start: date
    finish: date
    finish_offset: int
    critical_paths: list[list[str]]
    critical_path_count: int
    #: (predecessor, successor, type) of every link between loaded leaves.
    links: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def status_date(self) -> date | None:
        return self.network.status_date

    @property
    def outside(self) -> list[OutsideLink]:
        return self.network.outside

    def row(self, key: str) -> ScheduledTask:
        return next(r for r in self.rows if r.key == key)


def schedule(
    tasks: Iterable[PlanTask],
    links: Iterable[PlanLink],
    calendar: WorkCalendar | None = None,
    *,
    status_date: date | None = None,
    start: date | None = None,
    outside_projects: dict[str, str] | None = None,
) -> Schedule:
    """The CPM schedule of `tasks` and `links` (see `network.build_network` for the inputs and
    what it raises)."""
    net = build_network(
        tasks,
        links,
        calendar or WorkCalendar(),
        status_date=status_date,
        start=start,
        outside_projects=outside_projects,
    )
    return schedule_network(net)


def schedule_network(net: Network) -> Schedule:
    """The CPM schedule of a built network."""
    dur = net.duration
    es, ef = forward(net, dur)
    finish = max(ef, default=net.status_offset or 0)
    ls, lf = backward(net, dur, es, ef, finish)
    tf = [lf[i] - ef[i] for i in range(net.size)]
    ff = _free_float(net, es, ef, finish)
    critical = [net.state[i] != "done" and tf[i] <= 0 for i in range(net.size)]
    paths, count = critical_paths(net, es, ef, critical)
    leaf_rows = {
        net.keys[i]: _leaf_row(net, i, es[i], ef[i], ls[i], lf[i], tf[i], ff[i], critical[i])
        for i in range(net.size)
    }
    rows = _wbs_rows(net, leaf_rows)
    tl = net.timeline
    return Schedule(
        network=net,
        rows=rows,
        start=tl.origin,
        finish=tl.finish_date(finish) if finish > 0 else tl.origin,
        finish_offset=finish,
        critical_paths=paths,
        critical_path_count=count,
        links=net.links,
    )


def _free_float(net: Network, es: list[int], ef: list[int], finish: int) -> list[int]:
    out = []
    for i in range(net.size):
        slack = [
            link_slack(kind, lag, es[i], ef[i], es[s], ef[s])
            for s, kind, lag in net.succs[i]
            if not (net.state[i] == "started" and kind in ("SS", "SF"))
        ]
        out.append(min(slack) if slack else finish - ef[i])
    return out


def critical_paths(
    net: Network, es: list[int], ef: list[int], critical: list[bool]
) -> tuple[list[list[str]], int]:
    """Every path of driving links between critical tasks (at most MAX_PATHS) and how many."""
    driving: list[list[int]] = [[] for _ in range(net.size)]
    driven = [False] * net.size
    for s in range(net.size):
        if not critical[s]:
            continue
        for p, kind, lag in net.preds[s]:
            # Two links between one pair (an SS beside an FF, or a summary's link expanded
            # onto a pair already linked) are one step of a path: the driving one counts.
            if (
                critical[p]
                and s not in driving[p]
                and link_slack(kind, lag, es[p], ef[p], es[s], ef[s]) == 0
            ):
                driving[p].append(s)
                driven[s] = True
    # Paths from each node to an end, counted backwards over the topological order.
    count = [0] * net.size
    for i in range(net.size - 1, -1, -1):
        if critical[i]:
            count[i] = sum(count[s] for s in driving[i]) or 1
    starts = [i for i in range(net.size) if critical[i] and not driven[i]]
    total = sum(count[i] for i in starts)
    paths: list[list[str]] = []

    def walk(i: int, path: list[int]) -> None:
        if len(paths) >= MAX_PATHS:
            return
        path.append(i)
        if not driving[i]:
            paths.append([net.keys[k] for k in path])
        for s in driving[i]:
            walk(s, path)
        path.pop()

    for i in starts:
        walk(i, [])
    return paths, total


def _leaf_row(
    net: Network, i: int, es: int, ef: int, ls: int, lf: int, tf: int, ff: int, critical: bool
) -> ScheduledTask:
    tl, t, state = net.timeline, net.tasks[net.keys[i]], net.state[i]
    milestone = ef == es if state == "done" else net.most_likely[i] == 0 and state == "open"
    finish = tl.finish_date(ef) if ef > 0 else tl.day(0)
    start = finish if milestone else tl.start_date(es)
    done = state == "done"
    if done:
        start = t.actual_start or start
        finish = t.actual_finish or finish
    percent = Decimal(0)
    if done:
        percent = Decimal(100)
    elif state == "started":
        percent = min(Decimal(100), t.percent or Decimal(0))
    return ScheduledTask(
        key=t.key,
        name=t.name,
        project=t.project,
        level=0,
        summary=False,
        milestone=milestone,
        state=state,
        duration=days(net.duration[i]),
        percent=percent.quantize(CENT),
        early_start=start,
        early_finish=finish,
        late_start=None if done else (finish if milestone else tl.start_date(max(ls, 0))),
        late_finish=None if done else tl.finish_date(lf) if lf > 0 else tl.day(0),
        total_float=None if done else days(tf),
        free_float=None if done else days(ff),
        critical=critical,
        es=es,
        ef=ef,
        ls=None if done else ls,
        lf=None if done else lf,
        wbs=t.wbs,
        parent=t.parent if t.parent in net.tasks else None,
        planned_start=t.planned_start,
        planned_finish=t.planned_finish,
        actual_start=t.actual_start if state != "open" else None,
        actual_finish=t.actual_finish if done else None,
    )


def _wbs_key(code: str | None) -> tuple[Any, ...]:
    """'1.10' after '1.9': numbers compare as numbers."""
    if code is None:
        return ((1,),)
    return tuple((0, int(p), "") if p.isdigit() else (0, 0, p) for p in re.split(r"[.\-]", code))


def _wbs_rows(net: Network, leaves: dict[str, ScheduledTask]) -> list[ScheduledTask]:
    """Rows in WBS order, each summary before its children, rolled up from its leaves."""
    tasks, children = net.tasks, net.children

    def order(keys: Iterable[str]) -> list[str]:
        def key(k: str) -> tuple[Any, ...]:
            t = tasks[k]
            return (_wbs_key(t.wbs), t.planned_start or date.max, k)

        return sorted(keys, key=key)

    rows: list[ScheduledTask] = []

    def visit(key: str, level: int) -> list[ScheduledTask]:
        if key in leaves:
            row = leaves[key]
            row = ScheduledTask(**{**_fields(row), "level": level})
            rows.append(row)
            return [row]
        at = len(rows)
        under = [leaf for kid in order(children[key]) for leaf in visit(kid, level + 1)]
        rows.insert(at, _summary_row(net, key, level, under))
        return under

    for root in order(k for k, t in tasks.items() if t.parent not in tasks):
        visit(root, 0)
    return rows


def _fields(row: ScheduledTask) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ScheduledTask.__slots__}


def _summary_row(net: Network, key: str, level: int, leaves: list[ScheduledTask]) -> ScheduledTask:
    t, tl = net.tasks[key], net.timeline
    es = min(r.es for r in leaves)
    ef = max(r.ef for r in leaves)
    index = net.index
    weights = [(Decimal(max(net.whole[index[r.key]], 1)), r) for r in leaves]
    total = sum((w for w, _ in weights), Decimal(0))
    percent = (
        sum((w * r.percent for w, r in weights), Decimal(0)) / total if total else Decimal(0)
    ).quantize(CENT)
    states = {r.state for r in leaves}
    state = "done" if states == {"done"} else "open" if states == {"open"} else "started"
    floats = [r.total_float for r in leaves if r.total_float is not None]
    lfs = [r.lf for r in leaves if r.lf is not None]
    lss = [r.ls for r in leaves if r.ls is not None]
    return ScheduledTask(
        key=key,
        name=t.name,
        project=t.project,
        level=level,
        summary=True,
        milestone=False,
        state=state,
        duration=days(ef - es),
        percent=percent,
        early_start=min(r.early_start for r in leaves),
        early_finish=max(r.early_finish for r in leaves),
        late_start=tl.start_date(max(0, min(lss))) if lss else None,
        late_finish=tl.finish_date(max(lfs)) if lfs else None,
        total_float=min(floats) if floats else None,
        free_float=None,
        critical=any(r.critical for r in leaves),
        es=es,
        ef=ef,
        ls=min(lss) if lss else None,
        lf=max(lfs) if lfs else None,
        wbs=t.wbs,
        parent=t.parent if t.parent in net.tasks else None,
        planned_start=t.planned_start,
        planned_finish=t.planned_finish,
        actual_start=min((r.actual_start for r in leaves if r.actual_start), default=None),
        actual_finish=max((r.actual_finish for r in leaves if r.actual_finish), default=None)
        if state == "done"
        else None,
    )
