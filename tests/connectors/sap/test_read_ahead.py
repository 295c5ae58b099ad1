"""The SAP connector read ahead of the runner's writes (`reads_ahead`: the next pages and the
next stream fetched while a batch is written) gives the ledger a sync in turn gives, over RFC
(the fake pyrfc module) and OData (the sandbox's services over HTTPS), on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.sap import SapConnector
from pmo_ledger.connectors.sap.sandbox.seed import SeedSummary
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from pmo_ledger.jobs.app import App
from tests.connectors.same_ledger import assert_same_ledger, read_ahead_and_in_turn
from tests.connectors.sap.fake_sap import demo, fake_settings
from tests.connectors.sap.sap_system import app_reading


@pytest.fixture
def fake() -> Iterator[tuple[SapSystem, SeedSummary]]:
    yield from demo()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with SapConnector.sandbox(SandboxOptions(page_size=25)) as running:
        yield running


def maker(engine: Engine, tmp_path: Any, settings: dict[str, Any]) -> Any:
    def make(depth: int | None) -> App:
        ledger: dict[str, Any] = {"batch_rows": 20}  # several batches a stream
        if depth is not None:
            ledger["prefetch_pages"] = depth
        return app_reading(engine, tmp_path, settings, calendar={"special_periods": 4}, **ledger)

    return make


def test_over_rfc_a_read_ahead_sync_gives_the_ledger_of_one_in_turn(
    engine: Engine, tmp_path: Any, request: pytest.FixtureRequest,
    fake: tuple[SapSystem, SeedSummary],
) -> None:  # fmt: skip
    settings = fake_settings(page_size=10, fx_rate_type="M")
    got = read_ahead_and_in_turn(engine, request, maker(engine, tmp_path, settings), "erp")
    assert len(got.ahead["actual_line"]) > 20 and got.ahead["project"] and got.ahead["budget_line"]
    assert_same_ledger(got, "erp", ["tasks", "budgets", "fx_rates", "actuals"])


def test_over_odata_a_read_ahead_sync_gives_the_ledger_of_one_in_turn(
    engine: Engine, tmp_path: Any, request: pytest.FixtureRequest, sandbox: Sandbox
) -> None:
    settings: dict[str, Any] = {"kind": "sap", **sandbox.settings, "odata_page_size": 40,
                                "page_size": 10}  # fmt: skip
    got = read_ahead_and_in_turn(engine, request, maker(engine, tmp_path, settings), "erp")
    assert len(got.ahead["actual_line"]) > 20 and got.ahead["project"]
    assert_same_ledger(got, "erp", ["tasks", "actuals"])  # no budgets, rates
