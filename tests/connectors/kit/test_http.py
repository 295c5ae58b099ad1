"""The kit's HTTP client against a real server on 127.0.0.1: retries on 429 (waiting what
`Retry-After` says, as seconds or as an HTTP date), on 5xx and on timeouts, bounded backoff,
`ca_bundle` against a trustme CA, vendor errors in a 200's body, and logs without secrets.
Waits go to an injected `sleep` and the clock is fixed: no test waits for real."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
import trustme

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    SourceError,
)
from pmo_ledger.connectors.kit.errors import ErrorRule
from pmo_ledger.connectors.kit.http import HttpClient, RetryPolicy, retry_after_seconds
from tests.connectors.kit.example_hours import vendor_error
from tests.connectors.kit.local_server import Answer, Seen, scripted, serving, url

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OK = Answer(200, {"data": [{"ID": "a1"}]})


class Waits:
    """An injected `sleep`: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


def client(base: str, waits: Waits, **kwargs: Any) -> HttpClient:
    return HttpClient(base, name="wf", sleep=waits, clock=lambda: NOW, **kwargs)


def test_429_waits_the_seconds_retry_after_states(waits: Waits) -> None:
    """Two 429s with `Retry-After: 7` then 200: two waits of 7 s, three calls, the data."""
    limited = Answer(429, {"error": "slow down"}, {"Retry-After": "7"})
    with serving(scripted(limited, limited, OK)) as server:
        with client(url(server), waits) as http:
            assert http.get_json("/hour/search") == {"data": [{"ID": "a1"}]}
    assert waits.seconds == [7.0, 7.0]
    assert [s.path for s in server.seen] == ["/hour/search"] * 3


def test_429_waits_until_the_http_date_retry_after_states(waits: Waits) -> None:
    """`Retry-After` as an HTTP date 90 s after the (fixed) clock: one wait of 90 s."""
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    with serving(scripted(Answer(429, {}, {"Retry-After": when}), OK)) as server:
        with client(url(server), waits) as http:
            http.get_json("/hour/search")
    assert waits.seconds == [90.0]


def test_a_retry_after_longer_than_the_policy_waits_fails_at_once_with_retry_at(
    waits: Waits,
) -> None:
    """An hour's `Retry-After` is not slept through: one call, a transient error whose
    retry_at is the stated time."""
    with serving(scripted(Answer(429, {}, {"Retry-After": "3600"}))) as server:
        with client(url(server), waits) as http, pytest.raises(ConnectorTransientError) as err:
            http.get_json("/hour/search", what="wf.actuals page 3")
    assert waits.seconds == []
    assert len(server.seen) == 1
    assert err.value.retry_at == NOW + timedelta(hours=1)
    assert str(err.value) == "wf.actuals page 3: the source limits the rate of calls (429)"


def test_5xx_then_success_backs_off_exponentially(waits: Waits) -> None:
    """503, 502, 500 then 200 with backoff 0.5: waits 0.5, 1, 2 (no Retry-After)."""
    answers = [Answer(503, {}), Answer(502, {}), Answer(500, {}), OK]
    with serving(scripted(*answers)) as server:
        with client(url(server), waits) as http:
            assert http.get_json("/proj/search")["data"][0]["ID"] == "a1"
    assert waits.seconds == [0.5, 1.0, 2.0]


def test_the_backoff_is_bounded_and_the_attempts_too(waits: Waits) -> None:
    """Always 503, 6 attempts, backoff 1 s capped at 3 s: waits 1, 2, 3, 3, 3, then a
    transient error naming the status."""
    policy = RetryPolicy(attempts=6, backoff=1.0, max_backoff=3.0)
    with serving(scripted(Answer(503, {}))) as server:
        with client(url(server), waits, retry=policy) as http:
            with pytest.raises(ConnectorTransientError, match=r"^GET /x: the source answered 503$"):
                http.get_json("/x")
    assert waits.seconds == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(server.seen) == 6


def test_a_timeout_is_retried_then_succeeds(waits: Waits) -> None:
    """The first answer comes after the read timeout: tried again, the second answers."""
    with serving(scripted(Answer(200, {"late": True}, delay=1.0), OK)) as server:
        with client(url(server), waits, read_timeout=0.2) as http:
            assert http.get_json("/hour/search") == {"data": [{"ID": "a1"}]}
    assert waits.seconds == [0.5]
    assert len(server.seen) == 2


