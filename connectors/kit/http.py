"""An HTTP client for REST sources, on httpx: timeouts, `ca_bundle`, retries and the
connector's error table.

- **Retries** (tenacity): a timeout, a dropped connection, 429 or a 5xx (`RetryPolicy.statuses`)
  is tried again up to `RetryPolicy.attempts` times in all. A `Retry-After` (seconds or an HTTP
  date) is waited out as stated; without one the waits grow exponentially from `backoff` to at
  most `max_backoff`. A `Retry-After` longer than `max_retry_after` is not waited out: the call
  fails at once with a ConnectorTransientError whose `retry_at` is the stated time. An answer
  whose body the error table maps to a ConnectorConfigError (a refused login, whatever its
  status) is not retried.
- **TLS**: `ca_bundle` (a PEM file) is the only trust anchor when set; the environment's CA
  variables cannot override it. A refused certificate is a ConnectorConfigError naming
  `ca_bundle`, and is not retried.
- **Errors**: every failure becomes a `Fault` and goes through the `ErrorTable` (the
  connector's rows first, then `HTTP_ERRORS`). A vendor that reports errors in the body (even
  with 200) plugs in `vendor_error(response) -> (code, detail) | None` (it must not raise:
  a body that is not the vendor's JSON is None).
- **Settings**: `HttpClient.from_settings` builds the client from a connector's settings the
  one way every REST connector does: `base_url`, `ca_bundle`, `max_attempts` as the retry
  policy's attempts, and `timeout` (where the settings have one) over the read timeout.
- **Logs**: structlog events with fields (`http_retry`); they name the method and the URL
  path only, never the query string, headers or body, where keys and tokens travel.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx
import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
)
from pmo_ledger.connectors.kit.errors import ErrorRule, ErrorTable, Fault
from pmo_ledger.ledger.time.dates import http_date

log = structlog.get_logger(__name__)

#: A vendor's error in an answer's body: (code, detail), or None when the body is no error.
VendorError = Callable[[httpx.Response], "tuple[str, str] | None"]

#: The rows every HTTP source shares; a connector puts its own (vendor codes) before them.
HTTP_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(
        ConnectorConfigError,
        "{what}: TLS verification failed ({detail}): set connectors.{name}.ca_bundle to the "
        "PEM file of the CA that signs the host (a corporate proxy's, or the sandbox's)",
        exception=ssl.SSLCertVerificationError,
    ),
    ErrorRule(
        ConnectorTransientError,
        "{what}: no answer in time ({kind}); the source is slow or unreachable",
        exception=httpx.TimeoutException,
    ),
    ErrorRule(
        ConnectorTransientError,
        "{what}: {kind}: {detail}",
        exception=(httpx.NetworkError, httpx.RemoteProtocolError, ssl.SSLError),
    ),
    ErrorRule(
        ConnectorTransientError,
        "{what}: the source limits the rate of calls (429)",
        status=429,
        retry_in=timedelta(minutes=1),
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: the source refused the credentials (401 {detail}): check the credentials "
        "of connectors.{name}",
        status=401,
    ),
    ErrorRule(
        ConnectorConfigError,
        "{what}: the source refused the request (403 {detail}): check the permissions of the "
        "user that connectors.{name} logs in as",
        status=403,
    ),
    ErrorRule(
        ConnectorTransientError, "{what}: the source answered {status}", status=range(500, 600)
    ),
    ErrorRule(
        SourceError, "{what}: the source answered {status}: {detail}", status=range(400, 500)
    ),
    ErrorRule(SourceError, "{what}: unreadable answer ({kind}: {detail})", exception=ValueError),
    ErrorRule(SourceError, "{what}: the source answered an error: {code}: {detail}"),
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a call again and how long to wait (seconds)."""

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    #: Methods tried again: reads, logins and query jobs (a reading connector writes nothing).
    methods: frozenset[str] = frozenset({"GET", "HEAD", "POST"})


