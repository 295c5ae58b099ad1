"""Cost of the master data history triggers (migration 0014) on the write path, on SQLite and
PostgreSQL: tasks written through `apply_batch` (a first load, then every task renamed), with
the triggers on and off, alternated, medians and spread over the rounds.

    .venv/bin/python bench/history_triggers.py --tasks 20000 --rounds 5 [--pg URL] [--skip-sqlite]
    .venv/bin/python bench/history_triggers.py --raw ...   # the SQL writes alone, no writer

`actual_line` and `ledger_entry` have no trigger, so the actuals' write path is unchanged;
tasks are the largest master table a sync writes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import add_projects, ensure_database
from sqlalchemy import Engine, text

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine, session_factory
from pmo_ledger.ledger.records import TaskRecord
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write import apply_batch

PROJECTS = 200


def _tasks(n: int, name: str) -> list[TaskRecord]:
    return [
        TaskRecord(external_id=f"T{i:07d}", project_ref=f"P{i % PROJECTS:04d}", name=f"{name} {i}")
        for i in range(n)
    ]


def _prepare(engine: Engine, triggers: bool) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(engine)
    add_projects(engine, PROJECTS, ["bench"])
    with engine.begin() as c:
        if not triggers:
            if engine.dialect.name == "sqlite":
                for event in ("insert", "update", "delete"):
                    c.execute(text(f"DROP TRIGGER task_history_{event}"))
            else:
                c.execute(text("ALTER TABLE task DISABLE TRIGGER USER"))


def _round(url: str, n: int, batch: int, triggers: bool) -> tuple[float, float]:
    engine = make_engine(url)
    _prepare(engine, triggers)
    settings = LedgerSettings(url=url)
    factory = session_factory(engine)
    out = []
    for name in ("Task", "Renamed task"):
        data = _tasks(n, name)
        start = time.perf_counter()
        for i in range(0, n, batch):
            with factory() as s:
                apply_batch(s, settings, "bench", "tasks", data[i : i + batch])
                s.commit()
        out.append(time.perf_counter() - start)
    engine.dispose()
    return out[0], out[1]


def _raw_round(url: str, n: int, triggers: bool) -> tuple[float, float]:
    """The triggers alone: n tasks inserted by one executemany, then one UPDATE of them all."""
    engine = make_engine(url)
    _prepare(engine, triggers)
    rows = [
        {"e": f"T{i:07d}", "p": 1 + i % PROJECTS, "n": f"Task {i}", "t": "2025-01-02 00:00:00"}
        for i in range(n)
    ]
    out = []
    for sql, params in (
        ("INSERT INTO task (source, external_id, project_id, name, content_hash, created_at, "
         "updated_at) VALUES ('bench', :e, :p, :n, 'h', :t, :t)", rows),
        ("UPDATE task SET name = name || ' renamed', updated_at = '2025-01-03 00:00:00'", None),
    ):  # fmt: skip
        start = time.perf_counter()
        with engine.begin() as c:
            c.execute(text(sql), params) if params else c.execute(text(sql))
        out.append(time.perf_counter() - start)
    engine.dispose()
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/pmo_ledger_bench_history")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--raw", action="store_true", help="time SQL writes, not apply_batch")
    args = parser.parse_args()
    urls = []
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_sqlite:
        urls.append(f"sqlite:///{tmp.name}/bench.db")
    if not args.skip_pg:
        ensure_database(args.pg)
        urls.append(args.pg)
    for url in urls:
        times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.rounds):
            for triggers in (False, True):  # alternated: the machine is shared and noisy
                if url.startswith("sqlite"):
                    Path(tmp.name, "bench.db").unlink(missing_ok=True)
                times[triggers].append(
                    _raw_round(url, args.tasks, triggers)
                    if args.raw
                    else _round(url, args.tasks, args.batch, triggers)
                )
        for triggers, runs in times.items():
            for i, label in enumerate(("insert", "rename")):
                t = [r[i] for r in runs]
                print(
                    f"{url.split(':')[0]:10} triggers {'on ' if triggers else 'off'} {label:7}"
                    f" {args.tasks} tasks median {statistics.median(t):6.2f} s"
                    f" (min {min(t):.2f}, max {max(t):.2f})"
                )
    tmp.cleanup()


if __name__ == "__main__":
    main()
