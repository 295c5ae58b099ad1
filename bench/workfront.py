"""A full sync of the fake Workfront at a large seed: the sandbox (`running(..., hours=N)`) on
HTTPS in this process, the Workfront connector reading every stream into a fresh ledger
(SQLite file by default, or PostgreSQL with --pg), then an incremental run with nothing
changed.

    .venv/bin/python bench/workfront.py [--hours 100000] [--page-size 2000] [--pg URL]

Prints the records read, the seconds, records/s and the API calls (per endpoint and per 1,000
records) of each run; the last line is `workfront_records_per_second=X`. The fake's own share
of the time: bench/workfront_sandbox.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database, fresh

from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine


def timed(app: App, server: WorkfrontSandbox) -> tuple[int, float, int, dict[str, int]]:
    """(records read, seconds, API calls, calls per endpoint) of one sync of `wf`."""
    before = dict(server.calls)
    start = time.perf_counter()
    result = run_sync(app, "wf")
    seconds = time.perf_counter() - start
    if result.status != "succeeded":
        raise SystemExit(f"sync {result.status}: {result.message}")
    read = sum(s.stats.read for s in result.streams)
    made = {k: n - before.get(k, 0) for k, n in server.calls.items() if n - before.get(k, 0)}
    return read, seconds, sum(made.values()), made


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=2000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        if args.pg:
            ensure_database(args.pg)
            engine, url = fresh(args.pg), args.pg
        else:
            url = f"sqlite:///{tmp}/ledger.db"
            engine = make_engine(url)
            migrate.upgrade(engine)
        seeded = time.perf_counter()
        store = FakeWorkfront()
        seed = seed_demo(store, hours=args.hours)
        print(f"seeded {args.hours} hours in {time.perf_counter() - seeded:.1f} s")
        user = ApiUser(user_id=seed.api_user_id)
        with WorkfrontSandbox(store, user=user, cert_dir=Path(tmp) / "tls") as server:
            table = {"kind": "workfront", "base_url": server.url, "api_key": user.api_key,
                     "ca_bundle": str(server.ca_file), "page_size": args.page_size}  # fmt: skip
            config = {"ledger": {"url": url, "base_currency": "USD"}, "connectors": {"wf": table}}
            app = App(parse_config(config, {}, Path(tmp)), None, _engine=engine)
            rate = 0.0
            for label in ("full", "incremental"):
                read, seconds, made, per = timed(app, server)
                rate = read / seconds if label == "full" else rate
                print(
                    f"{label}: {read} records in {seconds:.1f} s ({read / seconds:.0f}/s), "
                    f"{made} API calls ({1000 * made / max(read, 1):.1f} per 1,000 records)"
                )
                print(f"  calls: {dict(sorted(per.items()))}")
        engine.dispose()
    print(f"workfront_records_per_second={rate:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
