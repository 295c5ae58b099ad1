"""The same statements on the EBS-shaped schema in SQLite (an attached database) and in
PostgreSQL (a schema "APPS"), into either ledger: the same records and totals."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from pmo_ledger.connectors.oracle.sandbox import mutate
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from tests.connectors.oracle.source import (
    Source,
    ledger_totals,
    oracle_app,
    source_totals,
    world_totals,
)


def test_both_source_databases_read_to_the_worlds_totals_and_after_a_round(
    engine: Engine, tmp_path: Path, any_source: Source
) -> None:
    app = oracle_app(engine, tmp_path, any_source.url)
    assert run_sync(app, "ebs").status == "succeeded"
    assert {k: (v[1], v[2]) for k, v in ledger_totals(app).items()} == world_totals()
    mutate.mutation_round(any_source.ebs, any_source.later())
    result = run_sync(app, "ebs")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == source_totals(any_source)
    checked = verify(app, "ebs", ["actuals", "budgets"])
    assert not checked.drift, [d for s in checked.streams for d in s.drifted]
    assert {d.project_ref for s in checked.streams for d in s.drifts} >= {"PRJ-0004"}
