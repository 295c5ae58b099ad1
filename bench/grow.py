"""Grow a bench ledger K-fold in SQL, faster than loading it: `--times K` copies of its lines.

    .venv/bin/python bench/grow.py --pg URL --times 5

For a ledger bench/reconcile.py loaded (PostgreSQL, N lines): K-1 more copies of every actual
line and its entries, each copy k with `external_id || '~k'` and ids offset by k times the
largest id (the same source, stream, project, task, resource, period, amounts, hours and
flags: each project and period holds K times the lines, as a ledger K times as busy would),
inserted one copy a transaction into the real tables with every index, check and foreign key
(so the indexes grow as a load grows them, not as a CREATE INDEX packs them); then the
sequences moved past the new ids, the aggregates rebuilt and VACUUM ANALYZE. What it does not
write: the runs' checkpoints, scope keys and quarantine rows of the copies (no load made them).
bench/reconcile.py --reuse --n K*N then runs on it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.orm import Session

from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.db import make_engine


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", required=True)
    parser.add_argument("--times", type=int, default=5)
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    engine = make_engine(args.pg)
    with engine.begin() as c:
        line_cols = [
            r[0]
            for r in c.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'actual_line' AND column_name <> 'id'"
                    " ORDER BY ordinal_position"
                )
            )
        ]
        entry_cols = [
            r[0]
            for r in c.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'ledger_entry' AND column_name NOT IN ('id', 'line_id')"
                    " ORDER BY ordinal_position"
                )
            )
        ]
        max_line, max_entry, n = c.execute(
            text(
                "SELECT (SELECT max(id) FROM actual_line), (SELECT max(id) FROM ledger_entry),"
                " (SELECT count(*) FROM actual_line)"
            )
        ).one()
    lines = ", ".join(line_cols)
    picked = ", ".join("external_id || :suffix" if c == "external_id" else c for c in line_cols)
    entries = ", ".join(entry_cols)
    print(f"ledger: {n:,} lines, max line id {max_line:,}, max entry id {max_entry:,}")
    for k in range(1, args.times):
        start = time.perf_counter()
        with engine.begin() as c:
            c.execute(
                text(
                    f"INSERT INTO actual_line (id, {lines}) SELECT id + :off, {picked}"
                    " FROM actual_line WHERE id <= :max ORDER BY id"
                ),
                {"off": k * max_line, "max": max_line, "suffix": f"~{k}"},
            )
            c.execute(
                text(
                    f"INSERT INTO ledger_entry (id, line_id, {entries})"
                    f" SELECT id + :eoff, line_id + :off, {entries}"
                    " FROM ledger_entry WHERE id <= :emax ORDER BY id"
                ),
                {"off": k * max_line, "eoff": k * max_entry, "emax": max_entry},
            )
        print(f"copy {k}: {n:,} lines and their entries in {time.perf_counter() - start:.0f} s")
    with engine.begin() as c:
        for table in ("actual_line", "ledger_entry"):
            c.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
            )
    start = time.perf_counter()
    with Session(engine) as s, s.begin():
        aggregates.rebuild(s, None, now=datetime.now(UTC))
    print(f"aggregates rebuilt in {time.perf_counter() - start:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
