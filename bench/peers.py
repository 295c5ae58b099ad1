"""The first load and the re-run beside what a Python team would write: dlt and SQLAlchemy Core.

    .venv/bin/pip install -e '.[bench]'          # dlt, for this script only
    .venv/bin/python bench/peers.py --n 1000000 [--pairs 3] [--pg URL] [--rss-n 200000]

The same N sample actual lines (the sample connector's `actuals` stream, as bench/ingest.py
generates them) go, each tool in its own child process on its own PostgreSQL database:
- **ours**: `run_sync` of the `actuals` stream into an empty ledger (projects, tasks, resources
  and rates loaded before the timer), then an unchanged re-run (`full=True`), with the WAL
  each wrote (`pg_current_wal_lsn()` before and after); then the write floor of
  bench/ingest.py (the INSERTs the ledger's schema requires, nothing else) twice: all N lines
  and their entries in the load's own batches (the floor of a load of N, its indexes growing
  to N; the one `floor_share` uses) and the first 200,000 into empty copies, one statement
  each (the earlier sessions' figure, which flatters a large N);
- **dlt**: a `merge` resource keyed on (source, external_id) fed the same records as dicts of 13
  columns, into an empty dataset; the re-run loads all N again with 1% of them changed;
- **core**: SQLAlchemy Core `INSERT ... ON CONFLICT (source, external_id) DO UPDATE ... WHERE
  changed` of the same dicts, 2,000 a statement, into a table with that key and an index on
  (project, posted_on); its re-run is unchanged.
Every timer includes generating the records. The tools run in turns that rotate their order
(pair 1: ours, dlt, core; pair 2: dlt, core, ours; ...), `--pairs` times; medians and the
spread (min-max) are printed. Each child reports its own peak RSS; ours is also measured once
at `--rss-n` lines, to show it is flat in N.

The last line is `first_load_vs_dlt=R floor_share=F rerun_vs_dlt=Q peak_rss_mb=M
rerun_wal_share=W`: the medians of ours over dlt (rows/s), of our first load over the write
floor, of our unchanged re-run over dlt's re-run with 1% changed, our largest peak RSS at N, and
the largest share of our unchanged re-run's WAL in our first load's, both counted in our own
database's WAL records (pg_walinspect), not the server's `pg_current_wal_lsn()` difference,
which other sessions' writes inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG = "postgresql://postgres@127.0.0.1:5432/pmo_ledger_peers"
TOOLS = ("ours", "dlt", "core")
COLUMNS = (
    "source",
    "external_id",
    "project",
    "task",
    "cost_type",
    "amount",
    "currency",
    "posted_on",
    "hours",
    "resource",
    "description",
    "modified_at",
)


def _pg(url: str, tool: str) -> str:
    return f"{url}_{tool}"


def rows(n: int, changed_every: int = 0) -> Iterator[list[dict[str, Any]]]:
    """The sample's N actuals as pages of plain dicts (a peer's input); with `changed_every`,
    every such record has its amount changed (the 1% re-run)."""
    from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
    from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
    from pmo_ledger.ledger.records import ActualRecord

    connector = SampleConnector(
        SampleSettings(actuals=n, projects=50, resources=200), ConnectorContext("bench")
    )
    i = 0
    for page in connector.extract("actuals", ReadRequest()):
        out = []
        for r in page.records:
            if not isinstance(r, ActualRecord):
                continue
            i += 1
            amount = r.amount + 1 if changed_every and i % changed_every == 0 else r.amount
            out.append(
                {
                    "source": "bench",
                    "external_id": r.external_id,
                    "project": r.project_ref,
                    "task": r.task_ref,
                    "cost_type": r.cost_type,
                    "amount": amount,
                    "currency": r.currency,
                    "posted_on": r.posted_on,
                    "hours": r.hours,
                    "resource": r.resource_ref,
                    "description": r.description,
                    "modified_at": r.source_modified_at,
                }
            )
        if out:
            yield out


def _wal(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        assert row is not None
        return int(row[0])


@contextmanager
def _own_wal(url: str) -> Iterator[Callable[[int, int], int]]:
    """Bytes of WAL between two positions that this database's relations wrote, not the whole
    server's (other sessions write to the same cluster): pg_walinspect's records whose block
    references name this database's OID (commit records, which name none, are left out: a few
    dozen bytes a transaction). A temporary physical replication slot, reserved from now,
    keeps the segments until they are read; it goes with this connection."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        conn.execute(
            "SELECT pg_create_physical_replication_slot(%s, true, true)", (f"peers_{os.getpid()}",)
        )
        row = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        pattern = f"rel [0-9]+/{row[0]}/"

        def own(start: int, end: int) -> int:
            got = conn.execute(
                "SELECT coalesce(sum(record_length), 0) FROM pg_get_wal_records_info("
                " '0/0'::pg_lsn + %s::numeric, '0/0'::pg_lsn + %s::numeric) WHERE block_ref ~ %s",
                (start, end, pattern),
            ).fetchone()
            assert got is not None
            return int(got[0])

        yield own


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _figures(first_s: float, rerun_s: float, wal: tuple[int, int, int]) -> dict[str, Any]:
    """A peer's timings, the WAL positions before, between and after its two loads."""
    return {
        "first_s": first_s,
        "rerun_s": rerun_s,
        "first_wal_mb": (wal[1] - wal[0]) / 2**20,
        "rerun_wal_mb": (wal[2] - wal[1]) / 2**20,
        "peak_rss_mb": _rss_mb(),
    }


