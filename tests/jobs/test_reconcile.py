"""The reconcile runner (one at a time, exactly one more when triggered while running) and its
CLI: reconcile, read-only reports, variances and ack. SQLite and PostgreSQL."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import pmo_ledger.jobs.reconcile as runner
import pmo_ledger.ledger.reconcile.run as rules_module
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import load_config
from pmo_ledger.jobs.lease import Lease
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.models import (
    ActualPeriodTotal,
    AggregateState,
    Variance,
    VarianceEvent,
    utcnow,
)
from tests.jobs.test_cli import CONFIG, invoke, ok, write_config
from tests.ledger.reconcile.portfolio import base_portfolio

RULES = """
[reconcile.rules.budget_overrun]
amount = 100
high_amount = 0

[reconcile.rules.burn_rate]
amount = 100
high_amount = 0
"""


@pytest.fixture
def config(engine: Engine, tmp_path: Path, session: Session) -> Iterator[Path]:
    base_portfolio(session)
    yield write_config(tmp_path, engine.url.render_as_string(hide_password=False), CONFIG + RULES)


def app_for(config: Path, engine: Engine) -> App:
    return App(load_config(config, {}), config, _engine=engine)


def test_reconcile_writes_variances_and_a_rerun_changes_nothing(config: Path) -> None:
    first = invoke(config, "reconcile")
    assert first.exit_code == 0, first.output
    assert (
        "budget_overrun 6, forecast_overrun 0, burn_rate 1, hours_overrun 0, over_allocation 0, "
        "under_utilization 0, source_disagreement 0, data_quality 0, released_overrun 0\n"
    ) in first.output
    assert "variances: 7 opened, 0 updated, 0 unchanged" in first.output
    again = invoke(config, "reconcile")
    assert "variances: 0 opened, 0 updated, 7 unchanged, 0 escalated, 0 reopened, 0 resolved" in (
        again.output
    )


def test_variances_list_and_ack(config: Path, engine: Engine) -> None:
    invoke(config, "reconcile")
    listed = invoke(config, "variances", "--open", "--project", "P1", "--format", "json")
    rows = json.loads(listed.output)["items"]
    assert len(rows) == 5 and rows[0]["severity"] == "high"
    target = next(r for r in rows if r["dimension"] == "labor" and r["period"] == "")
    acked = invoke(config, "variances", "ack", str(target["id"]), "--note", "extra consultant")
    assert acked.exit_code == 0, acked.output
    assert acked.output == (
        f"variance {target['id']} acknowledged (budget_overrun P1 labor to date)\n"
    )
    with Session(engine) as s:
        v = s.get(Variance, target["id"])
        assert v is not None and (v.status, v.note) == ("acknowledged", "extra consultant")
        # one event, in the acknowledgement's transaction, after the run's `opened`
        events = s.execute(
            select(VarianceEvent.event, VarianceEvent.status, VarianceEvent.acknowledged_by,
                   VarianceEvent.note, VarianceEvent.at)
            .where(VarianceEvent.variance_id == v.id).order_by(VarianceEvent.id)
        ).all()  # fmt: skip
        assert [tuple(e)[:4] for e in events] == [
            ("opened", "open", None, None),
            ("acknowledged", "acknowledged", getpass.getuser(), "extra consultant"),
        ]
        assert events[1].at == v.acknowledged_at
    missing = invoke(config, "variances", "ack", "9999", "--note", "x")
    assert (missing.exit_code, missing.output) == (1, "error: no variance 9999\n")
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(VarianceEvent)) == 7 + 1


def test_a_status_date_report_is_read_only_and_exports(
    config: Path, tmp_path: Path, engine: Engine
) -> None:
    """--status-date 2025-09-30: through 2025-09 only P1 labor is over (1500 vs 1000, to date
    and in the period); nothing is written to the variances."""
    target = tmp_path / "report.csv"
    result = invoke(config, "reconcile", "--status-date", "2025-09-30", "--format", "csv",
                    "--output", str(target))  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("rule,subject_type,subject_id,dimension,period,severity")
    keys = sorted(tuple(line.split(",")[:5]) for line in lines[1:])
    assert keys == [
        ("budget_overrun", "project", "P1", "labor", ""),
        ("budget_overrun", "project", "P1", "labor", "2025-09"),
        ("burn_rate", "project", "P1", "labor", "2025-09"),
    ]
    with Session(engine) as s:
        assert s.scalars(select(Variance)).all() == []
    known = invoke(config, "reconcile", "--as-known-at", "2025-01-01T00:00:00Z", "--format", "json")
    assert json.loads(known.output) == []


def test_a_trigger_while_running_queues_exactly_one_more_run(
    config: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three triggers during a run: the running reconcile runs once more, then releases."""
    app = app_for(config, engine)
    real = runner._live
    calls: list[str] = []

    def live(app_: App, project: str | None, lease: Lease) -> object:
        calls.append("run")
        if len(calls) == 1:
            for _ in range(3):
                assert runner.run_reconcile(app_for(config, engine)).queued
        return real(app_, project, lease)

    monkeypatch.setattr(runner, "_live", live)
    outcome = runner.run_reconcile(app)
    assert (len(outcome.results), outcome.queued, calls) == (2, False, ["run", "run"])
    lease = Lease(engine, runner.LEASE, "someone", timedelta(minutes=10))
    assert lease.acquire() is None  # released at the end