class RetryableAnswer(Exception):
    """An answer worth another try (429, 5xx); `retry_after` seconds when the source said."""

    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"{response.status_code} {response.reason_phrase}")
        self.response = response
        self.retry_after = retry_after


class _StopOnLongWait(stop_base):
    """Stop when the source asks for a longer wait than the policy waits out."""

    def __init__(self, longest: float) -> None:
        self.longest = longest

    def __call__(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        return (
            isinstance(exc, RetryableAnswer)
            and exc.retry_after is not None
            and exc.retry_after > self.longest
        )


def _now() -> datetime:
    return datetime.now(UTC)


#: The longest `Retry-After` taken as said (a week): a larger one is read as this, so a source
#: that asks for an absurd wait still gives a `retry_at` a date can hold.
LONGEST_RETRY_AFTER = 7 * 24 * 3600.0


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header as seconds from `now` (never negative, at most a week); None when
    absent or unreadable. It is either delay-seconds (ASCII digits) or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(text), LONGEST_RETRY_AFTER)
    when = http_date(text)
    if when is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), LONGEST_RETRY_AFTER)


def tls_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate the client could not verify, behind a transport error (httpx wraps it
    in a ConnectError as its cause; urllib3 in an SSLError as its argument). Other TLS failures
    (a handshake cut off by a busy load balancer or a restarting server: SSLEOFError,
    SSLZeroReturnError) are network errors, tried again."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        wrapped = next((a for a in seen.args if isinstance(a, ssl.SSLCertVerificationError)), None)
        if wrapped is not None:
            return wrapped
        seen = seen.__cause__ or seen.__context__
    return None


class HttpSettings(Protocol):
    """What `HttpClient.from_settings` reads of a connector's settings (a settings model may
    also have `timeout`, a duration that replaces the read timeout when set)."""

    @property
    def base_url(self) -> str | None: ...
    @property
    def ca_bundle(self) -> Path | None: ...
    @property
    def max_attempts(self) -> int: ...


