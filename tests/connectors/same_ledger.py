"""A connector's sync read ahead (the default `prefetch_pages`) and in turn (0) into the same
empty ledger: what the ledger holds after each, row by row (jobs/prefetch.py, jobs/sync.py)."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import Base
from tests.conftest import _empty_postgres

#: The run's own records and what is computed from the clock, not from the source.
SKIPPED = {"sync_run", "sync_run_stream", "sync_lock", "aggregate_state", "control_total",
           "portfolio_snapshot", "portfolio_snapshot_row", "variance", "variance_event"}  # fmt: skip
#: A time a read stamps (a token checkpoint's, SAP's `read_at`): the same read a second later.
READ_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


def ledger_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ledger table (the run records left out), sorted; of a timestamp only
    whether it is set (the ledger's and SAP's `read_at` are the clock's; dates and amounts
    are kept), of a token checkpoint its text without the read's time, no run ids."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in SKIPPED:
                continue
            columns = [c for c in table.columns if not c.name.endswith("run_id")]
            rows = []
            for row in conn.execute(select(*columns)):
                rows.append(tuple(_plain(value) for value in row))
            out[table.name] = sorted(rows, key=repr)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return True
    if isinstance(value, dict) and value.get("kind") == "token":
        return {**value, "value": READ_TIME.sub("<read time>", str(value.get("value")))}
    return value


def empty_ledger(engine: Engine, request: pytest.FixtureRequest) -> None:
    """Back to the `engine` fixture's empty ledger."""
    if engine.dialect.name == "sqlite":
        engine.dispose()
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, str(engine.url.database))
    else:
        _empty_postgres(engine)


@dataclass
class Compared:
    """The ledger after the sync in turn and after the one read ahead; the threads that read
    in the latter, the streams whose read opened while the stream before was written, and
    those of them dropped in their turn (their opening had changed)."""

    in_turn: dict[str, list[tuple[Any, ...]]]
    ahead: dict[str, list[tuple[Any, ...]]]
    readers: set[str]
    opened_ahead: list[str]
    dropped: list[str]


def read_ahead_and_in_turn(
    engine: Engine,
    request: pytest.FixtureRequest,
    make_app: Callable[[int | None], App],
    name: str,
) -> Compared:
    """Sync `name` in turn (`prefetch_pages = 0`) into the empty ledger, then, emptied, read
    ahead (the default: `make_app(None)`); each must succeed."""
    turn = make_app(0)
    result = run_sync(turn, name)
    assert result.status == "succeeded", result.message
    in_turn = ledger_rows(engine)
    empty_ledger(engine, request)
    ahead = make_app(None)
    assert ahead.config.ledger.prefetch_pages > 0
    readers: set[str] = set()
    connector = ahead.connector(name)
    assert connector.reads_ahead
    extract = connector.extract

    def extract_noting_thread(stream: str, req: Any) -> Any:
        readers.add(threading.current_thread().name)
        return extract(stream, req)

    connector.extract = extract_noting_thread  # type: ignore[method-assign]
    with capture_logs() as logs:
        result = run_sync(ahead, name, connector=connector)
    assert result.status == "succeeded", result.message
    opened = [e["stream"] for e in logs if e["event"] == "sync_stream_read_ahead"]
    dropped = [e["stream"] for e in logs if e["event"] == "read_ahead_dropped"]
    return Compared(in_turn, ledger_rows(engine), readers, opened, dropped)


def assert_same_ledger(got: Compared, name: str, opened_ahead: list[str]) -> None:
    """The two ledgers are the same, the read-ahead sync read in producer threads only, and
    these streams' reads opened while the stream before was written, none dropped."""
    assert got.ahead == got.in_turn
    assert got.readers and all(r.startswith(f"prefetch-{name}-") for r in got.readers)
    assert (got.opened_ahead, got.dropped) == (opened_ahead, [])
