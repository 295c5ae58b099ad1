"""Dashboard benchmark: the portfolio page (`GET /ui`) of 2,000 projects after a reconcile.

    .venv/bin/python bench/dashboard.py [--n 200000] [--pg URL] [--skip-sqlite] [--reuse]

The ledger is the one bench/reconcile.py loads (two sample sources, 2,000 projects, 24 months
of budgets, progress, N actual lines between them; the months before this one closed), then one
reconcile. The page is asked in-process through the service's ASGI app (FastAPI's TestClient:
no network, the whole server path: gate, handler, the queries of ledger/queries/dashboard.py,
RAG, grouping, paging and the Jinja2 render of its first 100 projects). One warm-up, then
`--repeat` timed requests; the figure is their median in milliseconds, printed with the
slowest. The filtered page (`?rag=red`) and the htmx partial are timed too. The last line is
`portfolio_ms_postgresql=X portfolio_ms_sqlite=Y`. Target (issue 24): under 500 ms on both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import ensure_database, fresh, reusable, settle
from reconcile import config, load
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


def run(url: str, n: int, tmp: Path, reuse: bool, repeat: int) -> float:
    from fastapi.testclient import TestClient

    kept = reusable(url, n) if reuse else None
    engine = kept or fresh(url)
    app = config(url, n, tmp)
    app._engine = engine
    label = engine.dialect.name
    if kept is None:
        loaded = load(app)
        print(f"{label}: loaded {n:,} lines in {loaded:.0f} s")
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
    client = TestClient(create_api(Worker(app, Notifier([]))))
    first = client.get("/ui")
    rows = first.text.count("<tr data-project=")
    print(f"{label}: the page shows {rows} of its projects (paged), {len(first.text):,} bytes")
    page = timed(client, "/ui", repeat)
    red = timed(client, "/ui?rag=red", repeat)
    partial = timed(client, "/ui?page=2", repeat,
                    {"HX-Request": "true", "HX-Target": "portfolio-results"})  # fmt: skip
    for name, t in (("portfolio", page), ("portfolio ?rag=red", red),
                    ("portfolio page 2 (htmx partial)", partial)):  # fmt: skip
        print(f"{label}: {name}: median {statistics.median(t):.0f} ms, slowest {max(t):.0f} ms "
              f"({repeat} requests)")  # fmt: skip
    engine.dispose()
    return statistics.median(page)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/pmo_ledger_bench_dashboard"
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--sqlite-db", type=Path, help="the SQLite file (default: a temporary one)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a ledger of N lines loaded by an earlier run"
    )
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_postgresql:
            ensure_database(args.pg)
            results["postgresql"] = run(args.pg, args.n, Path(tmp), args.reuse, args.repeat)
        if not args.skip_sqlite:
            db = args.sqlite_db or Path(tmp) / "bench.db"
            results["sqlite"] = run(f"sqlite:///{db}", args.n, Path(tmp), args.reuse, args.repeat)

    def ms(engine: str) -> str:
        return f"{results[engine]:.0f}" if engine in results else "skipped"

    print(f"portfolio_ms_postgresql={ms('postgresql')} portfolio_ms_sqlite={ms('sqlite')}")
    return 0 if all(v < 500 for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
