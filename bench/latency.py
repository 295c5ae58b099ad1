"""A sync's wall time against the time it spends waiting on a slow source (issue 25, item 2).

    .venv/bin/python bench/latency.py [--records 100000] [--delay 0.2] [--pairs 3]
        [--source salesforce workfront] [--modes wait ahead turn] [--pg URL | --sqlite]
    .venv/bin/python bench/latency.py --source sample [--records 100000] ...

Each sandbox (`--source`, both by default) runs in a child process, so its own work does not
share this process's interpreter, and answers every call after `--delay` seconds, as a real
service's round trip does:
- **salesforce**: the demo PSA org plus approved timecard splits up to `--records` in all,
  read over REST (`bulk_threshold = 0`: query pages of 2,000 and `nextRecordsUrl`);
- **workfront**: the demo account seeded with `--records` hours (plus its projects, tasks,
  assignments and expenses; `$$FIRST`/`$$LIMIT` pages and a count per read).
Then, alternated `--pairs` times (the order turns each pair):
- **wait**: the connector reads every stream in full and drops the pages: the time a sync
  cannot go below with this source;
- **ahead**: `run_sync` of every stream into an empty ledger with the default settings (the
  runner fetches the next pages while it writes, `[ledger] prefetch_pages`);
- **turn**: the same with `prefetch_pages = 0` (read, then write, then read).
`--source sample`: the sample connector's `actuals` (the rows of bench/ingest.py, structure
loaded before the timer) with the same wait after each page, in this process (a sleep: no
server work shares the machine's two cores, as a real org's does not).
Each run also prints this process's CPU seconds (every thread: the connector's parsing and
the runner's Python share one interpreter) and, for a sync, where its runner's time went:
waiting for the next page, inside a batch's transaction (write), the run's end (aggregate
rebuild); and `gaps`: the seconds the source sat idle between the end of one stream's read
and the first call of the next one's (the runner opens the next read while it writes the
last batch of the stream before, jobs/sync.py `_read_ahead`: near 0 then). Prints each run and the medians with their
spread; the last line is `<source>_wall_vs_wait=R ...` for each source (R: the read-ahead
sync's median wall time over the median wait; the target is R <= 1.15), then the in-turn
ratios and the waits.
"""

from __future__ import annotations

import argparse
import itertools
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


def serve(conn: Connection, source: str, records: int, delay: float, cert_dir: str) -> None:
    """The child: the sandbox until the parent says stop."""
    if source == "salesforce":
        serve_salesforce(conn, records, delay, cert_dir)
        return
    from pmo_ledger.connectors.base import SandboxOptions
    from pmo_ledger.connectors.workfront.sandbox.run import running

    options = SandboxOptions(cert_dir=Path(cert_dir), delay=delay)
    with running(options, hours=records, psa=None) as sandbox:
        conn.send({"kind": "workfront", **sandbox.settings})
        conn.recv()


#: Fields a copied timecard split keeps (the demo's own split gives project, rate, currency).
SPLIT_FIELDS = (
    "pse__Timecard_Header__c", "pse__Start_Date__c", "pse__End_Date__c", "pse__Total_Hours__c",
    "pse__Total_Cost__c", "pse__Project__c", "pse__Resource__c", "pse__Assignment__c",
    "pse__Status__c", "pse__Include_In_Financials__c", "CurrencyIsoCode",
)  # fmt: skip


def serve_salesforce(conn: Connection, records: int, delay: float, cert_dir: str) -> None:
    """The demo PSA org with approved timecard splits copied up to `records` in all."""
    from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
    from pmo_ledger.connectors.salesforce.sandbox.seed import seed_demo
    from pmo_ledger.connectors.salesforce.sandbox.server import SandboxServer

    org = FakeOrg()
    seed = seed_demo(org)
    splits = [r for r in org.rows("pse__Timecard__c") if r["pse__Include_In_Financials__c"]]
    have = sum(seed.counts.values())
    for n in range(max(records - have, 0)):
        template = splits[n % len(splits)]
        fields = {k: template[k] for k in SPLIT_FIELDS}
        org.insert("pse__Timecard__c", Name=f"TCS-X{n:07d}", **fields)
    with SandboxServer(org, cert_dir=Path(cert_dir)) as server:
        server.delay = delay
        user = server.user
        conn.send({
            "kind": "salesforce", "login_url": server.login_url, "username": user.username,
            "password": user.password, "security_token": user.security_token,
            "ca_bundle": str(server.ca_file), "bulk_threshold": 0,
        })  # fmt: skip
        conn.recv()


def make_app(url: str, settings: dict[str, Any], tmp: Path, prefetch: int | None) -> Any:
    """`prefetch` None: the default `prefetch_pages`."""
    from pmo_ledger.jobs.app import App
    from pmo_ledger.jobs.config import parse_config

    ledger: dict[str, Any] = {"url": url, "base_currency": "USD"}
    if prefetch is not None:
        ledger["prefetch_pages"] = prefetch
    return App(parse_config({"ledger": ledger, "connectors": {"wf": settings}}, {}, tmp), None)


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


