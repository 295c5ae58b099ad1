"""Dashboard benchmark: the portfolio page (`GET /ui`) of 2,000 projects after a reconcile.

    .venv/bin/python bench/dashboard.py [--n 200000] [--pg URL] [--skip-sqlite] [--reuse]
        [--sqlite-db FILE] [--repeat 7]

The ledger is the one bench/reconcile.py loads (two sample sources, 2,000 projects, 24 months
of budgets, progress, N actual lines between them; the months before this one closed), then one
live reconcile, which writes the portfolio snapshot (ledger/reconcile/snapshot.py). The page is
asked through the service's ASGI app (FastAPI's TestClient: no network, the whole server path:
gate, handler, the queries of ledger/queries/dashboard.py, RAG, grouping, paging and the Jinja2
render of its first 100 projects).

- **Cold** (the issue's figure, the last line): the first `/ui` of a fresh service process
  right after the reconcile, no rows kept: each of `--repeat` child processes builds the app,
  answers the readiness probe `GET /readyz` (database reachable, migrations at head: what a
  load balancer or `docker compose` waits for before sending anyone; it also configures
  SQLAlchemy's mappers and opens the first connection), then asks `/ui` once; that request's
  wall and CPU time are reported. The child checks that the page read the snapshot ("by
  reconcile run" on the page). The same without the probe (the very first request of a bare
  process, paying those one-time costs) is printed too.
- **Warm**: the rows kept by the page between requests (`portfolio_version`), as `serve`'s
  warmer keeps them; the filtered page (`?rag=red`) and the htmx partial too.

Each figure is the median of `--repeat` requests in milliseconds, printed with the slowest,
and with the load average (`os.getloadavg`) at the time: the machine is shared and wall times
grow with its load. The last line is `portfolio_ms_postgresql=X portfolio_ms_sqlite=Y`, the cold
medians. Target (issue 24): under 500 ms on both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import engine_arguments, on_each_engine, settle
from reconcile import config, open_ledger
from sqlalchemy import func, select

from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.models import ActualLine, Project
from pmo_ledger.ledger.reconcile import reconcile


def timed(
    client: object, path: str, repeat: int, headers: dict[str, str] | None = None
) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(path, headers=headers or {})  # type: ignore[attr-defined]
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return times


def run(url: str, n: int, tmp: Path, reuse: bool, repeat: int) -> tuple[float, float]:
    from fastapi.testclient import TestClient

    app, _ = open_ledger(url, n, tmp, reuse)
    engine = app.engine
    label = engine.dialect.name
    settle(engine)
    with app.transaction() as s:
        aggregates.rebuild(s, None, now=datetime.now(UTC))
    start = time.perf_counter()
    with app.transaction() as s:
        result = reconcile(s, app.settings, app.config.reconcile, now=datetime.now(UTC))
    print(f"{label}: reconcile {time.perf_counter() - start:.2f} s ({result.total:,} findings)")
    settle(engine)
    with app.reading() as s:
        projects = s.scalar(select(func.count()).select_from(Project)) or 0
        lines = s.scalar(select(func.count()).select_from(ActualLine)) or 0
    print(f"{label}: {projects - 1:,} projects, {lines:,} lines")
    for probe, what in ((False, "the very first request of a bare process"),
                        (True, "the first /ui of a fresh service (after /readyz)")):  # fmt: skip
        cold: list[float] = []
        cold_cpu: list[float] = []
        for _ in range(repeat):
            wall, used = cold_request(url, n, tmp, probe)
            cold.append(wall)
            cold_cpu.append(used)
        print(f"{label}: portfolio, {what}, right after the reconcile: median "
              f"{statistics.median(cold):.0f} ms (slowest {max(cold):.0f} ms; "
              f"{statistics.median(cold_cpu):.0f} ms CPU of that process; {repeat} processes; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    # `serve` keeps the rows read (jobs.service.ui.warm): after the reconcile its warmer has
    # read them before the first person asks.
    api = create_api(Worker(app, Notifier([])))
    start = time.perf_counter()
    api.state.ui_portfolio_rows()
    print(f"{label}: the warmer read every project's row in {time.perf_counter() - start:.2f} s")
    client = TestClient(api)
    first = client.get("/ui")
    rows = first.text.count("<tr data-project=")
    print(f"{label}: the page shows {rows} of its projects (paged), {len(first.text):,} bytes")
    page = timed(client, "/ui", repeat)
    red = timed(client, "/ui?rag=red", repeat)
    partial = timed(client, "/ui?page=2", repeat,
                    {"HX-Request": "true", "HX-Target": "portfolio-results"})  # fmt: skip
    cpu = []
    for _ in range(repeat):
        started = time.process_time()
        client.get("/ui")
        cpu.append((time.process_time() - started) * 1000)
    print(
        f"{label}: portfolio: median {statistics.median(cpu):.0f} ms CPU of this process "
        f"(the load average here was {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for name, t in (("portfolio, rows kept", page),
                    ("portfolio ?rag=red", red),
                    ("portfolio page 2 (htmx partial)", partial)):  # fmt: skip
        print(f"{label}: {name}: median {statistics.median(t):.0f} ms, slowest {max(t):.0f} ms "
              f"({repeat} requests)")  # fmt: skip
    engine.dispose()
    return statistics.median(page), statistics.median(cold)


def cold_request(url: str, n: int, tmp: Path, probe: bool) -> tuple[float, float]:
    """The first `GET /ui` of a fresh child process, after `GET /readyz` when `probe`: (wall
    ms, CPU ms of that process)."""
    args = [sys.executable, __file__, "--cold-child", url, "--n", str(n), "--tmp", str(tmp)]
    done = subprocess.run(  # noqa: S603 (this interpreter and this script)
        [*args, "--probe"] if probe else args,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"cold request failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["wall_ms"]), float(figures["cpu_ms"])


def cold_child(url: str, n: int, tmp: Path, probe: bool) -> int:
    """In a fresh process: build the service, answer `/readyz` when `probe`, time its first
    `GET /ui`, print JSON."""
    from fastapi.testclient import TestClient

    app = config(url, n, tmp)
    client = TestClient(create_api(Worker(app, Notifier([]))))
    if probe and client.get("/readyz").status_code != 200:
        raise SystemExit("GET /readyz: not ready")
    started, cpu = time.perf_counter(), time.process_time()
    answer = client.get("/ui")
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"GET /ui: {answer.status_code} {answer.text[:300]}")
    if "by reconcile run" not in answer.text:
        raise SystemExit("the page did not read the reconcile's snapshot")
    print(json.dumps({"wall_ms": wall_ms, "cpu_ms": cpu_ms}))
    app.close()
    return 0


def main() -> int:
    parser = engine_arguments(__doc__, 200_000, "pmo_ledger_bench_dashboard")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold-child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    if args.cold_child:
        return cold_child(args.cold_child, args.n, args.tmp, args.probe)
    results = on_each_engine(args, lambda url, tmp: run(url, args.n, tmp, args.reuse, args.repeat))

    def ms(engine: str, which: int = 0) -> str:
        return f"{results[engine][which]:.0f}" if engine in results else "skipped"

    print(f"rows kept: portfolio_warm_ms_postgresql={ms('postgresql')} "
          f"portfolio_warm_ms_sqlite={ms('sqlite')}")  # fmt: skip
    print(f"portfolio_ms_postgresql={ms('postgresql', 1)} portfolio_ms_sqlite={ms('sqlite', 1)}")
    return 0 if all(v[1] < 500 for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
