"""The Oracle connector read ahead of the runner's writes (`reads_ahead`: the next pages and
the next stream fetched while a batch is written) gives the ledger a sync in turn gives: EBS
(the demo schema in SQLite, over a SQLAlchemy pool) and Fusion (the fake pod over HTTPS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pmo_ledger.connectors.oracle.sandbox.fusion_server import FusionSandbox
from pmo_ledger.jobs.app import App
from tests.connectors.oracle.source import Source, oracle_app
from tests.connectors.oracle.test_fusion_helpers import pod
from tests.connectors.oracle.test_fusion_sync import ledger_app
from tests.connectors.same_ledger import assert_same_ledger, read_ahead_and_in_turn

__all__ = ["pod"]


def ledger(depth: int | None) -> dict[str, Any]:
    table: dict[str, Any] = {"batch_rows": 20}  # several batches a stream
    if depth is not None:
        table["prefetch_pages"] = depth
    return table


def test_ebs_read_ahead_gives_the_ledger_of_a_sync_in_turn(
    engine: Engine, tmp_path: Path, request: pytest.FixtureRequest, source: Source
) -> None:
    def make(depth: int | None) -> App:
        return oracle_app(engine, tmp_path, source.url, ledger(depth), page_size=7,
                          fx_rate_type="Corporate")  # fmt: skip

    got = read_ahead_and_in_turn(engine, request, make, "ebs")
    assert len(got.ahead["actual_line"]) > 20 and got.ahead["budget_line"]
    assert_same_ledger(got, "ebs", ["tasks", "budgets", "actuals", "fx_rates"])


def test_fusion_read_ahead_gives_the_ledger_of_a_sync_in_turn(
    engine: Engine, tmp_path: Path, request: pytest.FixtureRequest, pod: FusionSandbox
) -> None:
    def make(depth: int | None) -> App:
        return ledger_app(engine, tmp_path, pod, ledger(depth))

    got = read_ahead_and_in_turn(engine, request, make, "fus")
    assert len(got.ahead["actual_line"]) > 20 and got.ahead["budget_line"]
    assert_same_ledger(got, "fus", ["tasks", "budgets", "actuals"])
