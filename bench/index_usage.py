"""Which index the ledger's reads use: `idx_scan` per index after a workload (issue 25).

    .venv/bin/python bench/index_usage.py --pg URL [--project PRJ-0001]

On a ledger bench/reconcile.py loaded (PostgreSQL): resets the database's statistics, then runs
each step of the workload and prints, after each, the indexes of `actual_line`,
`ledger_entry`, `budget_line`, `budget_entry`, `quarantine` and `variance` whose `idx_scan`
grew in it. The steps: the live reconcile (every rule, findings written); the same for one
project; a read-only reconcile as known now and as known before the ledger's first entry
(every project, then one); the dashboard's project page queries, the analyst views for one
project and every variance's lines; the unmapped keys of the mapping screen. The writer's
lookups are measured by a load on the same ledger (bench/scale.py) with the statistics
reset before it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reconcile import config
from sqlalchemy import Engine, text

from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.queries import dashboard, mappings
from pmo_ledger.ledger.reconcile import reconcile

TABLES = ("actual_line", "ledger_entry", "budget_line", "budget_entry", "quarantine", "variance")


def scans(engine: Engine) -> dict[str, int]:
    time.sleep(1.2)  # backends flush their counts when idle, at most once a second
    with engine.connect() as c:
        c.execute(text("SELECT pg_stat_clear_snapshot()"))
        return {
            str(name): int(n)
            for name, n in c.execute(
                text(
                    "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes"
                    " WHERE relname = ANY(:t)"
                ),
                {"t": list(TABLES)},
            )
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", required=True)
    parser.add_argument("--project", default="PRJ-0001")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    engine = make_engine(args.pg)
    with engine.connect() as c:
        first = c.execute(text("SELECT min(recorded_at) FROM ledger_entry")).scalar_one()
        pid = c.execute(
            text("SELECT id FROM project WHERE code = :c"), {"c": args.project}
        ).scalar_one()
    early = first - timedelta(seconds=1)
    with tempfile.TemporaryDirectory() as tmp:
        app = config(args.pg, 0, Path(tmp))
        app._engine = engine

        def rec(**kw: Any) -> Callable[[], None]:
            def step() -> None:
                with app.transaction() as s:
                    reconcile(s, app.settings, app.config.reconcile, now=datetime.now(UTC), **kw)

            return step

        def views() -> None:
            with app.reading() as s:
                for view in (
                    "v_project_budget_vs_actual",
                    "v_project_budget_vs_actual_by_period",
                    "v_project_evm",
                    "v_open_variances",
                ):
                    s.execute(text(f"SELECT * FROM {view} WHERE project_id = :p"), {"p": pid}).all()
                s.execute(text("SELECT count(*) FROM v_variance_lines")).all()
                s.execute(text("SELECT count(*) FROM v_resource_utilization")).all()

        def page() -> None:
            with app.reading() as s:
                dashboard.by_period(s, pid)
                dashboard.project_actual(s, pid)
                dashboard.open_variances(s, pid)
                dashboard.portfolio_version(s)

        def unmapped() -> None:
            with app.reading() as s:
                mappings.unmapped_keys(s)

        steps: list[tuple[str, Callable[[], None]]] = [
            ("live reconcile, every project", rec()),
            ("live reconcile, one project", rec(project=args.project)),
            ("as known now, every project", rec(as_known_at=datetime.now(UTC), write=False)),
            ("as known before the first entry", rec(as_known_at=early, write=False)),
            (
                "as known now, one project",
                rec(as_known_at=datetime.now(UTC), project=args.project, write=False),
            ),
            ("views, one project; every variance's lines", views),
            ("dashboard project page", page),
            ("mapping screen: unmapped keys", unmapped),
        ]
        with engine.connect() as c:
            c.execute(text("SELECT pg_stat_reset()"))
            c.commit()
        before = scans(engine)
        for label, step in steps:
            step()
            after = scans(engine)
            grew = {k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)}
            print(f"{label}: " + (", ".join(f"{k} {v:,}" for k, v in sorted(grew.items())) or "-"))
            before = after
        total = scans(engine)
        print("never used: " + ", ".join(sorted(k for k, v in total.items() if not v)))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
