"""Dashboard benchmark: the portfolio page (`GET /ui`) of 2,000 projects after a reconcile.

    .venv/bin/python bench/dashboard.py [--n 200000] [--pg URL] [--skip-sqlite] [--reuse]

The ledger is the one bench/reconcile.py loads (two sample sources, 2,000 projects, 24 months
of budgets, progress, N actual lines between them; the months before this one closed), then one
reconcile. The page is asked in-process through the service's ASGI app (FastAPI's TestClient:
no network, the whole server path: gate, handler, the queries of ledger/queries/dashboard.py,
RAG, grouping, paging and the Jinja2 render of its first 100 projects). The first request
after the reconcile reads every project's figures (seven queries) and is printed on its own;
the page keeps those rows until the ledger's change markers move (`portfolio_version`, one
round trip), and `serve` reads them again in a thread of its own when they moved
(jobs.service.ui.warm), so a request reads the markers, filters, sorts, pages and renders. Each
figure is the median of `--repeat` requests in milliseconds, printed with the slowest; the
first-request figure from as many fresh service instances (each with nothing kept). The
filtered page (`?rag=red`) and the htmx partial are timed too, and the CPU time this process
spends per request (the wall figures grow with the machine's load). The last line is
`portfolio_ms_postgresql=X portfolio_ms_sqlite=Y`. Target (issue 24): under 500 ms on both.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import engine_arguments, on_each_engine, settle
from reconcile import open_ledger
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
    cold: list[float] = []
    cold_cpu: list[float] = []
    for _ in range(repeat):
        client = TestClient(create_api(Worker(app, Notifier([]))))
        started = time.process_time()
        cold += timed(client, "/ui", 1)
        cold_cpu.append((time.process_time() - started) * 1000)
    print(f"{label}: portfolio, first request without the warmer: median "
          f"{statistics.median(cold_cpu):.0f} ms CPU of this process")  # fmt: skip
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
    for name, t in (("portfolio, first request without the warmer (every row read)", cold),
                    ("portfolio", page),
                    ("portfolio ?rag=red", red),
                    ("portfolio page 2 (htmx partial)", partial)):  # fmt: skip
        print(f"{label}: {name}: median {statistics.median(t):.0f} ms, slowest {max(t):.0f} ms "
              f"({repeat} requests)")  # fmt: skip
    engine.dispose()
    return statistics.median(page), statistics.median(cold)


def main() -> int:
    parser = engine_arguments(__doc__, 200_000, "pmo_ledger_bench_dashboard")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    results = on_each_engine(args, lambda url, tmp: run(url, args.n, tmp, args.reuse, args.repeat))

    def ms(engine: str, which: int = 0) -> str:
        return f"{results[engine][which]:.0f}" if engine in results else "skipped"

    print(f"first request: portfolio_cold_ms_postgresql={ms('postgresql', 1)} "
          f"portfolio_cold_ms_sqlite={ms('sqlite', 1)}")  # fmt: skip
    print(f"portfolio_ms_postgresql={ms('postgresql')} portfolio_ms_sqlite={ms('sqlite')}")
    return 0 if all(v[0] < 500 for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