def test_timeouts_to_the_end_are_a_transient_error(waits: Waits) -> None:
    policy = RetryPolicy(attempts=2)
    with serving(scripted(Answer(200, {}, delay=1.0))) as server:
        with client(url(server), waits, read_timeout=0.2, retry=policy) as http:
            with pytest.raises(ConnectorTransientError, match="no answer in time"):
                http.get_json("/hour/search")
    assert len(server.seen) == 2


def test_a_4xx_is_not_retried(waits: Waits) -> None:
    with serving(scripted(Answer(401, {"error": {"class": "AuthenticationException"}}))) as server:
        with client(url(server), waits) as http, pytest.raises(ConnectorConfigError) as err:
            http.get_json("/proj/search")
    assert waits.seconds == []
    assert len(server.seen) == 1
    assert "check the credentials of connectors.wf" in str(err.value)


def test_a_refusal_the_table_knows_is_not_retried_whatever_its_status(waits: Waits) -> None:
    """A 500 whose body the connector's table maps to a refusal (Workfront's
    AuthenticationException) fails at once: one call, no wait. A 500 with any other body is
    still tried again."""
    refused = ErrorRule(
        ConnectorConfigError, "{what}: refused ({detail})", code="AuthenticationException"
    )
    body = {
        "error": {
            "class": "com.attask.common.AuthenticationException",
            "message": "Invalid username or password",
        }
    }
    with serving(scripted(Answer(500, body))) as server:
        with client(url(server), waits, vendor_error=vendor_error, errors=(refused,)) as http:
            with pytest.raises(ConnectorConfigError) as err:
                http.request("POST", "/login", what="wf: login")
    assert str(err.value) == "wf: login: refused (Invalid username or password)"
    assert (len(server.seen), waits.seconds) == (1, [])
    other = {"error": {"class": "java.lang.NullPointerException", "message": "oops"}}
    with serving(scripted(Answer(500, other), OK)) as server:
        with client(url(server), waits, vendor_error=vendor_error, errors=(refused,)) as http:
            assert http.get_json("/hour/search")["data"][0]["ID"] == "a1"
    assert (len(server.seen), waits.seconds) == (2, [0.5])


def test_a_vendor_error_in_a_200_body_is_an_error(waits: Waits) -> None:
    """A 200 whose body holds `error` (read by the worked example's hook, Workfront's shape)
    fails through the table's catch-all row."""
    body = {"error": {"class": "java.lang.IllegalArgumentException", "message": "$$LIMIT"}}
    with serving(scripted(Answer(200, body))) as server:
        with client(url(server), waits, vendor_error=vendor_error) as http:
            with pytest.raises(SourceError) as err:
                http.get_json("/hour/search", what="wf.actuals")
    assert str(err.value) == (
        "wf.actuals: the source answered an error: IllegalArgumentException: $$LIMIT"
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with serving(scripted(OK), tls=context) as server:
        yield url(server, "https")


def test_ca_bundle_trusts_the_server_it_signs(
    ca: trustme.CA, tls_server: str, tmp_path: Path, waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `ca_bundle` the trustme CA's PEM, the HTTPS call answers; the environment's CA
    variables do not override it."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing.pem"))
    with client(tls_server, waits, ca_bundle=bundle) as http:
        assert http.get_json("/proj/search") == {"data": [{"ID": "a1"}]}


def test_without_the_ca_bundle_tls_fails_naming_the_setting(tls_server: str, waits: Waits) -> None:
    """The system trust store does not know the trustme CA: a config error naming
    `connectors.wf.ca_bundle`, not retried."""
    with client(tls_server, waits) as http, pytest.raises(ConnectorConfigError) as err:
        http.get_json("/proj/search")
    assert "TLS verification failed" in str(err.value)
    assert "set connectors.wf.ca_bundle to the PEM file" in str(err.value)
    assert waits.seconds == []


