"""What `/runs` and webhooks show of a run that failed on a database error (issue 18 item 11):
a short cause and the run id; the statement and its bound values go to the log only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from pmo_ledger.jobs import sync as sync_module
from pmo_ledger.jobs.causes import short_cause
from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.worker import Worker
from tests.service.helpers import Receiver, finished, make_app, wait_for

TOKEN = "runs-t0ken"
#: A bound value of the failing statement: it must reach the log and nothing else.
BOUND = "bound-value-4711"


def _failing_batch(session: Session, *args: Any, **kw: Any) -> Any:
    """A batch whose statement the database refuses (no such table), with a bound value."""
    session.execute(text("INSERT INTO no_such_ledger_table (v) VALUES (:v)"), {"v": BOUND})
    raise AssertionError("the database took the statement")


def _shows_no_sql(text_: str) -> None:
    for part in ("[SQL:", "parameters", BOUND, "INSERT INTO"):
        assert part not in text_, (part, text_)


def test_a_run_failed_on_a_database_error_shows_the_cause_and_logs_the_detail(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "apply_batch", _failing_batch)
    with Receiver() as receiver:
        app = make_app(engine, tmp_path, {"psa": ""}, service=f'api_token = "{TOKEN}"')
        notifier = Notifier([receiver.url], attempts=1).start()
        worker = Worker(app, notifier)
        client = TestClient(create_api(worker, lambda: True))
        with capture_logs() as logs:
            started = client.post("/syncs/psa", headers={"Authorization": f"Bearer {TOKEN}"})
            run_id = started.json()["run_id"]
            assert wait_for("the run", lambda: finished(engine, run_id)) == "failed"
            wait_for("the webhook", lambda: receiver.bodies)
        worker.stop(5)
        notifier.close(5)

    run = client.get(f"/runs/{run_id}").json()
    table = "no_such_ledger_table"
    cause = (f"OperationalError: no such table: {table}" if engine.dialect.name == "sqlite"
             else f'UndefinedTable: relation "{table}" does not exist')  # fmt: skip
    assert run["message"] == (
        f"stream projects failed: {cause}; the next run resumes from the last committed "
        f"checkpoint (details in the log, run_id={run_id})"
    )
    assert [s["error"] for s in run["streams"]] == [f"unexpected error: {cause}"]
    _shows_no_sql(str(run))
    hook = receiver.bodies[0]
    assert (hook["pmo_ledger"]["run_id"], hook["pmo_ledger"]["message"]) == (run_id, run["message"])
    _shows_no_sql(str(hook))

    crashed = [e for e in logs if e["event"] == "sync_stream_crashed"]
    assert len(crashed) == 1 and crashed[0]["run_id"] == run_id
    assert "[SQL: INSERT INTO no_such_ledger_table" in crashed[0]["error"]
    assert BOUND in crashed[0]["error"]


def test_a_cause_is_the_class_and_the_first_line_without_sql() -> None:
    from sqlalchemy.exc import IntegrityError

    orig = ValueError('duplicate key value violates unique constraint "k"\nDETAIL: Key (v)=(7)')
    wrapped = IntegrityError("INSERT INTO t (v) VALUES (%(v)s)", {"v": 7}, orig)
    assert short_cause(wrapped) == 'ValueError: duplicate key value violates unique constraint "k"'
    assert short_cause(RuntimeError("boom\nmore")) == "RuntimeError: boom"
    assert short_cause(KeyError()) == "KeyError"
    assert short_cause(RuntimeError("x" * 300)) == "RuntimeError: " + "x" * 197 + "..."
