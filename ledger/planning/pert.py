"""PERT: each task's expected duration te = (O + 4M + P) / 6 and standard deviation
sd = (P - O) / 6, the schedule computed on te, and the project finish as a normal variable
whose mean is that schedule's finish and whose variance is the sum of the variances along its
critical path (the path with the largest variance when several tie). From it, the probability
of finishing by a date and the date for a confidence.

Figures are exact fractions of hundredths of a working day until they are shown (4 places).
Tasks without a three-point estimate count with O = M = P (`without_estimates` says how many);
a started task's O, M and P are scaled to what remains; a done task has no variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from statistics import NormalDist

from pmo_ledger.ledger.planning.calendar import UNIT
from pmo_ledger.ledger.planning.cpm import critical_paths
from pmo_ledger.ledger.planning.network import Network
from pmo_ledger.ledger.planning.passes import backward, forward

FOUR = Decimal("0.0001")


def four(value: Fraction | float) -> Decimal:
    """A figure to 4 places, half up."""
    if isinstance(value, Fraction):
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(FOUR, ROUND_HALF_UP)
    return Decimal(repr(value)).quantize(FOUR, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class TaskPert:
    """A task's PERT figures, in working days."""

    key: str
    expected: Fraction
    sd: Fraction


@dataclass
class Pert:
    """The PERT figures of a network (days from the schedule's start, exact)."""

    network: Network
    tasks: dict[str, TaskPert]
    path: list[str]
    paths: list[list[str]]
    mean: Fraction  # expected finish, working days from the start
    variance: Fraction  # along `path`, days squared

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance)

    @property
    def without_estimates(self) -> int:
        return self.network.without_estimates

    @property
    def expected_finish(self) -> date:
        return self.network.timeline.finish_date(math.ceil(self.mean * UNIT))

    def probability(self, deadline: date) -> Decimal:
        """P(finish by the end of `deadline`), normal approximation, to 4 places."""
        limit = Fraction(self.network.timeline.end_offset(deadline), UNIT)
        if self.variance == 0:
            return Decimal("1.0000") if self.mean <= limit else Decimal("0.0000")
        z = float(limit - self.mean) / self.sd
        return four(NormalDist().cdf(z))

    def finish_for(self, confidence: float) -> date:
        """The date the project finishes by with this confidence (0 < confidence < 1)."""
        if not 0 < confidence < 1:
            raise ValueError(f"a confidence is between 0 and 1, got {confidence}")
        days = float(self.mean) + self.sd * NormalDist().inv_cdf(confidence)
        return self.network.timeline.finish_date(math.ceil(round(days * UNIT, 6)))


def pert(net: Network) -> Pert:
    """PERT figures of a built network (see the module docstring)."""
    te = [
        Fraction(o + 4 * m + p, 6)
        for o, m, p in zip(net.optimistic, net.most_likely, net.pessimistic, strict=True)
    ]
    var = [Fraction(p - o, 6) ** 2 for o, p in zip(net.optimistic, net.pessimistic, strict=True)]
    for i, state in enumerate(net.state):
        if state == "done":
            te[i], var[i] = Fraction(net.duration[i]), Fraction(0)
    es, ef = forward(net, te)
    finish = max(ef, default=Fraction(net.status_offset or 0))
    _ls, lf = backward(net, te, es, ef, finish)
    critical = [net.state[i] != "done" and lf[i] - ef[i] <= 0 for i in range(net.size)]
    paths, _count = critical_paths(net, es, ef, critical)
    index = net.index
    best: list[str] = []
    best_var = Fraction(-1)
    for path in paths:
        v = sum((var[index[k]] for k in path), Fraction(0))
        if v > best_var:
            best, best_var = path, v
    tasks = {
        k: TaskPert(k, te[i] / UNIT, Fraction(net.pessimistic[i] - net.optimistic[i], 6 * UNIT))
        for i, k in enumerate(net.keys)
        if net.state[i] != "done"
    }
    return Pert(
        network=net,
        tasks=tasks,
        path=best,
        paths=paths,
        mean=Fraction(finish) / UNIT,
        variance=max(best_var, Fraction(0)) / (UNIT * UNIT),
    )
