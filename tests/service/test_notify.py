"""Webhooks to a local receiver: the body, bounded retries, a hanging receiver that never
holds up a sync, and the notifications the worker sends (failed runs, new high variances)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmo_ledger.jobs.run_records import SyncResult
from pmo_ledger.jobs.service.notify import Event, Notifier, run_event
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.ledger.models import Variance
from tests.service.helpers import Receiver, make_app, runs, wait_for


def _failed(run_id: int = 7) -> SyncResult:
    result = SyncResult(run_id, "psa")
    result.finish("failed", "connector psa is misconfigured: bad password")
    return result


def test_a_failed_run_is_posted_in_a_body_slack_and_teams_read() -> None:
    with Receiver() as receiver:
        notifier = Notifier([receiver.url]).start()
        notifier.send(run_event(_failed(), "schedule"))
        wait_for("the delivery", lambda: receiver.bodies)
        notifier.close(5)
    body = receiver.bodies[0]
    title = "pmo-ledger: sync of psa failed (run 7)"
    assert body["text"] == (
        f"*{title}*\nconnector psa is misconfigured: bad password"
        "\n• connector: psa\n• run: 7\n• trigger: schedule"
    )
    assert (body["@type"], body["summary"], body["title"], body["themeColor"]) == (
        "MessageCard", title, title, "D93F0B"
    )  # fmt: skip
    assert body["sections"][0]["facts"] == [
        {"name": "connector", "value": "psa"},
        {"name": "run", "value": "7"},
        {"name": "trigger", "value": "schedule"},
    ]
    assert body["pmo_ledger"] == {
        "event": "sync_failed", "connector": "psa", "run_id": 7, "status": "failed",
        "message": "connector psa is misconfigured: bad password", "retry_at": None,
    }  # fmt: skip
    assert notifier.delivered == 1


def test_succeeded_runs_are_not_notified() -> None:
    result = SyncResult(3, "psa")
    result.finish("succeeded", "10 stream(s)")
    assert run_event(result, "api") is None


def test_5xx_is_retried_a_bounded_number_of_times_and_4xx_is_not() -> None:
    event = Event("sync_failed", "t", "x")
    with Receiver(statuses=[500, 503]) as receiver:
        notifier = Notifier([receiver.url], attempts=3, backoff=0.01).start()
        notifier.send(event)
        wait_for("delivery on the third try", lambda: notifier.delivered == 1)
        assert receiver.requests == 3
        receiver.statuses[:] = [502, 502, 502]
        notifier.send(event)
        wait_for("giving up", lambda: notifier.failed == 1)
        assert receiver.requests == 6  # three tries, no more
        receiver.statuses[:] = [404]
        notifier.send(event)
        wait_for("a refusal", lambda: notifier.failed == 2)
        assert receiver.requests == 7  # a 4xx is not retried
        notifier.close(5)


def test_a_hanging_receiver_never_holds_up_a_sync(engine: Engine, tmp_path: Path) -> None:
    app = make_app(engine, tmp_path, {"psa": "fail_after_pages = 0"})
    with Receiver(hold=threading.Event()) as receiver:
        notifier = Notifier([receiver.url], timeout=timedelta(seconds=1), attempts=1).start()
        worker = Worker(app, notifier)
        for _ in range(2):
            worker._execute(worker.start("psa", trigger="api"))
        # Both runs ended while the receiver was still holding the first POST.
        assert receiver.waiting.is_set() and notifier.delivered == notifier.failed == 0
        # Stopped before any row by a transient error: partial (issue 16), notified as well.
        assert [r[1] for r in runs(engine)] == ["partial", "partial"]
        wait_for("both posts to time out", lambda: notifier.failed == 2, timeout=30)
        notifier.close(1)


def test_new_high_variances_are_notified_once(engine: Engine, tmp_path: Path) -> None:
    app = make_app(engine, tmp_path, {"psa": ""}, reconcile="after_sync = true")
    with Receiver() as receiver:
        notifier = Notifier([receiver.url]).start()
        worker = Worker(app, notifier)
        worker._execute(worker.start("psa", trigger="api"))
        wait_for("the variance notification", lambda: receiver.bodies)
        worker.reconcile()  # nothing new: no second message
        notifier.close(5)
    with Session(engine) as s:
        high = s.scalar(select(func.count()).where(
            Variance.severity == "high", Variance.status == "open"))  # fmt: skip
    assert high and high > 0
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]["pmo_ledger"]
    assert (body["event"], body["count"]) == ("variances_high", high)
    assert len(body["variances"]) == min(high, 10)
    assert receiver.bodies[0]["title"] == f"pmo-ledger: {high} new high-severity variance" + (
        "s" if high != 1 else ""
    )


def test_webhook_urls_never_reach_the_log() -> None:
    """httpx would log each request's URL at INFO; webhook URLs carry credentials."""
    from io import StringIO

    from pmo_ledger.jobs.logconfig import configure_logging, reset_logging

    out = StringIO()
    configure_logging("json", "DEBUG", stream=out)
    try:
        with Receiver(statuses=[500]) as receiver:
            notifier = Notifier([receiver.url], backoff=0.01).start()
            notifier.send(Event("sync_failed", "t", "x"))
            wait_for("the delivery", lambda: notifier.delivered == 1)
            notifier.close(5)
    finally:
        reset_logging()
    text = out.getvalue()
    assert '"event": "webhook_delivered"' in text and '"webhook": 0' in text
    assert "secret-path" not in text and "127.0.0.1" not in text
