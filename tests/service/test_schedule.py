"""Jobs come from the configuration; overdue connectors fire at start-up; a fire runs the sync
without waiting for wall-clock time; replicas skip a connector run recently or running now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, insert

from pmo_ledger.jobs.lease import Lease
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.schedule import build_scheduler, interval_of
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.ledger.models import SyncRun, utcnow
from tests.service.helpers import finished, live_actuals, make_app, runs, wait_for

CONNECTORS = {
    "psa": 'schedule = "15m"',
    "erp": 'schedule = "0 2 * * *"',
    "off": 'schedule = "1h"\nenabled = false',
    "manual": "",
}


def _ran(engine: Engine, connector: str, ago: timedelta, status: str = "succeeded") -> None:
    at = utcnow() - ago
    with engine.begin() as conn:
        conn.execute(
            insert(SyncRun).values(
                connector=connector, status=status, trigger="schedule", started_at=at,
                finished_at=at,
            )
        )  # fmt: skip


def test_jobs_are_built_from_config_and_overdue_ones_fire_at_start_up(
    engine: Engine, tmp_path: Path
) -> None:
    app = make_app(engine, tmp_path, CONNECTORS, reconcile='schedule = "30m"\nafter_sync = false')
    _ran(engine, "erp", timedelta(hours=3))  # daily: not overdue
    _ran(engine, "psa", timedelta(minutes=5), status="failed")  # failed runs do not count
    now = utcnow()
    scheduler = build_scheduler(app.config, Worker(app, Notifier([])), now=now)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert sorted(jobs) == ["reconcile", "sync:erp", "sync:psa"]
        psa, erp, rec = jobs["sync:psa"], jobs["sync:erp"], jobs["reconcile"]
        assert isinstance(psa.trigger, IntervalTrigger)
        assert psa.trigger.interval == timedelta(minutes=15)
        assert isinstance(erp.trigger, CronTrigger)
        assert [j.coalesce for j in (psa, erp, rec)] == [True, True, True]
        assert [j.max_instances for j in (psa, erp, rec)] == [1, 1, 1]
        assert [j.misfire_grace_time for j in (psa, erp, rec)] == [900, 86_400, 1_800]
        assert psa.next_run_time == now  # never succeeded: overdue, fires at start-up
        next_2am = (now + timedelta(days=1) if now.hour >= 2 else now).replace(
            hour=2, minute=0, second=0, microsecond=0
        )
        assert erp.next_run_time == next_2am
        assert psa.args == ("psa",)
    finally:
        scheduler.shutdown(wait=False)


def test_interval_of_a_cron_schedule_is_the_gap_between_two_fires() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert interval_of(CronTrigger.from_crontab("*/15 * * * *", timezone="UTC"), now) == (
        timedelta(minutes=15)
    )
    assert interval_of(CronTrigger.from_crontab("0 6 * * 1", timezone="UTC"), now) == (
        timedelta(days=7)
    )


def test_a_fired_job_runs_the_sync_and_the_reconcile_after_it(
    engine: Engine, tmp_path: Path
) -> None:
    """Fired by moving its next run time to now: no waiting for the schedule."""
    app = make_app(engine, tmp_path, {"psa": 'schedule = "0 2 * * *"'},
                   reconcile="after_sync = true")  # fmt: skip
    _ran(engine, "psa", timedelta(hours=13))  # daily: neither overdue nor run in the last 12h
    worker = Worker(app, Notifier([]))
    scheduler = build_scheduler(app.config, worker)
    scheduler.start()
    try:
        assert runs(engine) == [(1, "succeeded", "schedule", None)]
        scheduler.get_job("sync:psa").modify(next_run_time=utcnow())
        scheduler.wakeup()
        wait_for("the fired run", lambda: len(runs(engine)) == 2 and finished(engine, 2))
        wait_for("the reconcile after it", lambda: not worker._busy())
    finally:
        scheduler.shutdown(wait=True)
    assert runs(engine)[1][1:3] == ("succeeded", "schedule")
    count, _ = live_actuals(engine, "psa")
    assert count == 300
    with engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT count(*) FROM variance").scalar()
    assert found and found > 0  # the reconcile ran after the sync


def test_a_replica_skips_a_connector_that_ran_recently_or_is_running(
    engine: Engine, tmp_path: Path
) -> None:
    app = make_app(engine, tmp_path, {"psa": 'schedule = "15m"'})
    worker = Worker(app, Notifier([]))
    worker.intervals["psa"] = timedelta(minutes=15)
    _ran(engine, "psa", timedelta(minutes=5))  # another replica, 5 minutes ago
    worker.scheduled_sync("psa")
    assert len(runs(engine)) == 1
    other = Lease(engine, "psa", "replica-b", app.settings.lease_ttl)
    with engine.begin() as conn:  # the other replica runs it now
        conn.execute(SyncRun.__table__.update().values(started_at=utcnow() - timedelta(hours=1)))
    assert other.acquire() is None
    worker.scheduled_sync("psa")
    assert len(runs(engine)) == 1  # refused by the lease: no run row
    other.release()
    worker.scheduled_sync("psa")
    assert [r[1:3] for r in runs(engine)] == [("succeeded", "schedule")] * 2
    assert live_actuals(engine, "psa")[0] == 300
