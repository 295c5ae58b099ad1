"""The forward and backward passes of the critical path method over a `Network`, written once
for any number type: whole hundredths (CPM), exact fractions (PERT) and numpy arrays of one
value per iteration (Monte Carlo), which is why `max`/`min` are passed in.

For a link from p to s with lag L (s open):

    FS: ES(s) >= EF(p) + L          SS: ES(s) >= ES(p) + L
    FF: EF(s) >= EF(p) + L          SF: EF(s) >= ES(p) + L

and backwards LF(p) <= LS(s) - L (FS), LS(p) <= LS(s) - L (SS), LF(p) <= LF(s) - L (FF),
LS(p) <= LF(s) - L (SF), LF <= the project finish. A started task's start is fixed, so its SS
and SF links do not bound it backwards; a done task is fixed both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pmo_ledger.ledger.planning.network import Network

Pick = Callable[[Any, Any], Any]


def forward(net: Network, dur: Sequence[Any], mx: Pick = max) -> tuple[list[Any], list[Any]]:
    """Early start and early finish of every task (index order = topological order)."""
    es: list[Any] = [0] * net.size
    ef: list[Any] = [0] * net.size
    state, floor, preds = net.state, net.floor, net.preds
    for i in range(net.size):
        if state[i] == "done":
            es[i], ef[i] = net.fixed_start[i], net.fixed_finish[i]
            continue
        d = dur[i]
        if state[i] == "started":
            es[i], ef[i] = net.fixed_start[i], floor[i] + d
            continue
        start: Any = floor[i]
        for p, kind, lag in preds[i]:
            if kind == "FS":
                start = mx(start, ef[p] + lag)
            elif kind == "SS":
                start = mx(start, es[p] + lag)
            elif kind == "FF":
                start = mx(start, ef[p] + lag - d)
            else:
                start = mx(start, es[p] + lag - d)
        es[i], ef[i] = start, start + d
    return es, ef


def backward(
    net: Network, dur: Sequence[Any], es: list[Any], ef: list[Any], finish: Any, mn: Pick = min
) -> tuple[list[Any], list[Any]]:
    """Late start and late finish of every task, the project finishing at `finish`. A started
    task's late start is that of its remaining work."""
    ls: list[Any] = [0] * net.size
    lf: list[Any] = [0] * net.size
    state, succs = net.state, net.succs
    for i in range(net.size - 1, -1, -1):
        if state[i] == "done":
            ls[i], lf[i] = es[i], ef[i]
            continue
        d = dur[i]
        started = state[i] == "started"
        late = finish
        for s, kind, lag in succs[i]:
            if kind == "FS":
                late = mn(late, ls[s] - lag)
            elif kind == "FF":
                late = mn(late, lf[s] - lag)
            elif started:
                continue
            elif kind == "SS":
                late = mn(late, ls[s] - lag + d)
            else:
                late = mn(late, lf[s] - lag + d)
        ls[i], lf[i] = late - d, late
    return ls, lf


def link_slack(kind: str, lag: Any, es_p: Any, ef_p: Any, es_s: Any, ef_s: Any) -> Any:
    """How much later the predecessor's end of a link could be without moving the successor."""
    if kind == "FS":
        return es_s - lag - ef_p
    if kind == "SS":
        return es_s - lag - es_p
    if kind == "FF":
        return ef_s - lag - ef_p
    return ef_s - lag - es_p