def _fresh_database(url: str) -> None:
    import psycopg
    from benchdb import ensure_database

    ensure_database(url.replace("postgresql://", "postgresql+psycopg://"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS peers CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS peers_staging CASCADE")
        conn.execute("CREATE SCHEMA public")


def one_ours(n: int, url: str, floor: bool, engine_url: str | None = None) -> dict[str, Any]:
    from benchdb import fresh
    from ingest import make_app, timed_sync, write_floor

    from pmo_ledger.jobs.logconfig import configure_logging
    from pmo_ledger.jobs.sync import run_sync

    configure_logging("json", "WARNING")
    sqlite = engine_url is not None
    if not sqlite:
        _fresh_database(url)
    target = engine_url or url.replace("postgresql://", "postgresql+psycopg://")
    with tempfile.TemporaryDirectory() as tmp:
        engine = fresh(target)
        app = make_app(target, n, Path(tmp))
        app._engine = engine
        run_sync(app, "bench", streams=["projects", "tasks", "resources", "fx_rates"])
        with nullcontext(None) if sqlite else _own_wal(url) as own:
            w0 = 0 if sqlite else _wal(url)
            first_s, first = timed_sync(app)
            w1 = 0 if sqlite else _wal(url)
            again_s, again = timed_sync(app, full=True)
            w2 = 0 if sqlite else _wal(url)
            # This database's share of the server's WAL (read after the timers).
            own_wal = (own(w0, w1), own(w1, w2)) if own else (0, 0)
        stats = again.streams[0].stats
        out: dict[str, Any] = {
            "first_s": first_s,
            "rerun_s": again_s,
            "first_status": first.status,
            "rerun_written": stats.written + stats.deleted + stats.quarantined,
            "first_wal_mb": (w1 - w0) / 2**20,
            "rerun_wal_mb": (w2 - w1) / 2**20,
            "first_own_wal_mb": own_wal[0] / 2**20,
            "rerun_own_wal_mb": own_wal[1] / 2**20,
            "peak_rss_mb": _rss_mb(),
        }
        if floor and not sqlite:
            # The floor of a load of N: all N lines in the load's own batches (its indexes
            # grow to N as the load's do), and the earlier sessions' 200,000 into empty copies.
            out["floor_rows_per_s"] = write_floor(engine, None, batch=app.settings.batch_rows)
            out["floor_200k_rows_per_s"] = write_floor(engine)
        engine.dispose()
    return out


def one_dlt(n: int, url: str) -> dict[str, Any]:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # This machine's server trusts local connections; dlt still asks for a password.
    os.environ.setdefault("DESTINATION__POSTGRES__CREDENTIALS__PASSWORD", "trust")
    import dlt

    _fresh_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DLT_DATA_DIR"] = tmp
        pipeline = dlt.pipeline(
            pipeline_name="peers",
            pipelines_dir=tmp,
            destination=dlt.destinations.postgres(credentials=url),
            dataset_name="peers",
            progress=None,
        )

        def load(changed_every: int) -> float:
            resource = dlt.resource(
                rows(n, changed_every),
                name="actual_line",
                write_disposition="merge",
                primary_key=("source", "external_id"),
            )
            start = time.perf_counter()
            info = pipeline.run(resource)
            info.raise_on_failed_jobs()
            return time.perf_counter() - start

        w0 = _wal(url)
        first_s = load(0)
        w1 = _wal(url)
        rerun_s = load(100)
        w2 = _wal(url)
    return _figures(first_s, rerun_s, (w0, w1, w2))


def one_core(n: int, url: str) -> dict[str, Any]:
    from sqlalchemy import (
        Column,
        Date,
        DateTime,
        Index,
        MetaData,
        Numeric,
        String,
        Table,
        UniqueConstraint,
        create_engine,
        or_,
    )
    from sqlalchemy.dialects.postgresql import insert

    _fresh_database(url)
    meta = MetaData()
    table = Table(
        "actual_line",
        meta,
        Column("source", String, nullable=False),
        Column("external_id", String, nullable=False),
        Column("project", String),
        Column("task", String),
        Column("cost_type", String),
        Column("amount", Numeric(20, 4)),
        Column("currency", String(3)),
        Column("posted_on", Date),
        Column("hours", Numeric(14, 4)),
        Column("resource", String),
        Column("description", String),
        Column("modified_at", DateTime(timezone=True)),
        UniqueConstraint("source", "external_id"),
        Index("actual_line_project_posted", "project", "posted_on"),
    )
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    meta.create_all(engine)
    stmt = insert(table)
    changed = [c for c in COLUMNS[2:]]
    upsert = stmt.on_conflict_do_update(
        index_elements=["source", "external_id"],
        set_={c: stmt.excluded[c] for c in changed},
        where=or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in changed)),
    )

    def load() -> float:
        start = time.perf_counter()
        with engine.connect() as conn:
            done = 0
            for page in rows(n):
                conn.execute(upsert, page)
                done += len(page)
                if done >= 50_000:
                    conn.commit()
                    done = 0
            conn.commit()
        return time.perf_counter() - start

    w0 = _wal(url)
    first_s = load()
    w1 = _wal(url)
    rerun_s = load()
    w2 = _wal(url)
    engine.dispose()
    return _figures(first_s, rerun_s, (w0, w1, w2))