class HttpClient:
    """One source's HTTP client: `base_url`, the connector's `name` (for messages and logs),
    its error rows (`errors`, tried before `HTTP_ERRORS`), timeouts, `ca_bundle`, retries.
    `sleep` and `clock` are injectable (tests); `transport` replaces the network."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        errors: tuple[ErrorRule, ...] = (),
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        ca_bundle: Path | str | None = None,
        retry: RetryPolicy | None = None,
        vendor_error: VendorError | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.retry = retry or RetryPolicy()
        self.errors = ErrorTable((*errors, *HTTP_ERRORS), {"name": name}, clock)
        self.vendor_error = vendor_error
        self.sleep, self.clock = sleep, clock
        #: The source's clock, from the `Date` header of its last answer.
        self.server_date: datetime | None = None
        verify: ssl.SSLContext | bool = True
        if ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        self.http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            verify=verify,
            headers=dict(headers or {}),
            auth=auth,
            transport=transport,
        )

    @classmethod
    def from_settings(
        cls,
        settings: HttpSettings,
        *,
        name: str,
        errors: tuple[ErrorRule, ...] = (),
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        vendor_error: VendorError | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> HttpClient:
        """The client of a connector from its settings: `base_url`, `ca_bundle`, retries
        `max_attempts` times in all, and the settings' `timeout` (when set) as the read
        timeout instead of `read_timeout` (the `[connectors]` one). `sleep`/`clock` None:
        the real ones. Raises ValueError when the settings have no `base_url`."""
        if not settings.base_url:
            raise ValueError(f"{name}: no base_url to call")
        timeout = getattr(settings, "timeout", None)
        if isinstance(timeout, timedelta):
            read_timeout = timeout.total_seconds()
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if clock is not None:
            extra["clock"] = clock
        return cls(
            settings.base_url,
            name=name,
            errors=errors,
            connect_timeout=connect_timeout,
            read_timeout=timeout.total_seconds()
            if isinstance(timeout, timedelta)
            else read_timeout,
            ca_bundle=settings.ca_bundle,
            retry=RetryPolicy(attempts=settings.max_attempts),
            vendor_error=vendor_error,
            headers=headers,
            auth=auth,
            transport=transport,
            **extra,
        )

    # --- calls ---------------------------------------------------------------------------

    def request(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> httpx.Response:
        """One call (`kwargs` as httpx takes them: params, json, data, headers), tried again
        as the policy says. Raises the ConnectorError the table gives for a failure, an error
        status or a vendor error in the body."""
        what = what or f"{method} {path}"
        try:
            response = self._retrying(method)(self._send, method, path, **kwargs)
        except (RetryableAnswer, httpx.HTTPError, ssl.SSLError) as exc:
            raise self._error(self._fault(exc), what) from exc
        vendor = self.vendor_error(response) if self.vendor_error is not None else None
        if vendor is not None or response.is_error:
            code, detail = vendor or ("", response.text[:300])
            raise self._error(Fault(None, response.status_code, code, detail), what)
        return response

    def get_json(self, path: str, *, what: str = "", **kwargs: Any) -> Any:
        """GET `path` and the JSON of its answer (an unreadable body is a SourceError)."""
        response = self.request("GET", path, what=what, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise self._error(self._fault(exc), what or f"GET {path}") from exc

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        self.server_date = http_date(response.headers.get("Date")) or self.server_date
        if response.status_code in self.retry.statuses:
            wait = retry_after_seconds(response.headers.get("Retry-After"), self.clock())
            answer = RetryableAnswer(response, wait)
            row = self.errors.match(self._fault(answer))
            if row is not None and issubclass(row.error, ConnectorConfigError):
                # A refusal the table knows by its body (credentials, access) is never tried
                # again, whatever its status (Workfront may answer an AuthenticationException
                # with a 500): another try would fail the same way, and each refused login
                # counts toward the user's lockout.
                return response
            raise answer
        return response

    # --- retries -------------------------------------------------------------------------

    def _retrying(self, method: str) -> Retrying:
        policy = self.retry
        attempts = policy.attempts if method.upper() in policy.methods else 1
        return Retrying(
            stop=stop_after_attempt(attempts) | _StopOnLongWait(policy.max_retry_after),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            sleep=self.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        if isinstance(exc, RetryableAnswer):
            return True
        transport = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
        return isinstance(exc, transport) and tls_error(exc) is None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryableAnswer) and exc.retry_after is not None:
            return exc.retry_after
        backoff = wait_exponential(multiplier=self.retry.backoff, max=self.retry.max_backoff)
        return float(backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        method, path = state.args[0], state.args[1]
        log.warning(
            "http_retry",
            connector=self.name,
            method=method,
            path=httpx.URL(str(path)).path,
            status=exc.response.status_code if isinstance(exc, RetryableAnswer) else None,
            error=None if isinstance(exc, RetryableAnswer) else type(exc).__name__,
            attempt=state.attempt_number,
            wait_seconds=state.next_action.sleep if state.next_action is not None else None,
        )

    # --- errors --------------------------------------------------------------------------

    def _fault(self, exc: BaseException) -> Fault:
        if isinstance(exc, RetryableAnswer):
            response = exc.response
            vendor = self.vendor_error(response) if self.vendor_error is not None else None
            code, detail = vendor or ("", response.text[:300])
            retry_at = (
                self.clock() + timedelta(seconds=exc.retry_after)
                if exc.retry_after is not None
                else None
            )
            return Fault(None, response.status_code, code, detail, retry_at)
        cause = tls_error(exc)
        if cause is not None:
            return Fault(cause, detail=str(cause))
        return Fault(exc, detail=str(exc))

    def _error(self, fault: Fault, what: str) -> ConnectorError:
        error = self.errors.error(fault, what)
        assert error is not None, "HTTP_ERRORS ends with a row that matches any fault"
        return error

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
