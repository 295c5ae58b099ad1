"""The scheduler of `pmo-ledger serve`: APScheduler 3.x jobs built from the configuration at
start-up (never from a pickled job store).

One job per enabled connector with a `schedule` (`sync:<name>`), and `reconcile` when
`[reconcile] schedule` is set. Every job coalesces missed fires into one, runs one instance at a
time, and may start late by up to its interval (`misfire_grace_time`). A connector whose last
succeeded or partial run is older than its interval (or that never ran) is overdue: its job
fires once at start-up. The job functions are the Worker's; see jobs.service.worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from pmo_ledger.jobs.config import AppConfig, schedule_trigger
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.queries.runs import last_done

log = structlog.get_logger(__name__)


def interval_of(trigger: BaseTrigger, now: datetime) -> timedelta:
    """The time between two fires of `trigger` from `now` (a cron schedule's next gap)."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return timedelta(days=1)
    gap: timedelta = second - first
    return max(gap, timedelta(seconds=1))


def build_scheduler(config: AppConfig, worker: Worker, now: datetime | None = None) -> Any:
    """A BackgroundScheduler (not started) with the jobs of `config`; overdue connectors fire
    at start-up. Reads `sync_run` to find them."""
    now = now or utcnow()
    tz = config.service.timezone
    scheduled = {
        name: cfg for name, cfg in config.connectors.items() if cfg.enabled and cfg.schedule
    }
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=len(scheduled) + 1)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=tz,
    )
    with worker.app.reading() as session:
        last = {name: last_done(session, name) for name in scheduled}
    for name, cfg in scheduled.items():
        assert cfg.schedule is not None
        trigger = schedule_trigger(cfg.schedule, tz)
        interval = interval_of(trigger, now)
        worker.intervals[name] = interval
        previous = last[name]
        overdue = previous is None or now - previous >= interval
        extra: dict[str, Any] = {"next_run_time": now} if overdue else {}
        scheduler.add_job(
            worker.scheduled_sync,
            trigger,
            args=[name],
            id=f"sync:{name}",
            name=f"sync {name}",
            misfire_grace_time=int(interval.total_seconds()),
            replace_existing=True,
            **extra,
        )
        log.info(
            "job_scheduled",
            job=f"sync:{name}",
            schedule=cfg.schedule,
            overdue=overdue,
            last_run=previous.isoformat() if previous else None,
        )
    rec = config.reconcile
    if rec.enabled and rec.schedule:
        trigger = schedule_trigger(rec.schedule, tz)
        scheduler.add_job(
            worker.scheduled_reconcile,
            trigger,
            id="reconcile",
            name="reconcile",
            misfire_grace_time=int(interval_of(trigger, now).total_seconds()),
            replace_existing=True,
        )
        log.info("job_scheduled", job="reconcile", schedule=rec.schedule)
    return scheduler