def test_logs_name_the_path_never_the_secrets(waits: Waits) -> None:
    """A retried call logs `http_retry` with method, path, status, attempt and wait; the API
    key in the query and the session header appear nowhere."""

    def route(seen: Seen) -> Answer:
        return Answer(503, {}) if len(server.seen) == 1 else OK

    with serving(route) as server:
        http = client(url(server), waits, headers={"SessionID": "sess-SECRET-1"})
        with structlog.testing.capture_logs() as logs, http:
            http.get_json("/hour/search", params={"apiKey": "key-SECRET-2", "$$LIMIT": "2000"})
    assert logs == [
        {
            "event": "http_retry",
            "log_level": "warning",
            "connector": "wf",
            "method": "GET",
            "path": "/hour/search",
            "status": 503,
            "error": None,
            "attempt": 1,
            "wait_seconds": 0.5,
        }
    ]
    assert "SECRET" not in repr(logs)
    assert server.seen[-1].headers["sessionid"] == "sess-SECRET-1"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("Mon, 02 Mar 2026 09:00:30 GMT", 30.0),
        ("Mon, 02 Mar 2026 08:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        (None, None),
        ("\u00b2", None),  # a digit to str.isdigit, not to HTTP
        ("99999999999999999999999", 7 * 24 * 3600.0),  # capped at a week
        ("Fri, 31 Dec 9999 23:59:59 GMT", 7 * 24 * 3600.0),
    ],
)
def test_retry_after_reads_seconds_and_dates(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_an_absurd_retry_after_is_a_transient_error_with_a_retry_at_a_week_away(
    waits: Waits,
) -> None:
    """A 429 asking for 10^22 seconds: no OverflowError, a ConnectorTransientError at once
    (longer than the policy waits) whose retry_at is a week from now."""
    limited = Answer(429, {}, {"Retry-After": "99999999999999999999999"})
    with serving(scripted(limited)) as server:
        with client(url(server), waits) as http, pytest.raises(ConnectorTransientError) as err:
            http.get_json("/hour/search")
    assert err.value.retry_at == NOW + timedelta(days=7)
    assert waits.seconds == []


def test_a_handshake_the_server_cuts_off_is_retried_as_a_network_error(waits: Waits) -> None:
    """A server that accepts and closes before the TLS handshake ends (a busy load balancer):
    not a ca_bundle problem; tried again (4 attempts, 3 waits), then a transient error."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept_and_close() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=accept_and_close, daemon=True)
    thread.start()
    try:
        with client(f"https://127.0.0.1:{port}", waits) as http:
            with pytest.raises(ConnectorTransientError) as err:
                http.get_json("/proj/search")
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert "ca_bundle" not in str(err.value)
    assert len(waits.seconds) == 3


def test_from_settings_reads_base_url_ca_bundle_attempts_and_the_timeout_override(
    tmp_path: Path,
) -> None:
    """A connector's settings make the client: its base URL, `max_attempts` as the retry
    policy's attempts, `ca_bundle` as the only trust anchor, and its `timeout` (when set)
    over the `[connectors]` read timeout; without one, that read timeout."""
    from dataclasses import dataclass

    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(bundle)

    @dataclass
    class Settings:
        base_url: str | None = "https://wf.example.com"
        ca_bundle: Path | None = None
        max_attempts: int = 3
        timeout: timedelta | None = None

    own = HttpClient.from_settings(
        Settings(ca_bundle=bundle, timeout=timedelta(seconds=45)), name="wf", read_timeout=120
    )
    assert str(own.http.base_url) == "https://wf.example.com"
    assert own.retry.attempts == 3
    assert (own.http.timeout.read, own.http.timeout.connect) == (45.0, 10.0)
    shared = HttpClient.from_settings(Settings(), name="wf", connect_timeout=5, read_timeout=90)
    assert (shared.http.timeout.read, shared.http.timeout.connect) == (90.0, 5.0)
    with pytest.raises(ValueError, match="wf: no base_url to call"):
        HttpClient.from_settings(Settings(base_url=None), name="wf")


def test_tls_error_finds_a_refused_certificate_as_a_cause_or_as_an_argument() -> None:
    """httpx raises the certificate error as a ConnectError's cause, urllib3 wraps it as its
    SSLError's argument: both are found. A handshake cut off is no certificate error."""
    import httpx
    from urllib3.exceptions import SSLError as Urllib3SSLError

    from pmo_ledger.connectors.kit.http import tls_error

    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    try:
        raise httpx.ConnectError("connect failed") from refused
    except httpx.ConnectError as exc:
        assert tls_error(exc) is refused
    assert tls_error(Urllib3SSLError(refused)) is refused
    assert tls_error(Urllib3SSLError(ssl.SSLEOFError(8, "EOF occurred"))) is None
