"""What each index of the ledger's large tables costs to write and how large it is (issue 25).

    .venv/bin/python bench/index_audit.py --pg URL [--lines 200000] [--rounds 3]

On a PostgreSQL ledger that holds lines already (bench/reconcile.py or bench/ingest.py loaded
it): for `actual_line` and `ledger_entry`, TEMP copies of `--lines` lines and their entries,
then per round, in a rotating order, the same INSERT ... SELECT (under EXPLAIN ANALYZE) into an
empty table like the real one (LIKE ... INCLUDING ALL: every index, check and default; no
foreign keys, the same for every variant) with every index, and with every index but one, for
each index in turn. An index's write cost per row is the difference: in WAL bytes and shared
buffers touched (the same in every round: the part of the cost a shared machine's noise does
not move) and in time (the median over the rounds; on a busy machine within its noise).
Also prints each index's size (`pg_relation_size`) and its `idx_scan` count (what used it
since the statistics were last reset: bench/index_usage.py runs a workload after a reset).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import NamedTuple

import psycopg

TABLES = {"actual_line": "audit_line", "ledger_entry": "audit_entry"}


def indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str, int, int]]:
    """(name, definition, bytes, idx_scan) of `table`'s indexes."""
    return [
        (str(r[0]), str(r[1]), int(r[2]), int(r[3]))
        for r in conn.execute(
            "SELECT i.indexrelname, pg_get_indexdef(i.indexrelid), pg_relation_size(i.indexrelid),"
            " i.idx_scan FROM pg_stat_user_indexes i WHERE i.relname = %s ORDER BY 1",
            (table,),
        )
    ]


def insert_seconds(
    conn: psycopg.Connection, table: str, source: str, without: str | None
) -> Insert:
    """Insert the TEMP rows `source` into a fresh copy of `table` less one index (EXPLAIN
    ANALYZE: the WAL and buffer counts are the machine's noise-free part of the cost)."""
    copy = TABLES[table]
    conn.execute(f"DROP TABLE IF EXISTS {copy}")
    conn.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)")
    if without is not None:
        # LIKE names the copies itself: find the copy of `without` by its definition.
        want = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (without,)).fetchone()
        assert want is not None
        body = str(want[0]).split(" USING ", 1)[1]
        for name, definition, _, _ in indexes_of_copy(conn, copy):
            if definition.split(" USING ", 1)[1] == body:
                conn.execute(f'DROP INDEX "{name}"')
                break
        else:
            raise SystemExit(f"no copy of {without} on {copy}")
    conn.commit()
    start = time.perf_counter()
    row = conn.execute(
        f"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) INSERT INTO {copy} SELECT * FROM {source}"
    ).fetchone()
    conn.commit()
    elapsed = time.perf_counter() - start
    assert row is not None
    plan = row[0][0]["Plan"]
    conn.execute(f"DROP TABLE {copy}")
    conn.commit()
    return Insert(
        elapsed,
        int(plan["WAL Bytes"]),
        int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"]),
    )


class Insert(NamedTuple):
    """One INSERT ... SELECT: its seconds, the WAL it wrote, the shared buffers it touched."""

    seconds: float
    wal: int
    blocks: int


def indexes_of_copy(conn: psycopg.Connection, copy: str) -> list[tuple[str, str, int, int]]:
    return [
        (str(r[0]), str(r[1]), 0, 0)
        for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (copy,)
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", required=True)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tables", default="actual_line,ledger_entry")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with psycopg.connect(args.pg) as conn:
        n = conn.execute("SELECT count(*) FROM actual_line").fetchone()
        assert n is not None
        print(f"ledger: {n[0]:,} actual lines")
        conn.execute(
            "CREATE TEMP TABLE src_line AS SELECT * FROM actual_line ORDER BY id DESC LIMIT %s",
            (args.lines,),
        )
        conn.execute(
            "CREATE TEMP TABLE src_entry AS SELECT e.* FROM ledger_entry e"
            " JOIN src_line l ON l.id = e.line_id"
        )
        sources = {"actual_line": "src_line", "ledger_entry": "src_entry"}
        counts = {
            t: int(conn.execute(f"SELECT count(*) FROM {s}").fetchone()[0])  # type: ignore[index]
            for t, s in sources.items()
        }
        conn.commit()
        for table in [t for t in args.tables.split(",") if t]:
            rows = counts[table]
            idx = indexes(conn, table)
            # The primary and unique keys are constraints (the writer's upsert needs them).
            droppable = [name for name, *_ in idx if not name.startswith(("pk_", "uq_"))]
            variants: list[str | None] = [None, *droppable]
            runs: dict[str | None, list[Insert]] = {v: [] for v in variants}
            for r in range(args.rounds):
                k = r % len(variants)
                for v in variants[k:] + variants[:k]:
                    runs[v].append(insert_seconds(conn, table, sources[table], v))
            full = runs[None]
            secs = [x.seconds for x in full]
            print(
                f"\n{table}: {rows:,} rows inserted with every index: median"
                f" {statistics.median(secs):.2f} s (spread {min(secs):.2f}-{max(secs):.2f}),"
                f" WAL {statistics.median(x.wal for x in full) / rows:,.0f} bytes/row, shared"
                f" buffers touched {statistics.median(x.blocks for x in full) / rows:.1f}/row"
            )
            print(
                "| index | definition | size | idx_scan | WAL, bytes/row | buffers/row"
                " | time, us/row: median (spread) |"
            )
            print("|---|---|---|---|---|---|---|")
            for name, definition, size, scans in idx:
                cols = definition.split(" USING btree ", 1)[1]
                cost = "constraint | | "
                if name in runs:
                    less = runs[name]
                    us = [
                        (a.seconds - b.seconds) / rows * 1e6
                        for a, b in zip(full, less, strict=True)
                    ]
                    wal = statistics.median(a.wal - b.wal for a, b in zip(full, less, strict=True))
                    blocks = statistics.median(
                        a.blocks - b.blocks for a, b in zip(full, less, strict=True)
                    )
                    cost = (
                        f"{wal / rows:,.0f} | {blocks / rows:.2f} |"
                        f" {statistics.median(us):.1f} ({min(us):.1f}-{max(us):.1f})"
                    )
                print(f"| {name} | {cols} | {size / 2**20:.1f} MB | {scans:,} | {cost} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
