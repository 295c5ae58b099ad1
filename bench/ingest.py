"""Ingest benchmark: the sample connector's pages through `run_sync`, beside a COPY ceiling.

    .venv/bin/python bench/ingest.py --n 1000000 [--pg URL] [--skip-sqlite]

For PostgreSQL (and SQLite, rows/s only) it measures, on the same N sample actuals:
- first load: `run_sync` of the `actuals` stream into an empty ledger (projects, tasks and
  resources loaded before the timer);
- unchanged re-run: `run_sync(full=True)` over the same N records (writes no line, entry or
  quarantine row), with the WAL it wrote (PostgreSQL);
- the ceiling, in the same process on the same records: psycopg COPY of 13 plain columns into
  a temp staging table, then one INSERT ... SELECT ... ON CONFLICT (source, external_id) DO
  UPDATE ... WHERE changed into a table with that key and one more b-tree index.
Both timers include generating the records. Peak RSS is reported per N.

Also the write floor (PostgreSQL): only the writes the ledger itself requires for new lines,
timed on up to 200,000 of the loaded lines and their entries: one INSERT ... SELECT from a
TEMP copy into a table like `actual_line` and one into a table like `ledger_entry`, with
their indexes and foreign keys, and nothing else (no records to generate, no Python, no stage,
no lookups). (bench/peers.py also times it on all N lines in the load's batches: `write_floor`.) Its share of the ceiling is the highest `ingest_ratio` this schema allows here.

Prints `ingest_rows_per_s=X` for the first load and, last, `ingest_ratio=R`; exits 1 when the
ceiling is below 60,000 rows/s at N = 1,000,000 (the machine is too slow to judge).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database, fresh
from sqlalchemy import Engine, text

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.records import ActualRecord

CEILING_FLOOR = 60_000


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_settings(n: int) -> dict[str, Any]:
    return {"kind": "sample", "actuals": n, "projects": 50, "resources": 200}


def make_app(url: str, n: int, tmp: Path) -> App:
    data = {
        "ledger": {"url": url, "base_currency": "USD", "rate_sources": ["bench"]},
        "connectors": {"bench": sample_settings(n)},
    }
    return App(parse_config(data, {}, tmp), None)


def wal_bytes(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar())


def timed_sync(app: App, **kw: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run_sync(app, "bench", streams=["actuals"], **kw)
    return time.perf_counter() - start, result


def ceiling(url: str, n: int) -> float:
    """rows/s of COPY + INSERT ... ON CONFLICT DO UPDATE WHERE changed, records generated inside."""
    import psycopg

    connector = SampleConnector(
        SampleSettings(actuals=n, projects=50, resources=200), ConnectorContext("bench")
    )
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("DROP TABLE IF EXISTS ceiling_line")
        conn.execute(
            "CREATE TABLE ceiling_line (source text, external_id text, project text, task text,"
            " cost_type text, amount numeric(20,4), currency char(3), posted_on date, hours numeric(14,4),"
            " resource text, description text, modified_at timestamptz, hash text,"
            " UNIQUE (source, external_id))"
        )
        conn.execute("CREATE INDEX ON ceiling_line (project, posted_on)")
        conn.execute("CREATE TEMP TABLE ceiling_stage (LIKE ceiling_line)")
        conn.commit()
        start = time.perf_counter()
        cols = (
            "source, external_id, project, task, cost_type, amount, currency, posted_on, hours,"
            " resource, description, modified_at, hash"
        )
        with conn.cursor() as cur, cur.copy(f"COPY ceiling_stage ({cols}) FROM STDIN") as copy:
            for page in connector.extract("actuals", ReadRequest()):
                for r in page.records:
                    if isinstance(r, ActualRecord):
                        copy.write_row(
                            (
                                "bench",
                                r.external_id,
                                r.project_ref,
                                r.task_ref,
                                r.cost_type,
                                r.amount,
                                r.currency,
                                r.posted_on,
                                r.hours,
                                r.resource_ref,
                                r.description,
                                r.source_modified_at,
                                str(hash((r.amount, r.hours, r.project_ref))),
                            )
                        )
        conn.execute(
            f"INSERT INTO ceiling_line ({cols}) SELECT {cols} FROM ceiling_stage"
            " ON CONFLICT (source, external_id) DO UPDATE SET amount = excluded.amount,"
            " hours = excluded.hours, project = excluded.project, hash = excluded.hash,"
            " modified_at = excluded.modified_at WHERE ceiling_line.hash IS DISTINCT FROM excluded.hash"
        )
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE ceiling_line")
        conn.commit()
    return n / elapsed


FLOOR_LINES = 200_000


def write_floor(engine: Engine, limit: int | None = FLOOR_LINES, batch: int | None = None) -> float:
    """lines/s of the ledger's own writes for new lines, from TEMP copies of loaded ones: into
    tables like actual_line and ledger_entry (every index, check and foreign key).

    `limit`: the first lines loaded (None: all of them). `batch`: that many lines and their
    entries a transaction, in the order they were loaded, as the load writes them (None: one
    INSERT of each table). All N lines in batches is the floor of a load of N: its indexes grow
    to N entries as the load's do; the first 200,000 into empty copies, one statement each, is
    the figure of the earlier sessions, and flatters a large N."""
    relations = {"actual_line": "floor_actual_line", "ledger_entry": "floor_ledger_entry"}
    cap = "" if limit is None else f" LIMIT {int(limit)}"
    with engine.connect() as c:
        c.execute(text(f"CREATE TEMP TABLE floor_line AS SELECT * FROM actual_line ORDER BY id{cap}"))  # fmt: skip
        c.execute(text("CREATE TEMP TABLE floor_entry AS SELECT e.* FROM ledger_entry e JOIN floor_line l ON l.id = e.line_id ORDER BY e.id"))  # fmt: skip
        lines = c.execute(text("SELECT count(*) FROM floor_line")).scalar_one()
        entries = c.execute(text("SELECT count(*) FROM floor_entry")).scalar_one()
        bounds: list[tuple[int, int]] = []
        if batch:
            c.execute(text("CREATE INDEX ON floor_line (id)"))
            c.execute(text("CREATE INDEX ON floor_entry (line_id)"))
            c.execute(text("ANALYZE floor_line"))
            c.execute(text("ANALYZE floor_entry"))
            ids = [r[0] for r in c.execute(text("SELECT id FROM floor_line ORDER BY id"))]
            starts = ids[::batch]
            ends = [*starts[1:], ids[-1] + 1] if ids else []
            bounds = list(zip(starts, ends, strict=True))
        for table, copy in relations.items():
            c.execute(text(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)"))
        fks = c.execute(
            text(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE contype = 'f' AND conrelid IN ('actual_line'::regclass, 'ledger_entry'::regclass)"
            )
        ).all()
        for table, definition in fks:
            target = definition.replace("REFERENCES actual_line(", "REFERENCES floor_actual_line(")
            c.execute(text(f"ALTER TABLE {relations[table]} ADD {target}"))
        c.commit()
        try:
            start = time.perf_counter()
            if not bounds:
                c.execute(text("INSERT INTO floor_actual_line SELECT * FROM floor_line"))
                c.execute(text("INSERT INTO floor_ledger_entry SELECT * FROM floor_entry"))
                c.commit()
            for lo, hi in bounds:
                span = {"lo": lo, "hi": hi}
                c.execute(text("INSERT INTO floor_actual_line SELECT * FROM floor_line WHERE id >= :lo AND id < :hi ORDER BY id"), span)  # fmt: skip
                c.execute(text("INSERT INTO floor_ledger_entry SELECT * FROM floor_entry WHERE line_id >= :lo AND line_id < :hi ORDER BY id"), span)  # fmt: skip
                c.commit()
            elapsed = time.perf_counter() - start
        finally:
            c.rollback()
            c.execute(
                text("DROP TABLE floor_ledger_entry, floor_actual_line, floor_line, floor_entry")
            )
            c.commit()
    how = f"in transactions of {batch:,} lines" if batch else "one INSERT each"
    print(
        f"write floor: {lines:,} lines and {entries:,} entries inserted from TEMP copies, {how}"
        f" (indexes and foreign keys, nothing else) {lines / elapsed:,.0f} lines/s",
        flush=True,
    )
    return lines / elapsed


def run(url: str, n: int, tmp: Path) -> dict[str, float]:
    engine = fresh(url)
    app = make_app(url, n, tmp)
    app._engine = engine
    run_sync(app, "bench", streams=["projects", "tasks", "resources", "fx_rates"])
    wal0 = wal_bytes(engine) if engine.dialect.name == "postgresql" else 0
    first_s, first = timed_sync(app)
    wal1 = wal_bytes(engine) if engine.dialect.name == "postgresql" else 0
    again_s, again = timed_sync(app, full=True)
    wal2 = wal_bytes(engine) if engine.dialect.name == "postgresql" else 0
    stats = again.streams[0].stats
    out = {
        "first_rows_per_s": n / first_s,
        "rerun_rows_per_s": n / again_s,
        "rerun_written": stats.written + stats.deleted + stats.quarantined,
        "first_wal_mb": (wal1 - wal0) / 2**20,
        "rerun_wal_mb": (wal2 - wal1) / 2**20,
        "peak_rss_mb": rss_mb(),
    }
    if engine.dialect.name == "postgresql":
        out["floor_rows_per_s"] = write_floor(engine)
    print(
        f"{engine.dialect.name:10} N={n:>9,} first load {n / first_s:>9,.0f} rows/s ({first.status}),"
        f" unchanged re-run {n / again_s:>9,.0f} rows/s ({again.status}, {out['rerun_written']:.0f} written),"
        f" WAL {out['first_wal_mb']:.1f} / {out['rerun_wal_mb']:.1f} MB, peak RSS {out['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/pmo_ledger_bench")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sqlite:
            run(f"sqlite:///{tmp}/bench.db", args.n, Path(tmp))
        ensure_database(args.pg)
        pg = run(args.pg, args.n, Path(tmp))
        ceil = ceiling(args.pg, args.n)
    ratio = Decimal(pg["first_rows_per_s"] / ceil).quantize(Decimal("0.001"))
    print(f"ceiling {ceil:,.0f} rows/s (COPY + INSERT ... ON CONFLICT, records generated inside)")
    floor_share = Decimal(pg["floor_rows_per_s"] / ceil).quantize(Decimal("0.001"))
    print(
        f"write floor / ceiling = {floor_share}: the highest ingest_ratio this schema allows here"
    )
    print(f"ingest_rows_per_s={pg['first_rows_per_s']:.0f}")
    print(f"ingest_ratio={ratio}")
    if args.n >= 1_000_000 and ceil < CEILING_FLOOR:
        print(
            f"the ceiling {ceil:,.0f} rows/s is below {CEILING_FLOOR:,}: this machine is too slow to judge"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
