"""Monte Carlo schedule risk: durations drawn per task and iteration from a PERT-beta (default)
or triangular distribution over (O, M, P), optionally times a ratio drawn from the ledger's
history (`history`), and the CPM passes run once over whole vectors of iterations (numpy).

PERT-beta: O + (P - O) x Beta(a, b) with a = 1 + 4 (M - O) / (P - O), b = 1 + 4 (P - M) / (P - O),
whose mean is (O + 4M + P) / 6. Iterations run in chunks of `CHUNK` (memory stays flat), from one
`numpy.random.Generator` seeded with `seed`: the same seed gives the same figures.

Output: P50/P80/P95 finish dates (the working day holding that quantile of the simulated
finishes), the probability of finishing by a deadline, each task's criticality index (the share
of iterations in which its total float is 0) and the histogram of finish dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from typing import TYPE_CHECKING, Any, Literal

from pmo_ledger.ledger.planning.calendar import UNIT
from pmo_ledger.ledger.planning.history import HistoryScale
from pmo_ledger.ledger.planning.network import Network
from pmo_ledger.ledger.planning.passes import backward, forward

if TYPE_CHECKING:
    import numpy as np

#: Iterations per vector pass: 2,500 x 1,000 tasks x 8 bytes x 5 arrays stay near 100 MB.
CHUNK = 2_500
#: Float below this (hundredths of a day) counts as 0 in an iteration.
TOLERANCE = 1e-6
QUANTILES = (0.5, 0.8, 0.95)


@dataclass
class Simulation:
    """What a simulation found; offsets in hundredths of a working day from the start."""

    network: Network
    iterations: int
    seed: int
    distribution: str
    finishes: np.ndarray[Any, Any]
    criticality: dict[str, float]
    history: HistoryScale | None = None
    deadline: date | None = None
    percentiles: dict[float, date] = field(default_factory=dict)

    @property
    def mean_days(self) -> float:
        return float(self.finishes.mean()) / UNIT

    @property
    def sd_days(self) -> float:
        return float(self.finishes.std()) / UNIT

    def probability(self, deadline: date) -> float:
        """Share of iterations finishing by the end of `deadline`."""
        limit = self.network.timeline.end_offset(deadline)
        return float((self.finishes <= limit + TOLERANCE).mean())

    def finish_for(self, confidence: float) -> date:
        """The date this share of iterations finishes by (0 < confidence < 1)."""
        import numpy as np

        if not 0 < confidence < 1:
            raise ValueError(f"a confidence is between 0 and 1, got {confidence}")
        value = float(np.quantile(self.finishes, confidence))
        return self.network.timeline.finish_date(int(np.ceil(value - TOLERANCE)))

    def histogram(self) -> list[tuple[date, int]]:
        """(finish date, iterations finishing that working day), in date order."""
        import numpy as np

        day = np.ceil(self.finishes / UNIT - TOLERANCE).astype(np.int64) - 1
        low = int(day.min())
        counts = np.bincount(day - low)
        tl = self.network.timeline
        return [(tl.day(low + i), int(c)) for i, c in enumerate(counts) if c]


def simulate(
    net: Network,
    iterations: int,
    *,
    seed: int = 0,
    distribution: Literal["pert", "triangular"] = "pert",
    history: HistoryScale | None = None,
    deadline: date | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> Simulation:
    """Run `iterations` schedules of `net` (see the module docstring); `progress` is called
    with the iterations done after each chunk. Raises ValueError for iterations < 1."""
    import numpy as np

    if iterations < 1:
        raise ValueError(f"a simulation needs at least 1 iteration, got {iterations}")
    if distribution not in ("pert", "triangular"):
        raise ValueError(f"unknown distribution {distribution!r} (pert, triangular)")
    rng = np.random.default_rng(seed)
    o, m, p = (
        np.asarray(v, dtype=np.float64) for v in (net.optimistic, net.most_likely, net.pessimistic)
    )
    live = np.array([s != "done" for s in net.state], dtype=bool)
    varies = live & (p > o)
    scale = None if history is None else np.asarray(history.ratios, dtype=np.float64)
    finishes = np.empty(iterations, dtype=np.float64)
    critical_counts = np.zeros(net.size, dtype=np.int64)
    done = 0
    while done < iterations:
        k = min(chunk, iterations - done)
        dur = _draw(rng, o, m, p, varies, live, distribution, scale, k)
        es, ef = forward(net, dur, np.maximum)
        last = reduce(np.maximum, ef) if ef else np.float64(net.status_offset or 0)
        finish = np.broadcast_to(last, (k,))
        _ls, lf = backward(net, dur, es, ef, finish, np.minimum)
        for i in np.flatnonzero(live):
            critical_counts[i] += np.count_nonzero(
                np.broadcast_to(lf[i] - ef[i], (k,)) <= TOLERANCE
            )
        finishes[done : done + k] = finish
        done += k
        if progress is not None:
            progress(done)
    sim = Simulation(
        network=net,
        iterations=iterations,
        seed=seed,
        distribution=distribution,
        finishes=finishes,
        criticality={
            key: float(critical_counts[i]) / iterations for i, key in enumerate(net.keys) if live[i]
        },
        history=history,
        deadline=deadline,
    )
    for q in QUANTILES:
        sim.percentiles[q] = sim.finish_for(q)
    return sim


def _draw(
    rng: np.random.Generator,
    o: np.ndarray[Any, Any],
    m: np.ndarray[Any, Any],
    p: np.ndarray[Any, Any],
    varies: np.ndarray[Any, Any],
    live: np.ndarray[Any, Any],
    distribution: str,
    scale: np.ndarray[Any, Any] | None,
    k: int,
) -> Sequence[Any]:
    """One duration per task: a row of k draws for a live task, a number otherwise."""
    import numpy as np

    rows: list[Any] = list(m)
    idx = np.flatnonzero(varies)
    if idx.size:
        lo, mode, hi = o[idx, None], m[idx, None], p[idx, None]
        if distribution == "pert":
            a = 1 + 4 * (mode - lo) / (hi - lo)
            b = 1 + 4 * (hi - mode) / (hi - lo)
            drawn = lo + (hi - lo) * rng.beta(a, b, size=(idx.size, k))
        else:
            drawn = rng.triangular(lo, mode, hi, size=(idx.size, k))
        for row, i in enumerate(idx):
            rows[i] = drawn[row]
    if scale is not None:
        live_idx = np.flatnonzero(live)
        factors = rng.choice(scale, size=(live_idx.size, k))
        for row, i in enumerate(live_idx):
            rows[i] = rows[i] * factors[row]
    return rows
