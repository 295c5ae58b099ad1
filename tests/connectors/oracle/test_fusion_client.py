"""The Fusion REST client against the fake pod over HTTPS: paging past the silently capped
limit, order, the `q` window, Oracle's error bodies as typed errors, retries, OAuth tokens."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    StreamConfigError,
)
from pmo_ledger.connectors.oracle.fusion.client import vendor_error
from pmo_ledger.connectors.oracle.fusion.values import wire_time
from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData
from pmo_ledger.connectors.oracle.sandbox.fusion_server import USER, FusionSandbox
from tests.connectors.oracle.test_fusion_helpers import client_on, pod

__all__ = ["pod"]

COSTS = "projectCosts"


def ids(pages: list[list[dict[str, object]]]) -> list[int]:
    return [int(str(r["ExpenditureItemId"])) for page in pages for r in page]


def test_paging_advances_by_the_count_answered_not_the_limit_asked(pod: FusionSandbox) -> None:
    """Asked 500 a page, the pod answers 499: every cost comes exactly once, in order."""
    client = client_on(pod)
    pages = list(client.rows(COSTS, order_by="ExpenditureItemId:asc",
                             fields=("ExpenditureItemId",)))  # fmt: skip
    got = ids(pages)
    assert got == sorted(pod.data.costs)
    assert [len(p) for p in pages] == [499] * 6 + [len(pod.data.costs) - 6 * 499]
    asked = [(p["limit"], p["offset"]) for _, path, p in pod.app.log if path.endswith(COSTS)]
    assert asked == [("500", str(499 * k)) for k in range(7)]


def test_the_pod_punishes_a_client_that_advances_by_its_own_limit(pod: FusionSandbox) -> None:
    """The fake is hostile for real: offset += limit loses one row per page."""
    client = client_on(pod)
    params = client.params("ExpenditureItemId:asc", None, ("ExpenditureItemId",), {})
    seen, offset, more = [], 0, True
    while more:
        items, more = client.page(COSTS, params, offset)
        seen += [r["ExpenditureItemId"] for r in items]
        offset += 500
    assert len(pod.data.costs) - len(seen) == 6


def test_every_collection_read_sends_order_by(pod: FusionSandbox) -> None:
    """Without orderBy the pod answers another order each time; the client always asks one."""
    raw = httpx.Client(verify=ssl.create_default_context(cafile=str(pod.ca_file)), auth=USER)
    url = f"{pod.url}/fscmRestApi/resources/11.13.18.05/{COSTS}"
    first = [r["ExpenditureItemId"] for r in raw.get(url, params={"limit": 50}).json()["items"]]
    again = [r["ExpenditureItemId"] for r in raw.get(url, params={"limit": 50}).json()["items"]]
    assert first != again
    client = client_on(pod)
    list(client.window(COSTS, stamp="LastUpdateDate", key="ExpenditureItemId", since=None))
    list(client.rows("projects", order_by="ProjectId:asc"))
    orders = [p.get("orderBy") for _, _, p in pod.app.log[2:]]
    assert orders and all(orders)
    assert orders[0] == "LastUpdateDate:asc,ExpenditureItemId:asc"


def test_the_window_reads_only_rows_changed_since_the_cursor(pod: FusionSandbox) -> None:
    """`q=LastUpdateDate>='...'` lists the rows stamped at or after the cursor, no others."""
    stamps = sorted(c["LastUpdateDate"] for c in pod.data.costs.values())
    since = datetime.fromisoformat(stamps[-40])
    client = client_on(pod)
    got = ids(list(client.window(COSTS, stamp="LastUpdateDate", key="ExpenditureItemId",
                                 since=since)))  # fmt: skip
    want = sorted(
        (c["ExpenditureItemId"] for c in pod.data.costs.values()
         if datetime.fromisoformat(c["LastUpdateDate"]) >= since),
        key=lambda i: pod.data.costs[i]["LastUpdateDate"],
    )  # fmt: skip
    assert got == want and len(got) == 40
    (q,) = [p["q"] for _, path, p in pod.app.log if path.endswith(COSTS)]
    assert q == f"LastUpdateDate>='{wire_time(since)}'"


def test_a_row_edited_mid_read_is_not_skipped(pod: FusionSandbox) -> None:
    """A row already read that is edited moves to the end of the order; the window restarts
    at the last stamp read, so the rows behind it are not skipped (offset paging would)."""
    client = client_on(pod)
    reader = client.window(COSTS, stamp="LastUpdateDate", key="ExpenditureItemId", since=None)
    first = next(reader)
    with pod.data.lock:
        pod.data._touch(pod.data.costs[int(first[0]["ExpenditureItemId"])])
    rest = list(reader)
    got = ids([first, *rest])
    assert set(got) == set(pod.data.costs)
    assert got.count(int(first[0]["ExpenditureItemId"])) == 2
    assert got[-1] == int(first[0]["ExpenditureItemId"])


def test_an_unknown_attribute_is_a_stream_error_with_oracles_detail(pod: FusionSandbox) -> None:
    """A 400 with o:errorDetails names the attribute, the error code and the path."""
    client = client_on(pod)
    with pytest.raises(StreamConfigError) as caught:
        list(client.rows(COSTS, order_by="ExpenditureItemId:asc", q="Nope>'1'"))
    text = str(caught.value)
    assert "400 27024 The attribute Nope in q is not valid. (at q)" in text
    assert "GET <resource>/describe" in text


def test_wrong_credentials_are_a_config_error_naming_the_keys(pod: FusionSandbox) -> None:
    client = client_on(pod, password="wrong")
    with pytest.raises(ConnectorConfigError) as caught:
        list(client.rows("projects", order_by="ProjectId:asc"))
    assert "Fusion refused the credentials (401" in str(caught.value)
    assert "connectors.fusion.username/password" in str(caught.value)


def test_a_missing_resource_is_a_config_error(pod: FusionSandbox) -> None:
    client = client_on(pod)
    with pytest.raises(ConnectorConfigError, match=r"no such resource \(404 The requested "):
        list(client.rows("projectCostz", order_by="A:asc"))


def test_429_and_503_are_tried_again(pod: FusionSandbox) -> None:
    """Two throttled answers (Retry-After 0) and a 503 later, the read completes."""
    pod.app.fail_next(2, 429, retry_after=0)
    pod.app.fail_next(1, 503)
    client = client_on(pod)
    got = ids(list(client.rows(COSTS, order_by="ExpenditureItemId:asc")))
    assert got == sorted(pod.data.costs)
    assert pod.app.calls == 7 + 3


def test_throttling_beyond_the_attempts_keeps_the_retry_time(pod: FusionSandbox) -> None:
    pod.app.fail_next(3, 429, retry_after=120)
    client = client_on(pod, max_attempts=1)
    before = datetime.now(UTC)
    with pytest.raises(ConnectorTransientError) as caught:
        list(client.rows(COSTS, order_by="ExpenditureItemId:asc"))
    retry_at = caught.value.retry_at
    assert retry_at is not None
    assert before + timedelta(seconds=119) <= retry_at <= before + timedelta(seconds=125)


def test_an_oauth_token_serves_many_calls_and_is_renewed_before_it_expires(
    pod: FusionSandbox,
) -> None:
    now = [datetime(2026, 1, 5, 9, tzinfo=UTC)]
    client = client_on(pod, oauth=True, clock=lambda: now[0])
    list(client.rows(COSTS, order_by="ExpenditureItemId:asc"))
    assert pod.app.tokens_issued == 1
    now[0] += timedelta(seconds=3600 - 59)  # within the margin of expires_in = 3600
    list(client.rows("projects", order_by="ProjectId:asc"))
    assert pod.app.tokens_issued == 2


def test_a_revoked_token_is_fetched_again_once(pod: FusionSandbox) -> None:
    client = client_on(pod, oauth=True)
    list(client.rows("projects", order_by="ProjectId:asc"))
    pod.app.revoke_tokens()
    got = list(client.rows("projects", order_by="ProjectId:asc"))
    assert len(got[0]) == 6 and pod.app.tokens_issued == 2


def test_an_expired_token_on_the_pod_is_fetched_again() -> None:
    """The pod's tokens live one second: the 401 that follows brings a new one."""
    with FusionSandbox(FusionData(), token_ttl=1.0) as pod:
        client = client_on(pod, oauth=True)
        list(client.rows("projects", order_by="ProjectId:asc"))
        time.sleep(1.1)
        assert len(next(client.rows("projects", order_by="ProjectId:asc"))) == 6
        assert pod.app.tokens_issued == 2


