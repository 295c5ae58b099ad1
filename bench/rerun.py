"""Unchanged re-runs, several in one process: the sample's actuals loaded once into a fresh
PostgreSQL ledger, then `run_sync(full=True)` K times over the same N records (each writes
nothing). `bench/ingest.py` times one re-run per process; this one shows how much a single
re-run moves on this machine.

    .venv/bin/python bench/rerun.py --n 200000 --k 4 [--pg URL]

Prints `rerun_seconds=[...]`, one figure per re-run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ingest
from benchdb import ensure_database, fresh

from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/pmo_ledger_bench")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    ensure_database(args.pg)
    with tempfile.TemporaryDirectory() as tmp:
        engine = fresh(args.pg)
        app = ingest.make_app(args.pg, args.n, Path(tmp))
        app._engine = engine
        run_sync(app, "bench", streams=["projects", "tasks", "resources", "fx_rates"])
        ingest.timed_sync(app)
        seconds = [round(ingest.timed_sync(app, full=True)[0], 2) for _ in range(args.k)]
        engine.dispose()
    print(f"rerun_seconds={seconds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