class Parts:
    """Where a sync's runner spends its time: waiting for the next page (the read, or the
    read-ahead's queue), inside a batch's transaction, in the run's end (aggregate rebuild).
    Wraps the runner's methods for the bench's process only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.reads: list[tuple[float, float]] = []  # each stream's read: first call, its end

    def add(self, part: str, since: float) -> None:
        self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - since

    def install(self) -> None:
        from contextlib import contextmanager

        from pmo_ledger.jobs import sync as runner
        from pmo_ledger.jobs.prefetch import Prefetch

        parts, iterate, init = self, Prefetch.__iter__, Prefetch.__init__
        tx, rebuild = runner._Run._tx, runner._Run._rebuild_aggregates

        def timed_iter(reader: Any) -> Any:
            pages = iterate(reader)
            while True:
                start = time.perf_counter()
                try:
                    page = next(pages)
                except StopIteration:
                    parts.add("page", start)
                    return
                parts.add("page", start)
                yield page

        @contextmanager
        def timed_tx(run: Any) -> Any:
            start = time.perf_counter()
            with tx(run) as session:
                yield session
            parts.add("write", start)

        def timed_rebuild(run: Any) -> None:
            start = time.perf_counter()
            rebuild(run)
            parts.add("end", start)

        def timed_init(reader: Any, open_read: Any, *args: Any, **kw: Any) -> None:
            def opened() -> Any:
                start = time.perf_counter()

                def pages() -> Any:
                    try:
                        yield from open_read()
                    finally:
                        parts.reads.append((start, time.perf_counter()))

                return pages()

            init(reader, opened, *args, **kw)

        Prefetch.__init__ = timed_init  # type: ignore[method-assign]
        Prefetch.__iter__ = timed_iter  # type: ignore[method-assign]
        runner._Run._tx = timed_tx  # type: ignore[method-assign]
        runner._Run._rebuild_aggregates = timed_rebuild  # type: ignore[method-assign]

    def take(self) -> str:
        reads = sorted(self.reads)
        if len(reads) > 1:
            # The source idles between one stream's read and the next one's first call.
            self.seconds["gaps"] = sum(
                max(0.0, nxt[0] - before[1]) for before, nxt in itertools.pairwise(reads)
            )
        text = " ".join(f"{k} {v:.1f} s" for k, v in sorted(self.seconds.items()))
        self.seconds, self.reads = {}, []
        return text


def measure(
    args: argparse.Namespace, source: str, url: str, tmp: str, parts: Parts
) -> dict[str, list[float]]:
    """The alternated runs of one source: seconds per mode."""
    here, there = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=serve, args=(there, source, args.records, args.delay, tmp), daemon=True
    )
    start = time.perf_counter()
    sample = source == "sample"
    if sample:
        settings: dict[str, Any] = {"kind": "sample", "actuals": args.records, "projects": 50,
                                    "resources": 200}  # fmt: skip
    else:
        child.start()
        settings = here.recv()
    print(
        f"{source}: {args.records:,} records seeded and served in"
        f" {time.perf_counter() - start:.1f} s, each call answered after {args.delay * 1000:.0f} ms",
        flush=True,
    )
    runs: dict[str, list[float]] = {mode: [] for mode in args.modes}
    modes = list(runs)
    for pair in range(args.pairs):
        order = modes[pair % len(modes) :] + modes[: pair % len(modes)]
        for mode in order:
            if args.sqlite:
                Path(f"{tmp}/ledger.db").unlink(missing_ok=True)
            app = make_app(url, settings, Path(tmp), 0 if mode == "turn" else None)
            if sample:
                seconds, read = (
                    sample_wait(app, args.delay)
                    if mode == "wait"
                    else sample_sync(app, url, args.delay)
                )
            else:
                cpu = time.process_time()
                seconds, read = wait_only(app) if mode == "wait" else sync(app, url)
                parts.seconds["cpu"] = time.process_time() - cpu  # this process, every thread
            runs[mode].append(seconds)
            where = f"  ({parts.take()})"
            print(f"{source} pair {pair + 1} {mode:5}: {seconds:6.2f} s, {read:,} records{where}",
                  flush=True)  # fmt: skip
    if not sample:
        here.send("stop")
        child.join(timeout=30)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", "--hours", type=int, default=100_000)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of --pg")
    parser.add_argument("--source", nargs="+", choices=["salesforce", "workfront", "sample"],
                        default=["salesforce", "workfront"])  # fmt: skip
    parser.add_argument("--modes", nargs="+", choices=["wait", "ahead", "turn"],
                        default=["wait", "ahead", "turn"])  # fmt: skip
    args = parser.parse_args()
    if "wait" not in args.modes:
        parser.error("--modes needs wait (the ratios are over it)")

    from benchdb import ensure_database

    from pmo_ledger.jobs.logconfig import configure_logging
    from pmo_ledger.ledger.settings import LedgerSettings

    configure_logging("json", "WARNING")
    parts = Parts()
    parts.install()
    print(f"prefetch_pages default {LedgerSettings().prefetch_pages}", flush=True)
    ratios: list[str] = []
    turns: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db" if args.sqlite else args.pg
        if not args.sqlite:
            ensure_database(url)
        for source in args.source:
            runs = measure(args, source, url, tmp, parts)
            wait = statistics.median(runs["wait"])
            print(f"{source} wait on the source  {spread(runs['wait'])}")
            for mode in ("ahead", "turn"):
                if mode in runs:
                    median = statistics.median(runs[mode])
                    print(f"{source} sync, {mode:5}        {spread(runs[mode])}"
                          f"  = {median / wait:.2f}x the wait")  # fmt: skip
            if "ahead" in runs:
                ratios.append(
                    f"{source}_wall_vs_wait={statistics.median(runs['ahead']) / wait:.2f}"
                )
            if "turn" in runs:
                turns.append(
                    f"{source}_in_turn_vs_wait={statistics.median(runs['turn']) / wait:.2f}"
                )
            turns.append(f"{source}_wait_s={wait:.2f}")
    print(" ".join(ratios + turns + [f"records={args.records}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