def test_a_refused_client_secret_names_the_oauth_keys(pod: FusionSandbox) -> None:
    client = client_on(pod, oauth=True, client_secret="nope")
    with pytest.raises(ConnectorConfigError, match=r"token endpoint refused the client \(401"):
        list(client.rows("projects", order_by="ProjectId:asc"))


def test_vendor_error_reads_every_detail_and_plain_text() -> None:
    body = {"title": "Bad Request", "status": "400", "o:errorDetails": [
        {"detail": "Bad q.", "o:errorCode": "27024", "o:errorPath": "q"},
        {"detail": "Bad limit.", "o:errorCode": "27025"},
    ]}  # fmt: skip
    answer = httpx.Response(400, json=body)
    assert vendor_error(answer) == ("27024", "Bad q. (at q); Bad limit.")
    assert vendor_error(httpx.Response(500, text="Service down")) == ("", "Service down")
    assert vendor_error(httpx.Response(200, json={"items": []})) is None


def test_numbers_arrive_as_exact_decimals(pod: FusionSandbox) -> None:
    client = client_on(pod)
    item = min(pod.data.valid_costs(), key=lambda c: c["ExpenditureItemId"])
    (row,) = next(client.rows(COSTS, order_by="ExpenditureItemId:asc",
                              q=f"ExpenditureItemId={item['ExpenditureItemId']}"))  # fmt: skip
    assert isinstance(row["ProjectBurdenedCost"], Decimal)
    assert row["ProjectBurdenedCost"] == item["ProjectBurdenedCost"]


