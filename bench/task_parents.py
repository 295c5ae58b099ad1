"""The parent pass of the task writer (ledger/write/tasks.py `_set_parents`) on a ledger that
already holds another source's tasks: source A's `--n` tasks are loaded first (untimed), then
source B's `--n` tasks, every one but the roots with a parent listed after it, through
`apply_batch` in batches of `--batch`; timed: B's load, and the parent pass alone within it.
Then B's batch is replayed once with every parent moved (one parent UPDATE per task), timed
the same way.

    .venv/bin/python bench/task_parents.py [--n 24000] [--batch 24000] [--rounds 3]
        [--pg URL] [--skip-sqlite] [--skip-postgresql]

Each round starts from an empty ledger; medians and spread over the rounds.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import add_projects, engine_arguments, fresh, on_each_engine
from sqlalchemy import Engine, text

from pmo_ledger.ledger.db import session_factory
from pmo_ledger.ledger.records import TaskRecord
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write import apply_batch
from pmo_ledger.ledger.write import tasks as task_writer

PROJECTS = 200
FANOUT = 8


def _tasks(n: int, shift: int) -> list[TaskRecord]:
    """n tasks, task i's parent task (i - 1) // FANOUT (+ shift, mod n), children first."""
    out = []
    for i in reversed(range(n)):
        parent = None if i == 0 else f"T{((i - 1) // FANOUT + shift) % n:07d}"
        if parent == f"T{i:07d}":
            parent = None
        out.append(
            TaskRecord(
                external_id=f"T{i:07d}",
                project_ref=f"P{i % PROJECTS:04d}",
                name=f"Task {i}",
                parent_ref=parent,
            )
        )
    return out


class _Timer:
    """Wraps `_set_parents` and adds up its time."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.inner = task_writer._set_parents

    def __call__(self, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner(*args)
        finally:
            self.spent += time.perf_counter() - start


def _load(engine: Engine, source: str, data: list[TaskRecord], batch: int) -> tuple[float, float]:
    settings = LedgerSettings(url=str(engine.url))
    factory = session_factory(engine)
    timer = _Timer()
    task_writer._set_parents = timer  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        for i in range(0, len(data), batch):
            with factory() as s:
                apply_batch(s, settings, source, "tasks", data[i : i + batch])
                s.commit()
        return time.perf_counter() - start, timer.spent
    finally:
        task_writer._set_parents = timer.inner  # type: ignore[assignment]


def _round(url: str, n: int, batch: int) -> list[tuple[float, float]]:
    engine = fresh(url)
    try:
        add_projects(engine, PROJECTS, ["a", "b"])
        _load(engine, "a", _tasks(n, 0), batch)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
        first = _load(engine, "b", _tasks(n, 0), batch)
        moved = _load(engine, "b", _tasks(n, 1), batch)
        return [first, moved]
    finally:
        engine.dispose()


def main() -> None:
    parser = engine_arguments(__doc__, 24_000, "pmo_ledger_bench_parents")
    parser.add_argument("--batch", type=int, default=24_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    def run(url: str, tmp: Path) -> None:
        rounds = []
        for _ in range(args.rounds):
            if url.startswith("sqlite"):
                Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            rounds.append(_round(url, args.n, args.batch))
        for i, label in enumerate(("load B", "move parents")):
            for j, part in enumerate(("whole load", "parent pass")):
                t = [r[i][j] for r in rounds]
                print(
                    f"{url.split(':')[0]:10} {label:12} {part:11} {args.n} tasks"
                    f" median {statistics.median(t):7.2f} s (min {min(t):.2f}, max {max(t):.2f})"
                )

    on_each_engine(args, run)


if __name__ == "__main__":
    main()
