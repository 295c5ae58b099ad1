"""The hostility switches: 429 storms with Retry-After, 5xx, a 200 with an error body, a
401 mid-run, and the dirty rows of the `dirty` seed."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.connectors.workfront.sandbox.run import running
from tests.connectors.workfront.sandbox.conftest import client_for


def test_429_storm_with_retry_after(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """fail_next(3, status=429, retry_after=2): three 429s with Retry-After: 2 and an error
    body, then the search answers."""
    server.fail_next(3, status=429, retry_after=2)
    replies = [api.get("HOUR/search") for _ in range(4)]
    assert [r.status_code for r in replies] == [429, 429, 429, 200]
    assert [r.headers.get("Retry-After") for r in replies[:3]] == ["2", "2", "2"]
    assert replies[0].json()["error"]["message"] == "Too Many Requests"
    assert len(replies[3].json()["data"]) == 100


def test_5xx_then_recovery(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """fail_next(2, status=502): two 502s with error bodies, then a count."""
    server.fail_next(2, status=502)
    statuses = [api.get("HOUR/count").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


def test_failure_for_one_object_only(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """objcode=HOUR: a project search still answers while hours fail."""
    server.fail_next(1, status=503, objcode="HOUR")
    assert api.get("PROJ/count").status_code == 200
    assert api.get("HOUR/count").status_code == 503
    assert api.get("HOUR/count").status_code == 200


def test_200_with_an_error_body(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """error_body_next: status 200, but the body is an `error` and has no `data`."""
    server.error_body_next(message="Query timed out")
    reply = api.get("HOUR/search")
    assert reply.status_code == 200
    assert reply.json() == {
        "error": {
            "class": "java.lang.RuntimeException",
            "message": "Query timed out",
            "title": None,
        }
    }


def test_401_mid_run_with_documented_body(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """unauthorized_next: a valid key gets one 401 AuthenticationException, then reads."""
    server.unauthorized_next()
    first = api.get("HOUR/count")
    assert first.status_code == 401
    assert first.json()["error"]["class"] == "com.attask.common.AuthenticationException"
    assert api.get("HOUR/count").status_code == 200


def test_failures_are_logged_and_counted(api: httpx.Client, server: WorkfrontSandbox) -> None:
    """Failed calls count as calls of their endpoint and are logged with their status."""
    server.clear_log()
    server.fail_next(1, status=429, retry_after=1)
    api.get("HOUR/search")
    api.get("HOUR/search")
    assert server.calls["HOUR/search"] == 2
    assert [r.status for r in server.requests] == [429, 200]


@pytest.fixture
def dirty(tls: TlsFiles) -> Iterator[tuple[WorkfrontSandbox, dict[str, str]]]:
    store = FakeWorkfront()
    seed = seed_demo(store, hours=50, dirty=True)
    with WorkfrontSandbox(store, tls=tls, user=ApiUser(user_id=seed.api_user_id)) as server:
        yield server, seed.dirty


def test_dirty_rows_are_served_as_they_are(
    dirty: tuple[WorkfrontSandbox, dict[str, str]],
) -> None:
    """The dirty seed serves hours with null hours, a null entryDate and text in hours, and
    expenses with text in actualAmount and a null effectiveDate."""
    server, reasons = dirty
    assert sorted(reasons.values()) == [
        "actualAmount is not a number",
        "effectiveDate is null",
        "entryDate is null",
        "hours is not a number",
        "hours is null",
    ]
    with client_for(server, apiKey=server.user.api_key) as client:
        hours = {
            r["ID"]: r
            for r in client.get(
                "HOUR/search", params={"fields": "hours,entryDate", "$$LIMIT": "2000"}
            ).json()["data"]
        }
        expenses = {
            r["ID"]: r
            for r in client.get(
                "EXPNS/search", params={"fields": "actualAmount,effectiveDate", "$$LIMIT": "2000"}
            ).json()["data"]
        }
    by_reason = {reason: record_id for record_id, reason in reasons.items()}
    assert hours[by_reason["hours is null"]]["hours"] is None
    assert hours[by_reason["entryDate is null"]]["entryDate"] is None
    assert hours[by_reason["hours is not a number"]]["hours"] == "seven"
    assert expenses[by_reason["actualAmount is not a number"]]["actualAmount"] == "1,250.00"
    assert expenses[by_reason["effectiveDate is null"]]["effectiveDate"] is None


def test_running_yields_settings_a_person_pastes() -> None:
    """running(): base_url, api_key and ca_bundle read the demo account over HTTPS. Its hours:
    of the 40 drawn, the 8 on the Workfront-only projects (the PSA's projects have its 2,092
    timecards instead, and the 40 planted unsent hours: `seed_demo(psa=...)`), plus the 3
    general hours (43 before the demo's Workfront mirrored the PSA)."""
    with running(SandboxOptions(), hours=40) as sandbox:
        settings = sandbox.settings
        assert sandbox.table == "workfront"
        assert set(settings) == {"base_url", "api_key", "ca_bundle"}
        trust = ssl.create_default_context(cafile=settings["ca_bundle"])
        with httpx.Client(verify=trust, headers={"apiKey": settings["api_key"]}) as client:
            reply = client.get(f"{settings['base_url']}/attask/api/v19.0/HOUR/count")
        assert reply.json() == {"data": {"count": 8 + 2092 + 40 + 3}}
        assert sandbox.lines[0].startswith("Workfront sandbox: ")


def test_large_seed_size_knob() -> None:
    """hours=5000 seeds 5000 logged hours (plus 3 general), deterministically."""
    first, second = FakeWorkfront(), FakeWorkfront()
    seed_demo(first, hours=5000)
    seed_demo(second, hours=5000)
    assert first.count("HOUR") == 5003
    total = sum(Decimal(r["hours"]) for r in first.rows("HOUR"))
    assert total == sum(Decimal(r["hours"]) for r in second.rows("HOUR"))
    assert [r["ID"] for r in first.rows("HOUR")] == [r["ID"] for r in second.rows("HOUR")]


def test_running_with_short_sessions() -> None:
    """running(session_ttl=0): a session from /login is refused on its next use; the username
    and password printed in the lines log in."""
    with running(SandboxOptions(), hours=10, session_ttl=0.0) as sandbox:
        base = f"{sandbox.settings['base_url']}/attask/api/v19.0/"
        trust = ssl.create_default_context(cafile=sandbox.settings["ca_bundle"])
        username = next(line.split()[-1] for line in sandbox.lines if "username" in line)
        password = next(line.split()[-1] for line in sandbox.lines if "password" in line)
        with httpx.Client(base_url=base, verify=trust) as client:
            login = client.post("login", params={"username": username, "password": password})
            session = login.json()["data"]["sessionID"]
            assert client.get("HOUR/count", headers={"sessionID": session}).status_code == 401


def test_wire_variants_a_client_should_read(tls: TlsFiles) -> None:
    """plain_dates writes entryDate as 2025-03-03; bare_aggregates answers count and report
    without the data envelope; a Retry-After can be an HTTP date."""
    store = FakeWorkfront()
    seed = seed_demo(store, hours=20)
    user = ApiUser(user_id=seed.api_user_id)
    with (
        WorkfrontSandbox(
            store, tls=tls, user=user, plain_dates=True, bare_aggregates=True
        ) as server,
        client_for(server, apiKey=user.api_key) as client,
    ):
        row = client.get(
            "HOUR/search", params={"fields": "entryDate", "$$LIMIT": "1", "ID_Sort": "asc"}
        ).json()["data"][0]
        held = store.get("HOUR", row["ID"])["entryDate"]
        assert row["entryDate"] == held.isoformat()  # type: ignore[union-attr]
        assert client.get("HOUR/count").json() == {"count": 23}
        report = client.get(
            "HOUR/report", params={"hours_AggFunc": "sum", "$$ROLLUP": "true"}
        ).json(parse_float=Decimal)
        assert report == {"sum_hours": sum(r["hours"] for r in store.rows("HOUR"))}
        server.fail_next(1, status=429, retry_after="Wed, 02 Jul 2025 14:00:00 GMT")
        throttled = client.get("HOUR/count")
        assert throttled.headers["Retry-After"] == "Wed, 02 Jul 2025 14:00:00 GMT"
