"""Property-based tests against the served OpenAPI spec (schemathesis): whatever the spec
allows, with and without the token, the API answers without a 500 and as its spec says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.jobs.sync import run_sync
from tests.service.helpers import make_app

TOKEN = "spec-t0ken"


@pytest.fixture
def api_schema(engine: Engine, tmp_path: Path) -> Iterator[Any]:
    """The API over a ledger with one synced and reconciled sample source, and a disabled one
    (its trigger answers 409 as the spec says)."""
    app = make_app(
        engine, tmp_path, {"psa": "", "off": "enabled = false"}, service=f'api_token = "{TOKEN}"'
    )
    run_sync(app, "psa")
    run_reconcile(app)
    worker = Worker(app, Notifier([]))
    yield schemathesis.openapi.from_asgi("/openapi.json", create_api(worker, lambda: True))
    worker.stop(10)  # syncs the generated requests started


def _check_every_operation(schema: Any, examples: int, **call: Any) -> int:
    """Run `examples` generated cases of every operation; returns the operations checked."""
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            case.call_and_validate(**call)

        check()
        checked += 1
    return checked


# schemathesis' own pytest integration (`from_fixture`) does not run under this pytest, so the
# generated cases run through Hypothesis directly, one operation after the other.


def test_the_api_keeps_to_its_spec_with_the_token(api_schema: Any) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert _check_every_operation(api_schema, 30, headers=auth) == 8


def test_the_api_keeps_to_its_spec_without_the_token(api_schema: Any) -> None:
    assert _check_every_operation(api_schema, 15) == 8
