"""The Salesforce client: login, one HTTP session, paged reads, and every vendor error translated.

Built on simple-salesforce. We log in ourselves (its own login always calls
`https://{domain}.salesforce.com`, so a configured `login_url` could not be honoured) with its
`SalesforceLogin(scratch_url=...)` / `token_login` helpers, then hand it the session id. Such a
client never re-logs in by itself, so `_call` does it: once per expired session, when the
credentials allow it (not for a bare access token).

The HTTP session sets connect/read timeouts on every call, retries timeouts and 5xx with
exponential backoff (urllib3 `Retry`; `CallRetry` never retries a refused SOAP login, whose
fault is an HTTP 500, nor a certificate TLS could not verify: another try would only repeat
them, and each refused login counts toward the user's lockout), and verifies TLS with
`ca_bundle` per request, so that `REQUESTS_CA_BUNDLE` in the environment cannot override it
(requests lets the environment win over a session's `verify`). JSON numbers are parsed as
Decimal: Salesforce writes doubles the Java way (`9.9213206E7`).

Errors (the one translation table, `ERRORS`, rows of the connector kit's `ErrorTable`):

    SalesforceAuthenticationFailed          -> ConnectorConfigError (credentials refused)
    SalesforceExpiredSession (401)          -> log in again once, else ConnectorConfigError
    SalesforceRefusedRequest (403)          -> REQUEST_LIMIT_EXCEEDED: ConnectorTransientError,
                                               else ConnectorConfigError (permissions)
    SalesforceMalformedRequest (400)        -> by its errorCode:
        INVALID_QUERY_LOCATOR                  ConnectorTransientError (the cursor expired)
        QUERY_TIMEOUT, REQUEST_RUNNING_TOO_LONG
                                               StreamTransientError, retry_at in 10 minutes
                                               (the org stopped one long query: that stream
                                               stops, a full read keeps its position and goes
                                               on next run, the other streams still run)
        INVALID_FIELD, INVALID_TYPE, MALFORMED_QUERY, INVALID_QUERY_FILTER_OPERATOR,
        INVALID_FIELD_FOR_INSERT_UPDATE        StreamConfigError (the query's stream: its
                                               object, fields, where or the field access)
        any other                              SourceError
    SalesforceResourceNotFound (404), 300   -> SourceError (describe: None, no such object)
    SalesforceGeneralError >= 500           -> ConnectorTransientError (after the retries)
    other SalesforceError                   -> SourceError
    requests timeouts, connection errors    -> ConnectorTransientError
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import jwt
import requests
import structlog
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin, token_login
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
    StreamTransientError,
)
from pmo_ledger.connectors.kit.errors import ErrorRule, ErrorTable, Fault
from pmo_ledger.connectors.kit.http import tls_error
from pmo_ledger.connectors.salesforce.describe import Described
from pmo_ledger.connectors.salesforce.settings import SalesforceSettings
from pmo_ledger.ledger.time.dates import http_date, utc_timestamp

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: How long to wait after the daily allowance ran low (it is a rolling 24 hours).
ALLOWANCE_RETRY = timedelta(hours=1)
#: How long to wait after the org stopped a query that ran too long (a busy org, a large scan).
BUSY_RETRY = timedelta(minutes=10)

#: 400 errorCodes that name what one stream's query asks for: its object, a field, the
#: `where`. That stream stops (StreamConfigError); the others go on.
STREAM_CONFIG_CODES = frozenset(
    {
        "INVALID_FIELD",
        "INVALID_TYPE",
        "MALFORMED_QUERY",
        "INVALID_QUERY_FILTER_OPERATOR",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    }
)
#: 400 errorCodes of a query the org stopped for its running time: try again later.
BUSY_CODES = frozenset({"QUERY_TIMEOUT", "REQUEST_RUNNING_TOO_LONG"})


class HttpSession(requests.Session):
    """A requests session with default timeouts and a CA bundle the environment cannot override."""

    def __init__(self, timeout: tuple[float, float], ca_bundle: str | None) -> None:
        super().__init__()
        self.timeout = timeout
        self.ca_bundle = ca_bundle
        #: The source's clock, from the `Date` header of its last answer.
        self.server_date: datetime | None = None

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if self.ca_bundle is not None:
            kwargs["verify"] = self.ca_bundle  # per request: wins over REQUESTS_CA_BUNDLE
        response = super().request(method, url, *args, **kwargs)
        self.server_date = http_date(response.headers.get("Date")) or self.server_date
        return response


#: The SOAP login's path (`/services/Soap/u/{version}`): every fault it answers is an HTTP 500.
SOAP_LOGIN = "/services/Soap/u/"


class CallRetry(Retry):
    """urllib3's Retry, but never for what another try would only repeat:
    - a SOAP login answered 500: that is its fault (INVALID_LOGIN, LOGIN_MUST_USE_SECURITY_
      TOKEN...), and Salesforce locks the user out after 3, 5 or 10 invalid login attempts
      (the org's password policy). The answer goes to simple-salesforce's error handler as it
      is (`raise_on_status=False`);
    - a certificate TLS could not verify (a handshake cut off is still tried again, as the
      connector kit does: `kit.http.tls_error`)."""

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if response is not None and response.status == 500 and url and SOAP_LOGIN in url:
            raise MaxRetryError(_pool, url, ResponseError("a SOAP login fault is not retried"))
        if error is not None and tls_error(error) is not None:
            raise MaxRetryError(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def http_session(settings: SalesforceSettings, connect: float, read: float) -> HttpSession:
    """The session every call of one connector uses (login, REST, Bulk 2.0)."""
    http = HttpSession((connect, read), str(settings.ca_bundle) if settings.ca_bundle else None)
    retry = CallRetry(
        total=settings.max_retries,
        connect=settings.max_retries,
        read=settings.max_retries,
        status=settings.max_retries,
        backoff_factor=settings.backoff_seconds,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),  # reads, logins, bulk query jobs
        raise_on_status=False,  # the last answer goes to simple-salesforce's error handler
        respect_retry_after_header=True,
    )
    http.mount("https://", HTTPAdapter(max_retries=retry))
    return http


def _error_code(exc: SalesforceError) -> str:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", ""))
    return ""


def _error_message(exc: SalesforceError) -> str:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return f"{content[0].get('errorCode', '')}: {content[0].get('message', '')}"
    return str(content)[:300]


_STREAM_CONFIG_MESSAGE = (
    # It names what one query asked for: its stream's object, fields or condition.
    "{what}: {detail} (check the stream's object and field mapping and the permission set's "
    "field access)"
)
_BUSY_MESSAGE = "{what}: Salesforce stopped a query that ran too long ({detail})"
_400 = SalesforceMalformedRequest

#: The table of the module docstring, row by row (first match wins).
ERRORS = ErrorTable(
    (
        ErrorRule(
            ConnectorConfigError,
            "Salesforce refused the login: {detail}",
            exception=SalesforceAuthenticationFailed,
        ),
        ErrorRule(
            ConnectorConfigError,
            "{what}: the Salesforce session expired or is invalid ({detail}) and these "
            "credentials cannot log in again: renew the access token",
            exception=SalesforceExpiredSession,
        ),
        ErrorRule(
            ConnectorTransientError,
            "{what}: Salesforce API allowance exhausted ({detail})",
            exception=SalesforceRefusedRequest,
            code="REQUEST_LIMIT_EXCEEDED",
            retry_in=ALLOWANCE_RETRY,
        ),
        ErrorRule(
            ConnectorConfigError,
            "{what}: Salesforce refused the request ({detail}): check the integration user's "
            "permission set",
            exception=SalesforceRefusedRequest,
        ),
        ErrorRule(
            ConnectorTransientError,
            "{what}: the query cursor expired ({code})",
            exception=_400,
            code="INVALID_QUERY_LOCATOR",
        ),
        *(
            ErrorRule(
                StreamTransientError, _BUSY_MESSAGE, exception=_400, code=c, retry_in=BUSY_RETRY
            )
            for c in sorted(BUSY_CODES)
        ),
        *(
            ErrorRule(StreamConfigError, _STREAM_CONFIG_MESSAGE, exception=_400, code=c)
            for c in sorted(STREAM_CONFIG_CODES)
        ),
        ErrorRule(SourceError, "{what}: Salesforce answered 400: {detail}", exception=_400),
        ErrorRule(
            ConnectorTransientError,
            "{what}: Salesforce answered {status}",
            exception=SalesforceGeneralError,
            status=range(500, 1000),
        ),
        ErrorRule(
            SourceError, "{what}: Salesforce answered {status}: {detail}", exception=SalesforceError
        ),
        ErrorRule(
            ConnectorConfigError,
            "{what}: TLS verification failed ({detail}): set ca_bundle to the PEM file of the CA "
            "that signs the Salesforce host (a corporate proxy's, or the sandbox's)",
            exception=requests.exceptions.SSLError,
        ),
        ErrorRule(
            ConnectorTransientError,
            "{what}: {kind}: {detail}",
            exception=(requests.Timeout, requests.ConnectionError),
        ),
        ErrorRule(
            SourceError,
            "{what}: {kind}: {detail}",
            exception=(requests.RequestException, ValueError),
        ),
    )
)


def fault(exc: BaseException) -> Fault:
    """A vendor or transport exception as the table sees it."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return Fault(exc, detail=f"{exc.code}: {exc.auth_message}")
    if isinstance(exc, SalesforceError):
        return Fault(exc, exc.status, _error_code(exc), _error_message(exc))
    if isinstance(exc, requests.ConnectionError) and not isinstance(
        exc, (requests.exceptions.SSLError, requests.Timeout)
    ):
        return Fault(exc, detail=connection_failure(exc))
    return Fault(exc, detail=str(exc))


def connection_failure(exc: BaseException) -> str:
    """`cannot connect to HOST:PORT: CAUSE` for a connection that failed (refused, host not
    found, unreachable), from the chain of wrappers requests and urllib3 put around the socket
    error: the operator reads the host and the cause, not the pool's internals."""
    host: str | None = None
    cause: BaseException = exc
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = current
        where: Any = getattr(current, "conn", None) or getattr(current, "pool", None)
        name, port = getattr(where, "host", None), getattr(where, "port", None)
        if name:
            host = f"{name}:{port}" if port else str(name)
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            arg = current.args[0] if current.args else None
            inner = arg if isinstance(arg, BaseException) else current.__cause__
        current = inner
    if isinstance(cause, OSError) and cause.strerror:
        text = cause.strerror  # "Connection refused", "Name or service not known"
    else:  # urllib3 prefixes the connection's repr: keep the class and the last words
        text = f"{type(cause).__name__}: {str(cause).rsplit(': ', 1)[-1]}"
    return f"cannot connect to {host or 'the host'}: {text}"


def translate(exc: Exception, what: str) -> ConnectorError:
    """The connector error for a vendor or transport exception raised while doing `what`
    (`ERRORS`); an exception no row matches is raised as it is."""
    if isinstance(exc, ConnectorError):
        return exc
    error = ERRORS.error(fault(exc), what)
    if error is None:
        raise exc
    return error


class SalesforceClient:
    """One logged-in org: paged SOQL reads, counts, the delete log and Bulk 2.0 queries.

    `calls` counts REST calls made; `usage` is the last `Sforce-Limit-Info` seen (used, max).
    """

    def __init__(self, settings: SalesforceSettings, http: HttpSession, name: str) -> None:
        self.settings = settings
        self.http = http
        self.name = name
        self.calls = 0
        self.usage: tuple[int, int] | None = None
        self._sf: Salesforce | None = None
        self._described: dict[str, Described | None] = {}

    # --- login ---------------------------------------------------------------------------

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._login()
        return self._sf

    @property
    def instance(self) -> str:
        """The org's instance host[:port] (logging in when not yet done)."""
        return str(self.sf.sf_instance)

    @property
    def can_relogin(self) -> bool:
        return self.settings.inferred_auth() != "access_token"

    def _login(self) -> Salesforce:
        s = self.settings
        try:
            session_id, instance = self._credentials()
        except Exception as exc:
            raise translate(exc, f"login to {s.login_url}") from exc
        log.info("salesforce_login", connector=self.name, auth=s.inferred_auth(), instance=instance)
        return Salesforce(
            session_id=session_id,
            instance=instance,
            version=s.api_version,
            session=self.http,
            parse_float=Decimal,
        )

    def _credentials(self) -> tuple[str, str]:
        s = self.settings
        auth = s.inferred_auth()
        token_url = f"{s.login_url}/services/oauth2/token"
        secret = _secret
        if auth == "access_token":
            assert s.instance_url is not None
            return secret(s.access_token), s.instance_url.removeprefix("https://")
        if auth == "password":
            sid, instance = SalesforceLogin(
                username=s.username,
                password=secret(s.password),
                security_token=secret(s.security_token),
                sf_version=s.api_version,
                session=self.http,
                scratch_url=s.login_url,
            )
            return str(sid), str(instance)
        if auth == "oauth_password":
            data = {
                "grant_type": "password",
                "client_id": s.consumer_key,
                "client_secret": secret(s.consumer_secret),
                "username": s.username,
                "password": secret(s.password) + secret(s.security_token),
            }
            return _pair(
                token_login(token_url, data, "login", s.consumer_key or "", None, None, self.http)
            )
        if auth == "client_credentials":
            basic = f"{s.consumer_key}:{secret(s.consumer_secret)}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(basic).decode()}
            data = {"grant_type": "client_credentials"}
            return _pair(
                token_login(
                    token_url, data, "login", s.consumer_key or "", headers, None, self.http
                )
            )
        claims = {
            "iss": s.consumer_key,
            "sub": s.username,
            "aud": s.jwt_audience or s.login_url,
            "exp": int((datetime.now(UTC) + timedelta(minutes=3)).timestamp()),
        }
        key = (
            s.private_key_file.read_text(encoding="utf-8")
            if s.private_key is None and s.private_key_file is not None
            else secret(s.private_key)
        )
        assertion = jwt.encode(claims, key, algorithm="RS256")
        data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        return _pair(
            token_login(token_url, data, "login", s.consumer_key or "", None, None, self.http)
        )

    # --- calls ---------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """One REST call: the allowance checked first, one re-login on an expired session,
        every failure translated."""
        self._check_allowance(what)
        relogged = False
        while True:
            try:
                result = fn(self.sf)
            except SalesforceExpiredSession as exc:
                if relogged or not self.can_relogin:
                    raise translate(exc, what) from exc
                log.warning("salesforce_session_expired", connector=self.name, what=what)
                self._sf = None
                relogged = True
                continue
            except ConnectorError:
                raise
            except Exception as exc:
                raise translate(exc, what) from exc
            self.calls += 1
            usage = self.sf.api_usage.get("api-usage")
            if usage is not None:
                self.usage = (int(usage.used), int(usage.total))
            return result

    def _check_allowance(self, what: str) -> None:
        if self.usage is None:
            return
        used, total = self.usage
        keep = self.settings.api_headroom * total
        if total and total - used < keep:
            raise ConnectorTransientError(
                f"{what}: stopped to keep Salesforce API allowance for other integrations: "
                f"{used:,} of {total:,} daily requests used, {total - used:,} left, "
                f"api_headroom keeps {keep:,.0f}",
                retry_at=datetime.now(UTC) + ALLOWANCE_RETRY,
            )

    def check(self) -> str:
        """A cheap authenticated call; the allowance as text."""
        limits = self._call("check", lambda sf: sf.limits())
        daily = limits.get("DailyApiRequests", {}) if isinstance(limits, dict) else {}
        return f"DailyApiRequests {daily.get('Remaining', '?')} of {daily.get('Max', '?')} left"

    def describe(self, sobject: str) -> Described | None:
        """The object's `describe` (asked once per client, i.e. per connector run), or None
        when the org has no such object or the integration user cannot see it (404)."""
        key = sobject.casefold()
        if key not in self._described:

            def ask(sf: Salesforce) -> Any:
                try:
                    return getattr(sf, sobject).describe()
                except SalesforceResourceNotFound:
                    return None

            reply = self._call(f"describe {sobject}", ask)
            try:
                self._described[key] = None if reply is None else Described.parse(reply)
            except ValueError as exc:
                raise SourceError(f"describe {sobject}: {exc}") from None
        return self._described[key]

    def pages(self, soql: str, *, include_deleted: bool) -> Iterator[list[dict[str, Any]]]:
        """The records of a SOQL query, one REST page at a time (queryAll when
        include_deleted), following nextRecordsUrl: never the whole result in memory."""
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.page_size}"}
        page = self._call(
            "query",
            lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers),
        )
        while True:
            yield list(page.get("records", []))
            next_url: str | None = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return

            def more(sf: Salesforce, url: str = next_url) -> Any:
                return sf.query_more(url, identifier_is_url=True, headers=headers)

            page = self._call("query_more", more)

    def count(self, soql: str) -> int:
        """`SELECT COUNT() ...`: the number of matching rows."""
        result = self._call("count", lambda sf: sf.query(soql))
        return int(result["totalSize"])

    def rows(self, soql: str) -> list[dict[str, Any]]:
        """All records of a small query (aggregates, lookups by a handful of ids)."""
        return [r for page in self.pages(soql, include_deleted=False) for r in page]

    def server_now(self) -> datetime:
        """The org's clock (the `Date` of its last answer; one cheap call when none yet).
        Windows such as the delete log's 15 days are the org's, not this machine's."""
        if self.http.server_date is None:
            self._call("clock", lambda sf: sf.limits())
        return self.http.server_date or datetime.now(UTC)

    def deleted_window(
        self, sobject: str, start: datetime, end: datetime
    ) -> tuple[datetime | None, list[str]]:
        """The object's delete log from `start` to `end`: its `earliestDateAvailable` (None
        when not stated) and the ids it lists. A window the org refuses as too old
        (INVALID_REPLICATION_DATE) answers `end` as the earliest: nothing before it can be
        vouched for."""
        params = {
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "end": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        }

        def ask(sf: Salesforce) -> Any:
            try:
                return sf.restful(f"sobjects/{sobject}/deleted/", params=params)
            except SalesforceMalformedRequest as exc:
                if _error_code(exc) != "INVALID_REPLICATION_DATE":
                    raise
                return {"earliestDateAvailable": params["end"], "deletedRecords": []}

        result = self._call(f"{sobject} delete log", ask)
        if not isinstance(result, dict):
            return None, []
        ids = [str(r["id"]) for r in result.get("deletedRecords") or [] if r.get("id")]
        earliest = result.get("earliestDateAvailable")
        return (utc_timestamp(earliest) if earliest else None), ids

    def bulk_pages(self, sobject: str, soql: str) -> Iterator[list[dict[str, str]]]:
        """A Bulk API 2.0 queryAll, one CSV result page at a time, rows as {column: text}
        (empty text for null). An expired session logs in again once and the job is run
        again from its start (pages already yielded come again: harmless, rule 1)."""
        what = f"bulk query of {sobject}"
        relogged = False
        while True:
            self._check_allowance(what)
            try:
                for text in self._bulk_job(sobject, soql):
                    self.calls += 1
                    yield list(csv.DictReader(io.StringIO(str(text))))
                return
            except SalesforceExpiredSession as exc:
                if relogged or not self.can_relogin:
                    raise translate(exc, what) from exc
                log.warning("salesforce_session_expired", connector=self.name, what=what)
                self._sf, relogged = None, True
            except ConnectorError:
                raise
            except Exception as exc:
                raise translate(exc, what) from exc

    def _bulk_job(self, sobject: str, soql: str) -> Iterator[Any]:
        handler = getattr(self.sf.bulk2, sobject)
        yield from handler.query_all(
            soql, max_records=self.settings.bulk_page_size, wait=self.settings.bulk_poll_seconds
        )

    def close(self) -> None:
        self.http.close()


def _secret(value: Any) -> str:
    if value is None:
        return ""
    return str(value.get_secret_value())


def _pair(result: tuple[Any, Any]) -> tuple[str, str]:
    return str(result[0]), str(result[1])