def test_a_held_lease_queues_and_its_holder_runs_again(config: Path, engine: Engine) -> None:
    other = Lease(engine, runner.LEASE, "other-host:1:abc", timedelta(minutes=10))
    assert other.acquire() is None
    outcome = runner.run_reconcile(app_for(config, engine))
    assert outcome.queued and outcome.results == []
    assert other.release_unless_pending() is False  # the request is taken: run once more
    assert other.release_unless_pending() is True


def test_variances_as_csv_and_table_and_a_project_run(config: Path) -> None:
    """CSV has a header and one row per variance; the table names each rule; `reconcile
    --project P2` reports P2's findings only; an unknown project is one error line."""
    invoke(config, "reconcile")
    rows = invoke(config, "variances", "--format", "csv").stdout.splitlines()
    assert rows[0].startswith("id,rule,subject_type,subject_id,dimension,period,severity,status")
    assert len(rows) == 1 + 7
    table = invoke(config, "variances", "--open", "--project", "P2").output
    assert table.count("budget_overrun") == 2 and "P1" not in table
    scoped = invoke(config, "reconcile", "--project", "P2")
    assert scoped.exit_code == 0, scoped.output
    assert "budget_overrun 2, forecast_overrun 0, burn_rate 0" in scoped.output
    assert "variances: 0 opened, 0 updated, 2 unchanged" in scoped.output
    unknown = invoke(config, "reconcile", "--project", "NOPE")
    assert (unknown.exit_code, unknown.output) == (1, "error: no project 'NOPE'\n")


def test_stale_aggregates_are_rebuilt_and_committed_before_the_rules_run(
    config: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live run after a sync that left its source stale rebuilds the aggregates in a
    transaction of their own, so the run's rules still read on two connections (PostgreSQL);
    the findings are those of the rebuilt aggregates."""
    aside: list[list[str]] = []
    real = rules_module._run_aside
    monkeypatch.setattr(
        rules_module, "_run_aside", lambda ctx, names: (aside.append(names), real(ctx, names))[1]
    )
    with Session(engine) as s:
        s.query(ActualPeriodTotal).delete()  # what a large batch leaves for the rebuild
        aggregates.mark_stale(s, ["psa"], utcnow())
        s.commit()
    outcome = runner.run_reconcile(app_for(config, engine))
    assert outcome.last is not None and outcome.last.counts["budget_overrun"] == 6
    assert aside == ([] if engine.dialect.name == "sqlite" else [[
        "forecast_overrun", "hours_overrun", "over_allocation", "under_utilization",
        "source_disagreement", "data_quality", "released_overrun"]])  # fmt: skip
    with Session(engine) as s:
        assert aggregates.stale_sources(s) == []
        assert s.get(AggregateState, "psa").stale_since is None  # type: ignore[union-attr]


def test_variances_filter_by_severity_rule_project_and_status_and_page(config: Path) -> None:
    """The 7 variances of the portfolio: high P1 travel to date, P1 labor 2025-09, P1 travel
    2025-10; the rest medium (issue 18, item 4)."""
    invoke(config, "reconcile")

    def listed(*args: str) -> list[tuple[str, str, str, str]]:
        rows = json.loads(ok(invoke(config, "variances", "--format", "json", *args)))["items"]
        return [(r["rule"], r["subject_id"], r["dimension"], r["period"]) for r in rows]

    assert sorted(listed("--severity", "high")) == [
        ("budget_overrun", "P1", "labor", "2025-09"),
        ("budget_overrun", "P1", "travel", ""),
        ("budget_overrun", "P1", "travel", "2025-10"),
    ]
    assert listed("--rule", "burn_rate") == [("burn_rate", "P1", "labor", "2025-09")]
    assert sorted(listed("--project", "P2", "--severity", "medium")) == [
        ("budget_overrun", "P2", "total", ""), ("budget_overrun", "P2", "total", "2025-10"),
    ]  # fmt: skip
    assert listed("--status", "resolved") == []
    assert len(listed("--status", "open")) == 7
    everything = listed()
    assert listed("--limit", "2", "--offset", "1") == everything[1:3]
    table = ok(invoke(config, "variances", "--limit", "2", "--offset", "1"))
    assert table.rstrip("\n").endswith("variances 2-3 of 7")
    assert ok(invoke(config, "variances", "--offset", "7")) == "no variances past 7 of 7\n"
    bad = invoke(config, "variances", "--rule", "nope")
    assert bad.exit_code == 1 and "unknown rule 'nope'" in bad.stderr
    assert invoke(config, "variances", "--limit", "0").exit_code == 2
    assert invoke(config, "variances", "--severity", "urgent").exit_code == 2