def child(tool: str, n: int, pg: str, floor: bool) -> dict[str, Any]:
    """Run `tool` in a child process (its own interpreter, so its peak RSS is its own)."""
    cmd = [sys.executable, __file__, "--child", tool, "--n", str(n), "--pg", pg]
    if floor:
        cmd.append("--floor")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - this script
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"{tool} failed at N={n} (exit {done.returncode})")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _median(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _fmt(values: list[float], unit: str = "rows/s") -> str:
    mid, lo, hi = _median(values)
    return f"{mid:>10,.0f} {unit} (spread {lo:,.0f}-{hi:,.0f}, {len(values)} runs)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--pg", default=PG, help="a database name prefix: _ours, _dlt, _core")
    parser.add_argument(
        "--rss-n", type=int, default=200_000, help="ours once more at this N (0: no)"
    )
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--child", choices=[*TOOLS, "sqlite"], help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url = _pg(args.pg, args.child)
        if args.child == "ours":
            out = one_ours(args.n, url, args.floor)
        elif args.child == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                out = one_ours(args.n, url, False, f"sqlite:///{tmp}/peers.db")
        elif args.child == "dlt":
            out = one_dlt(args.n, url)
        else:
            out = one_core(args.n, url)
        print(json.dumps(out))
        return 0

    tools = [t for t in args.tools.split(",") if t]
    results: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    for pair in range(args.pairs):
        order = tools[pair % len(tools) :] + tools[: pair % len(tools)]
        for tool in order:
            out = child(tool, args.n, args.pg, floor=tool == "ours")
            results[tool].append(out)
            print(
                f"pair {pair + 1} {tool:5} N={args.n:,}: first load {args.n / out['first_s']:,.0f} rows/s,"
                f" re-run {args.n / out['rerun_s']:,.0f} rows/s, WAL {out['first_wal_mb']:.1f} /"
                f" {out['rerun_wal_mb']:.1f} MB, peak RSS {out['peak_rss_mb']:.0f} MB"
                + (
                    f", write floor {out['floor_rows_per_s']:,.0f} lines/s"
                    f" ({out.get('floor_200k_rows_per_s', 0):,.0f} for 200,000 into empty copies)"
                    if "floor_rows_per_s" in out
                    else ""
                ),
                flush=True,
            )
    print()
    first = {t: [args.n / r["first_s"] for r in results[t]] for t in tools}
    rerun = {t: [args.n / r["rerun_s"] for r in results[t]] for t in tools}
    for t in tools:
        what = "re-run, 1% changed" if t == "dlt" else "re-run, unchanged"
        print(f"{t:5} first load {_fmt(first[t])}; {what} {_fmt(rerun[t])}")
    ours = results.get("ours", [])
    rss_small = 0.0
    if ours and args.rss_n:
        small = child("ours", args.rss_n, args.pg, floor=False)
        rss_small = small["peak_rss_mb"]
    ratios: dict[str, float] = {}
    if ours:
        floors = [r["floor_rows_per_s"] for r in ours]
        print(f"write floor, all N lines in the load's batches {_fmt(floors, 'lines/s')}")
        ratios["floor_share"] = statistics.median(first["ours"]) / statistics.median(floors)
        small_floors = [r["floor_200k_rows_per_s"] for r in ours if "floor_200k_rows_per_s" in r]
        if small_floors:
            share = statistics.median(first["ours"]) / statistics.median(small_floors)
            print(
                f"write floor, the first 200,000 lines into empty copies {_fmt(small_floors, 'lines/s')}:"
                f" our first load is {share:.2f} of it"
            )
        wal = [r["rerun_wal_mb"] / r["first_wal_mb"] for r in ours]
        print(
            f"ours: re-run WAL / first load WAL = {max(wal):.5f} at most"
            f" ({max(r['rerun_wal_mb'] for r in ours):.1f} / {min(r['first_wal_mb'] for r in ours):.1f} MB),"
            f" written by the re-run: {max(r['rerun_written'] for r in ours)}"
        )
        own = [r["rerun_own_wal_mb"] / r["first_own_wal_mb"] for r in ours]
        ratios["rerun_wal_share"] = max(own)
        print(
            "ours: this database's own WAL (pg_walinspect), first load "
            + _fmt([r["first_own_wal_mb"] for r in ours], "MB")
            + "; unchanged re-run "
            + _fmt([r["rerun_own_wal_mb"] * 1024 for r in ours], "kB")
            + f"; re-run / first load {max(own):.5f} at most"
        )
        peak = max(r["peak_rss_mb"] for r in ours)
        ratios["peak_rss_mb"] = peak
        if rss_small:
            print(
                f"ours: peak RSS {rss_small:.0f} MB at N={args.rss_n:,}, {peak:.0f} MB at N={args.n:,}"
            )
    for peer in [t for t in tools if t != "ours"]:
        if not ours:
            break
        per_pair_first = [a / b for a, b in zip(first["ours"], first[peer], strict=True)]
        per_pair_rerun = [a / b for a, b in zip(rerun["ours"], rerun[peer], strict=True)]
        f_mid, f_lo, f_hi = _median(per_pair_first)
        r_mid, r_lo, r_hi = _median(per_pair_rerun)
        print(
            f"ours / {peer}: first load {f_mid:.2f}x (pairs {f_lo:.2f}-{f_hi:.2f}),"
            f" re-run {r_mid:.2f}x (pairs {r_lo:.2f}-{r_hi:.2f})"
        )
        ratios[f"first_load_vs_{peer}"] = f_mid
        ratios[f"rerun_vs_{peer}"] = r_mid
    print(
        f"first_load_vs_dlt={ratios.get('first_load_vs_dlt', 0):.2f}"
        f" floor_share={ratios.get('floor_share', 0):.2f}"
        f" rerun_vs_dlt={ratios.get('rerun_vs_dlt', 0):.2f}"
        f" peak_rss_mb={ratios.get('peak_rss_mb', 0):.0f}"
        f" rerun_wal_share={ratios.get('rerun_wal_share', 0):.5f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
