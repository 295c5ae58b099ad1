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
    assert _check_every_operation(api_schema, 30, headers=auth) == 9


def test_the_api_keeps_to_its_spec_without_the_token(api_schema: Any) -> None:
    assert _check_every_operation(api_schema, 15) == 9


#: Bodies JSON parsers take but no model can hold (issue 18 item 9): NaN, infinities, numbers
#: past a float and unpaired surrogates; (operation, path parameters, raw body, field named).
MALFORMED = [
    ("POST /syncs/{connector}", {"connector": "psa"}, b'{"full": NaN}', ["body", "full"]),
    ("POST /syncs/{connector}", {"connector": "psa"}, b'{"full": 1e999}', ["body", "full"]),
    ("POST /syncs/{connector}", {"connector": "psa"}, b'{"since": -Infinity}', ["body", "since"]),
    ("POST /syncs/{connector}", {"connector": "psa"}, b'{"since": "\\ud800"}', ["body", "since"]),
    ("POST /syncs/{connector}", {"connector": "psa"}, b'{"full": true, "x\\udc00": 1}',
     ["body"]),  # a key that is no string: the body
    ("POST /syncs/{connector}", {"connector": "psa"}, b"NaN", ["body"]),
    ("POST /variances/{variance_id}/ack", {"variance_id": 1}, b'{"note": NaN}', ["body", "note"]),
    ("POST /variances/{variance_id}/ack", {"variance_id": 1}, b'{"note": "a\\ud800b"}',
     ["body", "note"]),
    ("POST /variances/{variance_id}/ack", {"variance_id": 1}, b'{"note": "ok", "by": 1e999}',
     ["body", "by"]),
]  # fmt: skip


def test_a_body_no_model_can_hold_is_a_422_naming_the_field(api_schema: Any) -> None:
    """Every body of MALFORMED, on one synced ledger (a ledger each would cost a sync and a
    reconcile apiece): each answer is a 422 naming its field, as the spec says."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    wrong = []
    for label, path, body, field in MALFORMED:
        case = api_schema.find_operation_by_label(label).Case(
            path_parameters=path, media_type="application/json"
        )
        answer = case.call(headers=headers, data=body)
        if answer.status_code != 422:
            wrong.append((label, body, answer.status_code, answer.content))
            continue
        if [e["loc"] for e in answer.json()["detail"]] != [field]:
            wrong.append((label, body, answer.json()["detail"]))
        case.validate_response(answer)  # as the spec says, like the generated cases
    assert wrong == []
