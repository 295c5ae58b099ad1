"""A sync's wall time against the time it spends waiting on a slow source (issue 25, item 2).

    .venv/bin/python bench/latency.py [--hours 100000] [--delay 0.2] [--pairs 3] [--pg URL | --sqlite]
    .venv/bin/python bench/latency.py --source sample [--hours 100000] ...

The Workfront sandbox, seeded with `--hours` hours (plus its projects, tasks, assignments and
expenses), answers every call after `--delay` seconds, as a real service's round trip does; it
runs in a child process, so its own work does not share this process's interpreter. Then,
alternated `--pairs` times:
- **wait**: the Workfront connector reads every stream in full and drops the pages: the time
  a sync cannot go below with this source;
- **sync, read ahead**: `run_sync` of every stream into an empty ledger, the runner fetching
  the next pages while it writes (`[ledger] prefetch_pages = --prefetch`, 4 here);
- **sync, in turn**: the same with `prefetch_pages = 0` (read, then write, then read).
`--source sample`: the sample connector's `actuals` (the rows of bench/ingest.py, structure
loaded before the timer) with the same wait after each page, in this process (a sleep: no
server work shares the machine's two cores, as a real org's does not).
Prints each run and the medians with their spread; the last line is
`latency_wall_vs_wait=R prefetch_off_vs_wait=S wait_s=W records=C` (R: the read-ahead sync's
median wall time over the median wait; the target is R <= 1.15).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/pmo_ledger_latency"


def serve(conn: Connection, hours: int, delay: float, cert_dir: str) -> None:
    """The child: the sandbox until the parent says stop."""
    from pmo_ledger.connectors.base import SandboxOptions
    from pmo_ledger.connectors.workfront.sandbox.run import running

    options = SandboxOptions(cert_dir=Path(cert_dir), delay=delay)
    with running(options, hours=hours, psa=None) as sandbox:
        conn.send(dict(sandbox.settings))
        conn.recv()


def make_app(url: str, settings: dict[str, Any], tmp: Path, prefetch: int) -> Any:
    from pmo_ledger.jobs.app import App
    from pmo_ledger.jobs.config import parse_config

    table = {"kind": "workfront", **settings} if "base_url" in settings else settings
    config = {
        "ledger": {"url": url, "base_currency": "USD", "prefetch_pages": prefetch},
        "connectors": {"wf": table},
    }
    return App(parse_config(config, {}, tmp), None)


def slow_sample(app: Any, delay: float) -> Any:
    """The configured sample connector, each page handed over `delay` seconds after asked."""
    from pmo_ledger.connectors.sample import SampleConnector

    class SlowSample(SampleConnector):
        reads_ahead = True  # as a remote source's kind

        def extract(self, stream: str, request: Any) -> Any:
            for page in super().extract(stream, request):
                time.sleep(delay)
                yield page

    plain = app.connector("wf")
    return SlowSample(plain.settings, plain.context)


def sample_wait(app: Any, delay: float) -> tuple[float, int]:
    from pmo_ledger.connectors.base import ReadRequest

    connector = slow_sample(app, delay)
    read = 0
    start = time.perf_counter()
    for page in connector.extract("actuals", ReadRequest()):
        read += len(page.records)
    return time.perf_counter() - start, read


def sample_sync(app: Any, url: str, delay: float) -> tuple[float, int]:
    from benchdb import fresh

    from pmo_ledger.jobs.sync import run_sync

    engine = fresh(url)
    app._engine = engine
    try:
        run_sync(app, "wf", streams=["projects", "tasks", "resources", "fx_rates"])
        start = time.perf_counter()
        result = run_sync(app, "wf", streams=["actuals"], connector=slow_sample(app, delay))
        seconds = time.perf_counter() - start
        if result.status != "succeeded":
            raise SystemExit(f"sync {result.status}: {result.message}")
        return seconds, result.streams[0].stats.read
    finally:
        engine.dispose()


def wait_only(app: Any) -> tuple[float, int]:
    """Seconds to read every stream in full, pages dropped; and the records read."""
    from pmo_ledger.connectors.base import ReadRequest

    connector = app.connector("wf")
    read = 0
    start = time.perf_counter()
    try:
        for stream in connector.streams:
            for page in connector.extract(stream, ReadRequest()):
                read += len(page.records) + len(page.deletions) + len(page.rejected)
    finally:
        connector.close()
    return time.perf_counter() - start, read


def sync(app: Any, url: str) -> tuple[float, int]:
    from benchdb import fresh

    from pmo_ledger.jobs.sync import run_sync

    engine = fresh(url)
    app._engine = engine
    try:
        start = time.perf_counter()
        result = run_sync(app, "wf")
        seconds = time.perf_counter() - start
        if result.status != "succeeded":
            raise SystemExit(f"sync {result.status}: {result.message}")
        return seconds, sum(s.stats.read for s in result.streams)
    finally:
        engine.dispose()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (spread {min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=int, default=100_000)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of --pg")
    parser.add_argument("--prefetch", type=int, default=4)
    parser.add_argument("--source", choices=["workfront", "sample"], default="workfront")
    args = parser.parse_args()

    from benchdb import ensure_database

    from pmo_ledger.jobs.logconfig import configure_logging

    configure_logging("json", "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        here, there = multiprocessing.get_context("spawn").Pipe()
        child = multiprocessing.get_context("spawn").Process(
            target=serve, args=(there, args.hours, args.delay, tmp), daemon=True
        )
        start = time.perf_counter()
        sample = args.source == "sample"
        if sample:
            settings: dict[str, Any] = {"kind": "sample", "actuals": args.hours, "projects": 50,
                                        "resources": 200}  # fmt: skip
        else:
            child.start()
            settings = here.recv()
        print(
            f"sandbox: {args.hours:,} hours seeded and served in {time.perf_counter() - start:.1f} s,"
            f" each call answered after {args.delay * 1000:.0f} ms",
            flush=True,
        )
        url = f"sqlite:///{tmp}/ledger.db" if args.sqlite else args.pg
        if not args.sqlite:
            ensure_database(url)
        runs: dict[str, list[float]] = {"wait": [], "ahead": [], "turn": []}
        modes = list(runs)
        read = synced = 0
        for pair in range(args.pairs):
            order = modes[pair % 3 :] + modes[: pair % 3]
            for mode in order:
                if args.sqlite:
                    Path(f"{tmp}/ledger.db").unlink(missing_ok=True)
                prefetch = args.prefetch if mode == "ahead" else 0
                app = make_app(url, settings, Path(tmp), prefetch)
                if sample:
                    seconds, read = (
                        sample_wait(app, args.delay)
                        if mode == "wait"
                        else sample_sync(app, url, args.delay)
                    )
                else:
                    seconds, read = wait_only(app) if mode == "wait" else sync(app, url)
                runs[mode].append(seconds)
                synced = read if mode != "wait" else synced
                print(f"pair {pair + 1} {mode:5}: {seconds:6.2f} s, {read:,} records", flush=True)
        if not sample:
            here.send("stop")
            child.join(timeout=30)
    wait = statistics.median(runs["wait"])
    ahead = statistics.median(runs["ahead"])
    turn = statistics.median(runs["turn"])
    calls = synced  # the records a sync read (the wait reads every stream in full)
    print(f"wait on the source      {spread(runs['wait'])}")
    print(
        f"sync, read ahead ({args.prefetch})  {spread(runs['ahead'])}  = {ahead / wait:.2f}x the wait"
    )
    print(f"sync, in turn           {spread(runs['turn'])}  = {turn / wait:.2f}x the wait")
    print(
        f"latency_wall_vs_wait={ahead / wait:.2f} prefetch_off_vs_wait={turn / wait:.2f}"
        f" wait_s={wait:.2f} records={calls}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