def test_two_threads_share_one_token_exchange() -> None:
    """The runner's read-ahead calls from a second thread: while one thread fetches the token,
    the other waits for it and uses it (one exchange, not two)."""
    import threading

    from pmo_ledger.connectors.oracle.fusion.client import ClientCredentials

    auth = ClientCredentials("https://pod.example/oauth2/v1/token", "id", "secret", None,
                             name="fusion", clock=lambda: datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    first = auth.auth_flow(httpx.Request("GET", "https://pod.example/a"))
    assert next(first).url.path == "/oauth2/v1/token"  # the first thread fetches
    seen: list[httpx.Request] = []
    second = threading.Thread(target=lambda: seen.append(next(auth.auth_flow(
        httpx.Request("GET", "https://pod.example/b")))))  # fmt: skip
    second.start()
    second.join(0.3)
    assert second.is_alive() and not seen  # waiting for the first thread's token
    token = httpx.Response(200, json={"access_token": "t1", "expires_in": 3600})
    assert first.send(token).headers["Authorization"] == "Bearer t1"
    second.join(5)
    assert [(r.url.path, r.headers["Authorization"]) for r in seen] == [("/b", "Bearer t1")]
    assert auth.fetched == 1


def test_rows_that_tie_on_order_by_come_in_another_order_each_call(pod: FusionSandbox) -> None:
    """Ordered by the project alone (thousands of costs tie on it), paging skips and repeats
    costs, as on a real pod; with the key last every cost comes exactly once."""
    client = client_on(pod)
    fields = ("ExpenditureItemId", "ProjectId")
    loose = ids(list(client.rows(COSTS, order_by="ProjectId:asc", fields=fields)))
    assert len(loose) == len(pod.data.costs) and len(set(loose)) < len(loose)
    tight = ids(list(client.rows(COSTS, order_by="ProjectId:asc,ExpenditureItemId:asc",
                                 fields=fields)))  # fmt: skip
    assert sorted(tight) == sorted(pod.data.costs) and len(set(tight)) == len(tight)
