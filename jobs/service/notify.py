"""Webhook notifications of `pmo-ledger serve`: a failed or partial run, new high-severity
variances.

`Notifier.send` only queues the message: a daemon thread posts it to every configured URL, each
POST bounded by `[service] webhook_timeout` and tried `webhook_attempts` times in all (backoff
between tries, on timeouts, connection errors, 429 and 5xx), so a slow or failing receiver never
delays or fails a sync. The queue is bounded; a message that does not fit is dropped with a
warning. Webhook URLs carry their credentials in the path: they are logged by position only.

The body is one JSON object that Slack incoming webhooks and Teams (Office 365 connector
MessageCard) both read: `text` (markdown) for Slack, `@type`/`summary`/`title`/`sections` for
Teams, plus `pmo_ledger` with the event's fields for any other receiver.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from pmo_ledger.jobs.reconcile import Raised
from pmo_ledger.jobs.run_records import SyncResult

log = structlog.get_logger(__name__)

#: Variances listed in one message; the rest are counted.
MAX_LISTED = 10
COLORS = {"failed": "D93F0B", "partial": "FBCA04", "variances": "B60205"}


@dataclass(frozen=True)
class Event:
    """One notification: `kind` ("sync_failed", "sync_partial", "variances_high"), a title,
    markdown text, facts shown as a table, and the machine-readable fields."""

    kind: str
    title: str
    text: str
    facts: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    color: str = "D93F0B"

    def body(self) -> dict[str, Any]:
        """The JSON body posted to every webhook."""
        facts = "".join(f"\n• {k}: {v}" for k, v in self.facts.items())
        return {
            "text": f"*{self.title}*\n{self.text}{facts}",
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": self.title,
            "title": self.title,
            "themeColor": self.color,
            "sections": [
                {
                    "text": self.text,
                    "facts": [{"name": k, "value": v} for k, v in self.facts.items()],
                }
            ],
            "pmo_ledger": {"event": self.kind, **self.data},
        }


def run_event(result: SyncResult, trigger: str) -> Event | None:
    """The notification of a run that ended failed or partial; None for any other run."""
    if result.status not in ("failed", "partial") or result.run_id is None:
        return None
    facts = {"connector": result.connector, "run": str(result.run_id), "trigger": trigger}
    if result.retry_at is not None:
        facts["retry at"] = result.retry_at.strftime("%Y-%m-%d %H:%M UTC")
    bad = [s for s in result.streams if s.status != "succeeded"]
    if bad:
        facts["streams"] = ", ".join(f"{s.stream} {s.status}" for s in bad)
    return Event(
        kind=f"sync_{result.status}",
        title=f"pmo-ledger: sync of {result.connector} {result.status} (run {result.run_id})",
        text=result.message,
        facts=facts,
        data={
            "connector": result.connector,
            "run_id": result.run_id,
            "status": result.status,
            "message": result.message,
            "retry_at": result.retry_at.isoformat() if result.retry_at else None,
        },
        color=COLORS[result.status],
    )


def variance_event(raised: Sequence[Raised]) -> Event | None:
    """The notification of variances that became high and open; None when there are none."""
    if not raised:
        return None
    lines = [
        f"#{v.id} {v.rule} {v.subject_id} {v.dimension} {v.period or 'to date'}: "
        f"{v.message or ''}".rstrip(": ")
        for v in raised[:MAX_LISTED]
    ]
    more = len(raised) - len(lines)
    if more:
        lines.append(f"... and {more} more (pmo-ledger variances --open)")
    n = len(raised)
    return Event(
        kind="variances_high",
        title=f"pmo-ledger: {n} new high-severity variance{'s' if n != 1 else ''}",
        text="\n".join(lines),
        data={
            "count": n,
            "variances": [asdict(v) for v in raised[:MAX_LISTED]],
        },
        color=COLORS["variances"],
    )


class _Retryable(Exception):
    """A response worth trying again: 429 or 5xx."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


class Notifier:
    """Posts events to webhook URLs from one daemon thread (see the module docstring)."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: timedelta = timedelta(seconds=5),
        attempts: int = 3,
        backoff: float = 0.5,
        max_queued: int = 100,
    ) -> None:
        self.urls = list(urls)
        self.attempts = attempts
        self.backoff = backoff
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=max_queued)
        self._client = httpx.Client(timeout=timeout.total_seconds())
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._started = False

    def start(self) -> Notifier:
        if self.urls and not self._started:
            self._thread.start()
            self._started = True
        return self

    def send(self, event: Event | None) -> None:
        """Queue `event` for every webhook; never blocks, never raises."""
        if event is None or not self.urls:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("notification_dropped", notification=event.kind, reason="queue full")

    def close(self, timeout: float) -> None:
        """Deliver what is queued within `timeout` seconds, then stop (the rest is dropped)."""
        if self._started:
            deadline = time.monotonic() + timeout
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(max(0.0, deadline - time.monotonic()))
            left = self._queue.qsize()
            if self._thread.is_alive() and left:
                log.warning("notifications_dropped", pending=left, reason="stopping")
        self._client.close()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            body = event.body()
            for index, url in enumerate(self.urls):
                try:
                    self._deliver(index, url, event.kind, body)
                except Exception:  # a notification never takes the thread down
                    self.failed += 1
                    log.exception("webhook_crashed", webhook=index, notification=event.kind)

    def _deliver(self, index: int, url: str, kind: str, body: dict[str, Any]) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=30),
            retry=retry_if_exception(_retryable),
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._client.post(url, json=body)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(f"HTTP {response.status_code}")
        except (RetryError, httpx.HTTPError) as exc:
            cause = exc.last_attempt.exception() if isinstance(exc, RetryError) else exc
            self.failed += 1
            error = f"{type(cause).__name__}: {cause}"
            log.warning("webhook_failed", webhook=index, notification=kind,
                        attempts=self.attempts, error=error)  # fmt: skip
            return
        if response.status_code >= 300:  # redirects are not followed: not delivered
            self.failed += 1
            status = response.status_code
            log.warning("webhook_refused", webhook=index, notification=kind, status=status)
            return
        self.delivered += 1
        log.info("webhook_delivered", webhook=index, notification=kind)
