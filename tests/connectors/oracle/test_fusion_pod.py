"""The fake Fusion pod itself: its query language, what its resources hold, how it refuses."""

from __future__ import annotations

import ssl
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pmo_ledger.connectors.oracle.sandbox.fusion_query import (
    FusionError,
    filter_rows,
    order_rows,
)
from pmo_ledger.connectors.oracle.sandbox.fusion_server import ROOT, USER, FusionSandbox
from tests.connectors.oracle.test_fusion_helpers import pod

__all__ = ["pod"]

ROWS: list[dict[str, Any]] = [
    {"Id": 1, "Name": "O'Brien", "Status": "Baseline", "Amount": Decimal("10.5"),
     "LastUpdateDate": "2026-01-05T08:00:00.000+00:00"},
    {"Id": 2, "Name": "Lee", "Status": "Current Baseline", "Amount": Decimal("-3"),
     "LastUpdateDate": "2026-01-05T02:30:00.000-06:00"},
    {"Id": 3, "Name": "Kim", "Status": "Current Working", "Amount": None,
     "LastUpdateDate": "2026-01-05T09:00:00.000+00:00"},
]  # fmt: skip


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["Id"]) for r in rows]


@pytest.mark.parametrize(
    ("q", "want"),
    [
        ("Name='O''Brien'", [1]),
        ("(Status='Baseline' or Status='Current Baseline') and Amount<0", [2]),
        ("Status!='Current Working';Amount>=10", [1]),  # version 1 conditions
        ("LastUpdateDate>='2026-01-05T08:30:00.000+00:00'", [2, 3]),  # 08:30 UTC is later
        ("Amount>-100", [1, 2]),  # a null never matches
    ],
)
def test_q_expressions(q: str, want: list[int]) -> None:
    assert ids(filter_rows(ROWS, q)) == want


def test_order_by_sorts_instants_and_puts_nulls_last() -> None:
    assert ids(order_rows(ROWS, "LastUpdateDate:asc,Id:asc")) == [1, 2, 3]
    assert ids(order_rows(ROWS, "Amount:desc")) == [3, 1, 2]  # nulls first when descending
    assert ids(order_rows(ROWS, "Amount:asc")) == [2, 1, 3]


def test_an_unknown_attribute_is_refused() -> None:
    with pytest.raises(FusionError, match="The attribute Nope in q is not valid"):
        filter_rows(ROWS, "Nope='x'")
    with pytest.raises(FusionError, match="in orderBy is not valid"):
        order_rows(ROWS, "Nope:asc")


def get(pod: FusionSandbox, resource: str, auth: Any = USER, **params: Any) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(pod.ca_file))
    with httpx.Client(verify=context, auth=auth) as client:
        return client.get(f"{pod.url}{ROOT}{resource}", params=params)


def test_expenditure_items_carry_no_amounts_and_templates_are_apart(pod: FusionSandbox) -> None:
    items = get(pod, "projectExpenditureItems", limit=5).json()["items"]
    assert items and not any("Cost" in k for row in items for k in row)
    templates = get(pod, "projectTemplates").json()["items"]
    numbers = [p["ProjectNumber"] for p in get(pod, "projects").json()["items"]]
    assert [t["ProjectNumber"] for t in templates] == ["TPL-CONSULTING"]
    assert "TPL-CONSULTING" not in numbers and len(numbers) == 6


def test_the_answer_states_the_limit_it_used_and_links_without_only_data(
    pod: FusionSandbox,
) -> None:
    body = get(pod, "projectCosts", limit=800, orderBy="ExpenditureItemId:asc").json()
    assert (body["limit"], body["count"], body["hasMore"]) == (499, 499, True)
    assert body["links"][0]["rel"] == "self" and "links" in body["items"][0]
    lean = get(pod, "projectCosts", limit=2, onlyData="true", totalResults="true").json()
    assert "links" not in lean and lean["totalResults"] == len(pod.data.costs)


def test_refusals_are_oracle_error_bodies(pod: FusionSandbox) -> None:
    unauthorized = get(pod, "projects", auth=("PMO.INTEGRATION", "wrong"))
    assert unauthorized.status_code == 401
    assert unauthorized.headers["WWW-Authenticate"].startswith("Basic")
    bad = get(pod, "projects", fields="ProjectId,Nope")
    assert bad.status_code == 400
    assert bad.headers["Content-Type"] == "application/vnd.oracle.adf.error+json"
    assert bad.json()["o:errorDetails"] == [{
        "detail": "The field Nope is not valid for this resource.",
        "o:errorCode": "27023", "o:errorPath": "fields",
    }]  # fmt: skip
    pod.app.fail_next(1, 429, retry_after=3)
    throttled = get(pod, "projects")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
