"""Reconcile benchmark: every rule over a large ledger loaded through the sample connector.

    .venv/bin/python bench/reconcile.py --n 1000000 [--pg URL] [--skip-sqlite] [--reuse]

Two sample sources (a PSA, the authority for projects, labor, hours and budgets, and an ERP
whose projects link to the PSA's by code), N actual lines between them (70% / 30%), 2,000
projects, 24 months of budgets, 500 resources with capacity and allocations, progress (every
50th PSA project plans a tenth of its team's hours, so some work runs over plan); the months
before the current one closed. Then, on the aggregates as the load left them:
- PostgreSQL only, untimed: VACUUM ANALYZE, what autovacuum does after a load (the server
  here runs with autovacuum off, which would leave the planner without statistics);
- the from-scratch aggregate rebuild (`ledger.aggregates.rebuild`), timed on its own;
- the first reconcile into an empty variance table, and an unchanged re-run; the slower of the
  two is the figure.
Every rule family must find at least one variance on its defaults (else exit 1); the count per
rule is printed. The last line is `reconcile_seconds_postgresql=X reconcile_seconds_sqlite=Y`.
Targets (issue 5): under 2 s on PostgreSQL, 5 s on SQLite; the rebuild under 3 s on PostgreSQL.

`--reuse` keeps a ledger an earlier run loaded (the PostgreSQL database; SQLite: the file
`--sqlite-db` names) when it holds exactly N lines: it is migrated to the head, its variances
are deleted (the first reconcile still starts from an empty variance table) and the timed steps
run as above; otherwise it is loaded afresh. Loading 1,000,000 lines takes minutes.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import engine_arguments, fresh, on_each_engine, reusable, settle
from sqlalchemy import delete, func, select, text

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.models import ActualLine, FiscalPeriod, Variance, VarianceEvent
from pmo_ledger.ledger.reconcile import reconcile
from pmo_ledger.ledger.reconcile.settings import RULES
from pmo_ledger.ledger.time.periods import close_period


def config(url: str, n: int, tmp: Path) -> App:
    return App(parse_config(config_data(url, n), {}, tmp), None)


def config_data(url: str, n: int) -> dict[str, Any]:
    """The configuration of `config` as data (bench/scale.py adds a source to it)."""
    common = {"kind": "sample", "projects": 2000, "resources": 500, "months": 24,
              "start": "2025-01-01"}  # fmt: skip
    data = {
        "ledger": {
            "url": url,
            "base_currency": "USD",
            "rate_sources": ["psa"],
            "budget_phasing": "linear",
            "max_rate_age": "400d",
            "authority": {"projects": "psa", "labor": "psa", "hours": "psa", "revenue": "psa",
                          "budget": "psa", "expense": "erp"},
            "link_rules": [{"source": "erp", "object_type": "project",
                            "pattern": r"^(?P<code>PRJ-\d{4})$", "project": "{code}"}],
        },
        "connectors": {
            "psa": {**common, "seed": 42, "actuals": n * 7 // 10, "capacity_hours_per_day": 8,
                    "underplanned_every": 50},
            "erp": {**common, "seed": 7, "actuals": n - n * 7 // 10},
        },
        "reconcile": {"rules": {"source_disagreement": {
            "pairs": [{"left": "psa", "right": "erp", "cost_types": ["labor"]}]}}},
    }  # fmt: skip
    return data


def load(app: App) -> float:
    start = time.perf_counter()
    for name in ("psa", "erp"):
        result = run_sync(app, name)
        if result.status != "succeeded":
            raise SystemExit(f"load of {name} ended {result.status}: {result.message}")
    elapsed = time.perf_counter() - start
    today = datetime.now(UTC).date()
    with app.transaction() as s:
        cal = app.settings.calendar.name
        for period in s.scalars(
            select(FiscalPeriod.period).where(
                FiscalPeriod.calendar == cal, FiscalPeriod.end_on < date(today.year, today.month, 1)
            )
        ).all():
            close_period(s, cal, period, datetime.now(UTC))
    return elapsed


def open_ledger(url: str, n: int, tmp: Path, reuse: bool) -> tuple[App, bool]:
    """The benchmark's App (`config`) on its ledger, and whether it was reused: with `reuse`,
    the ledger an earlier run loaded when it holds exactly N lines (`benchdb.reusable`), else
    an empty one (`benchdb.fresh`) loaded now (`load`), with a line saying so. Its engine is
    `app._engine`; the caller disposes of it."""
    kept = reusable(url, n) if reuse else None
    app = config(url, n, tmp)
    app._engine = engine = kept or fresh(url)
    if kept is None:
        loaded = load(app)
        with app.reading() as s:
            lines = s.scalar(select(func.count()).select_from(ActualLine))
        print(f"{engine.dialect.name}: loaded {lines:,} lines in {loaded:.0f} s")
    return app, kept is not None


def run(url: str, n: int, tmp: Path, reuse: bool) -> tuple[float, list[str]]:
    app, reused = open_ledger(url, n, tmp, reuse)
    engine = app.engine
    label = engine.dialect.name
    if reused:
        with app.transaction() as s:
            # An empty variance table as after a load (PostgreSQL: no dead rows of earlier runs),
            # and its history (which refers to it).
            if label == "postgresql":
                s.execute(text("TRUNCATE variance_event, variance"))
            else:
                s.execute(delete(VarianceEvent))
                s.execute(delete(Variance))
        print(f"{label}: reused the {n:,} lines loaded earlier (variances deleted)")
    start = time.perf_counter()
    settle(engine)
    if label == "postgresql":
        print(
            f"{label}: VACUUM ANALYZE (autovacuum is off here) {time.perf_counter() - start:.0f} s"
        )
    now = datetime.now(UTC)
    start = time.perf_counter()  # each timed step includes its commit
    with app.transaction() as s:
        aggregates.rebuild(s, None, now=now)
    rebuild = time.perf_counter() - start
    print(f"{label}: aggregate rebuild from scratch {rebuild:.2f} s")
    times: list[float] = []
    counts: dict[str, int] = {}
    for attempt in ("first", "unchanged re-run"):
        start = time.perf_counter()
        with app.transaction() as s:
            result = reconcile(s, app.settings, app.config.reconcile, now=datetime.now(UTC))
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        lc = result.lifecycle
        assert lc is not None
        counts = result.count_by_rule()
        print(f"{label}: {attempt} reconcile {elapsed:.2f} s ({result.total:,} findings; "
              f"{lc.opened} opened, {lc.unchanged} unchanged, {lc.updated} updated)")  # fmt: skip
    print(f"{label}: findings per rule: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    missing = [r for r in RULES if not counts.get(r)]
    if missing:
        print(f"{label}: no variance from {', '.join(missing)}: the data misses a case")
    engine.dispose()
    return max(times), missing


def main() -> int:
    parser = engine_arguments(__doc__, 1_000_000, "pmo_ledger_bench_reconcile")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    results = on_each_engine(args, lambda url, tmp: run(url, args.n, tmp, args.reuse))

    def seconds(engine: str) -> str:
        return f"{results[engine][0]:.2f}" if engine in results else "skipped"

    print(
        f"reconcile_seconds_postgresql={seconds('postgresql')} "
        f"reconcile_seconds_sqlite={seconds('sqlite')}"
    )
    return 1 if any(missing for _, missing in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
