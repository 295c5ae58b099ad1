"""A full sync of the fake Fusion pod at a large size, then an incremental one after a round of
changes: the pod (`FusionSandbox` over `FusionData(costs=N)`, the sample world with N actual
lines as costed expenditure items, plus reversals and re-entries) on HTTPS in this process,
the Fusion flavor's reader (`connectors.oracle.fusion.reader.FusionReader`) reading every
stream into a fresh ledger through the Oracle connector (`kind = "oracle"`,
`flavor = "fusion"`) (SQLite file by default, or PostgreSQL with --pg).

    .venv/bin/python bench/fusion.py [--costs 100000] [--cap 499] [--pg URL]

Prints, per run, the records read, the seconds, records/s and the REST calls (per resource
and per 1,000 records); the last line is
`fusion_records_per_second=X fusion_calls_per_1000=Y fusion_incremental_seconds=Z`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database, fresh

from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData
from pmo_ledger.connectors.oracle.sandbox.fusion_server import FusionSandbox
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine


def timed(app: App, pod: FusionSandbox) -> tuple[int, float, Counter[str]]:
    """(records read, seconds, calls per resource) of one sync of `fus`."""
    before = len(pod.app.log)
    start = time.perf_counter()
    result = run_sync(app, "fus")
    seconds = time.perf_counter() - start
    if result.status != "succeeded":
        raise SystemExit(f"sync {result.status}: {result.message}")
    read = sum(s.stats.read for s in result.streams)
    calls = Counter(_resource(path) for _, path, _ in pod.app.log[before:])
    return read, seconds, calls


def _resource(path: str) -> str:
    tail = path.split("/11.13.18.05/")[-1]
    parts = tail.split("/")
    return "/".join(p if not p.isdigit() else "{id}" for p in parts)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--costs", type=int, default=100_000)
    parser.add_argument("--cap", type=int, default=499, help="the pod's silent cap on limit")
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-fusion-") as tmp:
        if args.pg:
            ensure_database(args.pg)
            engine = fresh(args.pg)
            url = args.pg
        else:
            url = f"sqlite:///{tmp}/ledger.db"
            engine = make_engine(url)
            migrate.upgrade(engine)
        seeded = time.perf_counter()
        data = FusionData(costs=args.costs)
        print(f"seeded {len(data.costs)} costs in {time.perf_counter() - seeded:.1f} s")
        with FusionSandbox(data, cap=args.cap, cert_dir=Path(tmp) / "tls") as pod:
            table = {"kind": "oracle", "flavor": "fusion", "fusion": pod.settings()}
            config = {"ledger": {"url": url, "base_currency": "USD"},
                      "connectors": {"fus": table}}  # fmt: skip
            app = App(parse_config(config, {}, Path(tmp)), None, _engine=engine)
            rate = per_1000 = incremental = 0.0
            for label in ("full", "incremental"):
                if label == "incremental":
                    changed = data.mutate()
                    print(f"mutated: { {k: len(v) for k, v in changed.items()} }")
                read, seconds, calls = timed(app, pod)
                made = sum(calls.values())
                if label == "full":
                    rate, per_1000 = read / seconds, 1000 * made / max(read, 1)
                else:
                    incremental = seconds
                print(
                    f"{label}: {read} records in {seconds:.1f} s ({read / seconds:.0f}/s), "
                    f"{made} REST calls ({1000 * made / max(read, 1):.1f} per 1,000 records)"
                )
                print(f"  calls: {dict(sorted(calls.items()))}")
        engine.dispose()
    print(
        f"fusion_records_per_second={rate:.0f} fusion_calls_per_1000={per_1000:.2f} "
        f"fusion_incremental_seconds={incremental:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
