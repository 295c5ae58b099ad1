"""How a load grows with the ledger's size: the same new lines into an empty and a large ledger.

    .venv/bin/python bench/scale.py --pg URL [--n 100000] [--source NAME] [--keep]

`URL` is a ledger bench/reconcile.py loaded (its PSA and ERP sources; any N), or an empty
database. A new sample source (`--source`, default `x<time>`: a name no run used, so no
checkpoint or listed key of an earlier run applies; seed 99, the ERP's shape: its projects
link to the PSA's by code) loads `--n` new actual lines into it with `run_sync` of its
`actuals` stream (timed from the start of the run to its commit; its projects, resources
and rates loaded before, untimed; not its tasks, see REFERENCE). On an empty database the
PSA's projects, resources and rates are loaded first too, so the new lines have the same
projects to link to. Afterwards the source's lines, entries, quarantine rows and aggregates are removed again
(unless `--keep`), so the ledger can be measured again.

Prints the ledger's size before (lines, and the heap and index bytes of `actual_line` and
`ledger_entry`) and the load's rows/s; the last line is `scale_rows_per_s=R ledger_lines=L`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import ensure_database
from reconcile import config_data
from sqlalchemy import Engine, inspect, text

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine

#: What the actuals refer to, loaded before the timer. Not the tasks: on a ledger that holds
#: other sources' tasks, their parent UPDATE (ledger/write/tasks.py `_set_parents`, then a
#: correlated subquery over an unindexed TEMP stage) took over 10 minutes for 24,000 tasks on
#: 2026-12-07 (since fixed, see bench/task_parents.py); without them the new lines carry no
#: task id (no quarantine: one foreign-key check less per line, the same for every ledger
#: size), which keeps the figures comparable with the earlier runs.
REFERENCE = ["projects", "resources", "fx_rates"]


def make_app(url: str, source: str, n: int, tmp: Path) -> App:
    """bench/reconcile.py's configuration (its sources not loaded here) plus `source`: the
    ERP's shape, its own seed, `n` actuals, its projects linked to the PSA's by code."""
    data = config_data(url, 0)
    erp = data["connectors"]["erp"]
    data["connectors"][source] = {**erp, "seed": 99, "actuals": n}
    link = next(r for r in data["ledger"]["link_rules"] if r["source"] == "erp")
    data["ledger"]["link_rules"].append({**link, "source": source})
    return App(parse_config(data, {}, tmp), None)


def sizes(engine: Engine) -> str:
    with engine.connect() as c:
        lines = c.execute(text("SELECT count(*) FROM actual_line")).scalar_one()
        parts = []
        for t in ("actual_line", "ledger_entry"):
            heap, idx = c.execute(
                text("SELECT pg_table_size(:t), pg_indexes_size(:t)"), {"t": t}
            ).one()
            parts.append(f"{t} {heap / 2**20:,.0f} MB + indexes {idx / 2**20:,.0f} MB")
    return f"{lines:,} lines; " + "; ".join(parts)


def remove(engine: Engine, source: str) -> None:
    """The source's rows out again (a bench ledger only: the ledger itself never deletes).
    Its entries go first, so the foreign-key checks of the line deletes are skipped: without
    an index on `ledger_entry.line_id` (migration 0017) each would scan every entry."""
    with engine.begin() as c:
        c.execute(text("SET LOCAL session_replication_role = replica"))
        for sql in (
            "DELETE FROM ledger_entry WHERE source = :s",
            "DELETE FROM actual_line WHERE source = :s",
            "DELETE FROM quarantine WHERE source = :s",
            "DELETE FROM actual_period_total WHERE source = :s",
        ):
            c.execute(text(sql), {"s": source})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE actual_line, ledger_entry"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--source", default=f"x{int(time.time())}")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ensure_database(args.pg)
    engine = make_engine(args.pg)
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(args.pg, args.source, args.n, Path(tmp))
        app._engine = engine
        empty = not inspect(engine).has_table("actual_line")
        migrate.upgrade(engine)
        if empty:
            run_sync(app, "psa", streams=REFERENCE)
        run_sync(app, args.source, streams=REFERENCE)
        before = sizes(engine)
        lines = int(before.split(" ", 1)[0].replace(",", ""))
        print(f"before: {before}")
        start = time.perf_counter()
        result = run_sync(app, args.source, streams=["actuals"])
        elapsed = time.perf_counter() - start
        if result.status != "succeeded":
            raise SystemExit(f"load of {args.source} ended {result.status}: {result.message}")
        written = sum(s.stats.written for s in result.streams)
        print(f"after: {sizes(engine)}")
        print(
            f"{args.source}: {args.n:,} new lines ({written:,} records written) into {lines:,}"
            f" in {elapsed:.1f} s: {args.n / elapsed:,.0f} rows/s"
        )
        if not args.keep:
            remove(engine, args.source)
    engine.dispose()
    print(f"scale_rows_per_s={args.n / elapsed:.0f} ledger_lines={lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
