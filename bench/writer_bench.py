"""Writer throughput: actual lines per second through `apply_batch`, on SQLite and PostgreSQL.

    .venv/bin/python bench/writer_bench.py --rows 200000 --batch 50000 [--pg URL]

Measures a first load (all inserts), a replay (all unchanged) and a restatement (every amount
changed) of the same keys, and peak RSS. On PostgreSQL it also measures the COPY ceiling: the
same number of rows COPYed into a plain table with actual_line's columns, so the writer's
figure can be read as a ratio to what the database can ingest at all.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database
from sqlalchemy import text

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine, session_factory
from pmo_ledger.ledger.records import ActualRecord
from pmo_ledger.ledger.settings import AuthoritySettings, LedgerSettings
from pmo_ledger.ledger.write import apply_batch

PROJECTS = 200


def records(n: int, bump: int = 0) -> list[ActualRecord]:
    day0 = date(2025, 1, 1)
    return [
        ActualRecord(
            external_id=f"tc-{i:09d}",
            project_ref=f"P{i % PROJECTS:04d}",
            posted_on=day0 + timedelta(days=i % 365),
            cost_type="labor" if i % 3 else "travel",
            currency="USD",
            amount=Decimal(1000 + (i % 9000) + bump) / 100,
            hours=Decimal(i % 9),
            resource_ref=None,
        )
        for i in range(n)
    ]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(url: str, n: int, batch: int) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(engine)
    settings = LedgerSettings(
        url=url,
        authority=AuthoritySettings(
            projects="bench",
            labor="bench",
            expense="bench",
            hours="bench",
            revenue="bench",
            budget="bench",
        ),
    )
    Session = session_factory(engine)
    with Session() as s:
        now = "2025-01-01 00:00:00"
        for p in range(PROJECTS):
            s.execute(
                text(
                    "INSERT INTO project (code, name, created_at, updated_at) VALUES (:c, :c, :t, :t)"
                ),
                {"c": f"P{p:04d}", "t": now},
            )
            s.execute(
                text(
                    "INSERT INTO project_link (source, object_type, external_id, project_id, origin,"
                    " created_at, updated_at) SELECT 'bench', 'project', code, id, 'manual', :t, :t"
                    " FROM project WHERE code = :c"
                ),
                {"c": f"P{p:04d}", "t": now},
            )
        s.commit()
    for label, bump in (("first load", 0), ("replay", 0), ("restate all", 7)):
        data = records(n, bump)
        start = time.perf_counter()
        for i in range(0, n, batch):
            with Session() as s:
                apply_batch(s, settings, "bench", "timecards", data[i : i + batch])
                s.commit()
        elapsed = time.perf_counter() - start
        print(
            f"{engine.dialect.name:10} {label:12} {n:>8} rows {elapsed:7.2f} s {n / elapsed:>9,.0f} rows/s"
            f"  peak RSS {rss_mb():,.0f} MB"
        )
    if engine.dialect.name == "postgresql":
        cols = (
            "source, stream, external_id, project_id, kind, cost_type, period, posted_on, currency,"
            " amount, base_amount, hours, counts_amount, counts_hours"
        )
        raw = engine.raw_connection()
        cur = raw.cursor()
        cur.execute(f"CREATE TEMP TABLE copy_ceiling AS SELECT {cols} FROM actual_line WHERE false")
        buf = io.StringIO()
        for r in records(n):
            buf.write(
                f"bench\ttimecards\t{r.external_id}\t1\tcost\t{r.cost_type}\t2025-01\t{r.posted_on}\tUSD\t"
                f"{r.amount}\t{r.amount}\t{r.hours}\tt\tt\n"
            )
        payload = buf.getvalue()
        start = time.perf_counter()
        with cur.copy(f"COPY copy_ceiling ({cols}) FROM STDIN") as copy:
            copy.write(payload)
        raw.commit()
        elapsed = time.perf_counter() - start
        print(
            f"{'postgresql':10} {'COPY ceiling':12} {n:>8} rows {elapsed:7.2f} s {n / elapsed:>9,.0f} rows/s"
        )
        raw.close()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/pmo_ledger_bench")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", args.rows, args.batch)
    if args.pg:
        ensure_database(args.pg)
        run(args.pg, args.rows, args.batch)


if __name__ == "__main__":
    main()
