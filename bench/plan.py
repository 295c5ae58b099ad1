"""Planning at scale (issue 20, item 6): CPM over a generated network, the Monte Carlo
simulation and a Gantt chart, each timed once after a warm-up.

    .venv/bin/python bench/plan.py [--tasks 10000] [--links 15000] [--mc-tasks 1000]
                                   [--iterations 10000] [--gantt-tasks 500]

The network is acyclic: each link joins a leaf task to one of the 50 before it (FS 70%, SS 15%,
FF 10%, SF 5%, lags -2..+5 days), every leaf has a three-point estimate, and summaries of nine
leaves each come on top of the counts (they are rolled up, not scheduled). `cpm_seconds` is `schedule()` end to end
(network, networkx order, both passes, floats, critical paths, rows in WBS order);
`montecarlo_seconds` is `simulate()` on a network of `--mc-tasks` tasks; `montecarlo_peak_mb`
is tracemalloc's peak during it (numpy's arrays included); `gantt_seconds` renders a PNG of
`--gantt-tasks` tasks. Targets: under 1 s, 5 s, 5 s and 500 MB. The last line is
`cpm_seconds=X montecarlo_seconds=Y gantt_seconds=Z montecarlo_peak_mb=M`.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

from pmo_ledger.ledger.planning.calendar import WorkCalendar
from pmo_ledger.ledger.planning.charts import gantt
from pmo_ledger.ledger.planning.cpm import schedule
from pmo_ledger.ledger.planning.model import PlanLink, PlanTask
from pmo_ledger.ledger.planning.montecarlo import simulate
from pmo_ledger.ledger.planning.network import build_network

START = date(2026, 1, 5)
KINDS = ["FS"] * 14 + ["SS"] * 3 + ["FF"] * 2 + ["SF"]


def network(n: int, links: int, seed: int = 7) -> tuple[list[PlanTask], list[PlanLink]]:
    """n leaf tasks under summaries of nine (which come on top) and `links` links."""
    rng = random.Random(seed)  # noqa: S311 - generated test data
    tasks: list[PlanTask] = []
    leaves: list[str] = []
    parent = ""
    for i in range(n):
        phase, pos = divmod(i, 9)
        if pos == 0:
            parent = f"S{phase:05d}"
            tasks.append(PlanTask(parent, f"Phase {phase + 1}", wbs=str(phase + 1)))
        key = f"T{i:05d}"
        m = rng.randint(1, 15)
        o, p = max(0, m - rng.randint(0, 3)), m + rng.randint(0, 10)
        tasks.append(
            PlanTask(
                key,
                f"Task {i + 1}",
                parent=parent,
                wbs=f"{phase + 1}.{pos + 1}",
                optimistic=Decimal(o),
                most_likely=Decimal(m),
                pessimistic=Decimal(p),
            )
        )
        leaves.append(key)
    out: list[PlanLink] = []
    for _ in range(links):
        j = rng.randrange(1, len(leaves))
        i = rng.randrange(max(0, j - 50), j)
        out.append(
            PlanLink(
                leaves[i],
                leaves[j],
                rng.choice(KINDS),  # type: ignore[arg-type]
                Decimal(rng.randint(-2, 5)),
            )
        )
    return tasks, out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--links", type=int, default=15_000)
    parser.add_argument("--mc-tasks", type=int, default=1_000)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--gantt-tasks", type=int, default=500)
    parser.add_argument("--keep", type=Path, help="also write the Gantt chart here")
    o = parser.parse_args()
    cal = WorkCalendar()

    tasks, links = network(o.tasks, o.links)
    schedule(tasks[:200], [lk for lk in links if lk.successor < "T00150"], cal, start=START)
    began = time.perf_counter()
    big = schedule(tasks, links, cal, start=START)
    cpm = time.perf_counter() - began
    print(
        f"cpm: {big.network.size:,} tasks (and {len(tasks) - big.network.size:,} summaries), "
        f"{len(links):,} links: "
        f"{cpm:.3f} s; finish {big.finish}, {big.critical_path_count} critical paths"
    )

    mc_tasks, mc_links = network(o.mc_tasks, o.mc_tasks * 3 // 2, seed=11)
    net = build_network(mc_tasks, mc_links, cal, start=START)
    simulate(net, 100, seed=1)
    tracemalloc.start()
    began = time.perf_counter()
    sim = simulate(net, o.iterations, seed=1)
    mc = time.perf_counter() - began
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"montecarlo: {o.iterations:,} iterations x {net.size:,} tasks: {mc:.3f} s, "
        f"peak {peak_mb:.1f} MB (process max RSS so far {rss_mb:.0f} MB); "
        f"P50 {sim.percentiles[0.5]}, P95 {sim.percentiles[0.95]}"
    )

    g_tasks, g_links = network(o.gantt_tasks, o.gantt_tasks * 3 // 2, seed=13)
    small = schedule(g_tasks, g_links, cal, start=START, status_date=date(2026, 3, 2))
    with tempfile.TemporaryDirectory() as folder:
        gantt(schedule(g_tasks[:20], [], cal, start=START), Path(folder) / "warm.png")
        began = time.perf_counter()
        gantt(small, Path(folder) / "gantt.png")
        gt = time.perf_counter() - began
        size = (Path(folder) / "gantt.png").stat().st_size
        if o.keep is not None:
            o.keep.write_bytes((Path(folder) / "gantt.png").read_bytes())
    print(
        f"gantt: {small.network.size:,} tasks ({len(small.rows):,} rows), {len(small.links):,} "
        f"links: {gt:.3f} s "
        f"({size / 1e6:.1f} MB PNG)"
    )
    print(
        f"cpm_seconds={cpm:.3f} montecarlo_seconds={mc:.3f} gantt_seconds={gt:.3f} "
        f"montecarlo_peak_mb={peak_mb:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
