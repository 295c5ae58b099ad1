"""The collector's share of a load: the same first load and unchanged re-run with CPython's
collector as it comes, frozen once (`jobs/gc_tuning.py`, what a sync does) and frozen with a
higher young threshold, alternated, in one child process each (the collector is the process's).

    .venv/bin/python bench/gc_freeze.py [--n 100000] [--rounds 2] [--pg URL]

Prints each run's rows/s and client CPU (`time.process_time`: the collector's work is client
CPU, the server's is not in it), then the medians per mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG = "postgresql://postgres@127.0.0.1:5432/pmo_ledger_gc"
MODES = ("default", "freeze", "freeze+10000", "freeze+50000")


def one(mode: str, n: int, url: str) -> dict[str, float]:
    import gc

    from benchdb import fresh
    from ingest import make_app, timed_sync
    from peers import _fresh_database

    import pmo_ledger.jobs.gc_tuning as tuning
    from pmo_ledger.jobs.logconfig import configure_logging
    from pmo_ledger.jobs.sync import run_sync

    if mode == "default":
        tuning._done = True  # as if tuned already: the collector stays as CPython makes it
    configure_logging("json", "WARNING")
    _fresh_database(url)
    target = url.replace("postgresql://", "postgresql+psycopg://")
    with tempfile.TemporaryDirectory() as tmp:
        engine = fresh(target)
        app = make_app(target, n, Path(tmp))
        app._engine = engine
        run_sync(app, "bench", streams=["projects", "tasks", "resources", "fx_rates"])
        if "+" in mode:
            gc.set_threshold(int(mode.split("+")[1]), 10, 10)
        c0 = time.process_time()
        first_s, _ = timed_sync(app)
        c1 = time.process_time()
        rerun_s, _ = timed_sync(app, full=True)
        c2 = time.process_time()
        engine.dispose()
    return {
        "first": n / first_s,
        "first_cpu": c1 - c0,
        "rerun": n / rerun_s,
        "rerun_cpu": c2 - c1,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.child, args.n, args.pg)))
        return 0
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode in MODES[r % len(MODES) :] + MODES[: r % len(MODES)]:
            cmd = [sys.executable, __file__, "--child", mode, "--n", str(args.n), "--pg", args.pg]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout  # noqa: S603 - this script with its own arguments
            got = json.loads(out.strip().splitlines()[-1])
            results[mode].append(got)
            print(
                f"round {r + 1} {mode:13} first load {got['first']:,.0f} rows/s"
                f" (cpu {got['first_cpu']:.2f} s), re-run {got['rerun']:,.0f} rows/s"
                f" (cpu {got['rerun_cpu']:.2f} s)",
                flush=True,
            )
    for mode, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{mode:13} median: first load {med['first']:,.0f} rows/s, cpu {med['first_cpu']:.2f} s;"
            f" re-run {med['rerun']:,.0f} rows/s, cpu {med['rerun_cpu']:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
