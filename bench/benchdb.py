"""What every benchmark does to its databases: create the PostgreSQL one if missing, and start
from an empty ledger at the migration head; the arguments and the run on each engine of the
benchmarks over the reconcile ledger (`engine_arguments`, `on_each_engine`)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, inspect, text

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names when it does not exist yet."""
    admin = make_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    try:
        with admin.connect() as c:
            if not c.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar():
                c.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def fresh(url: str) -> Engine:
    """An engine on an empty ledger at the head revision (PostgreSQL: the public schema is
    dropped and re-created first)."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(engine)
    return engine


def add_projects(engine: Engine, count: int, sources: Sequence[str]) -> None:
    """Projects P0000... (`count` of them), each linked from every source by its code."""
    with engine.begin() as c:
        for p in range(count):
            c.execute(
                text("INSERT INTO project (code, name, created_at, updated_at) "
                     "VALUES (:c, :c, :t, :t)"),
                {"c": f"P{p:04d}", "t": "2025-01-01 00:00:00"},
            )  # fmt: skip
            for source in sources:
                c.execute(
                    text("INSERT INTO project_link (source, object_type, external_id, "
                         "project_id, origin, created_at, updated_at) SELECT :s, 'project', "
                         "code, id, 'manual', :t, :t FROM project WHERE code = :c"),
                    {"s": source, "c": f"P{p:04d}", "t": "2025-01-01 00:00:00"},
                )  # fmt: skip


def reusable(url: str, lines: int) -> Engine | None:
    """An engine on the ledger an earlier run loaded, migrated to the head, when it holds
    exactly `lines` actual lines; None when there is none to reuse."""
    engine = make_engine(url)
    try:
        if inspect(engine).has_table("actual_line"):
            with engine.connect() as c:
                held = c.execute(text("SELECT count(*) FROM actual_line")).scalar()
            if held == lines:
                migrate.upgrade(engine)
                return engine
    except Exception:
        engine.dispose()
        raise
    engine.dispose()
    return None


def settle(engine: Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, what autovacuum would have done after a load (this machine's
    server runs with autovacuum off: without it the planner has no statistics and index-only
    scans no visibility map). SQLite: nothing (the ledger never runs ANALYZE there)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))


T = TypeVar("T")


def engine_arguments(doc: str | None, n: int, database: str) -> argparse.ArgumentParser:
    """The arguments of a benchmark run on PostgreSQL then SQLite: `--n` (default `n`),
    `--pg` (default the local server's `database`), `--skip-sqlite`, `--skip-postgresql`,
    `--sqlite-db`, `--reuse`; the caller may add its own."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=n)
    parser.add_argument("--pg", default=f"postgresql://postgres@127.0.0.1:5432/{database}")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--sqlite-db", type=Path, help="the SQLite file (default: a temporary one)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a ledger of N lines loaded by an earlier run"
    )
    return parser


def on_each_engine(args: argparse.Namespace, run: Callable[[str, Path], T]) -> dict[str, T]:
    """`run(url, tmp)` on PostgreSQL (its database created when missing) then on SQLite
    (`--sqlite-db`, else a file in `tmp`), each unless skipped, in one temporary folder;
    the results by engine name. Prints line by line."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    results: dict[str, T] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_postgresql:
            ensure_database(args.pg)
            results["postgresql"] = run(args.pg, Path(tmp))
        if not args.skip_sqlite:
            db = args.sqlite_db or Path(tmp) / "bench.db"
            results["sqlite"] = run(f"sqlite:///{db}", Path(tmp))
    return results
