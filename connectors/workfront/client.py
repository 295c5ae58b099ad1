"""Workfront's REST API over the kit's HTTP client: credentials, sessions, searches in pages,
counts and reports, and the vendor's errors as a table.

- **Credentials** (`settings`): the `apiKey` request parameter (as Workfront documents
  it); or `POST /login?username=..&password=..` and the `sessionID` header, logged in
  again once when Workfront says the session is gone (401, or an `AuthenticationException`
  body) and the call tried again; or an OAuth2 access token sent as
  `sessionID`. A refusal that a new login does not cure is a ConnectorConfigError naming the
  key to fix.
- **Errors**: a body with `error` is an error whatever the status (Workfront has answered
  errors with 200); 429 and 5xx are tried again by the kit, waiting out `Retry-After`.
- **Searches** (`search`): `$$FIRST` / `$$LIMIT` pages sorted by `ID_Sort=asc` (unsorted,
  Workfront repeats and skips rows between pages). Each page after the first starts one row
  early, at the previous page's last row: when rows before it were deleted meanwhile, that
  row is no longer first, and the page is asked again from further back, so no row is
  skipped; rows already listed are dropped by ID.
- **Numbers** are parsed from the JSON text as Decimal, never through float.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import structlog

from pmo_ledger.connectors.errors import ConnectorConfigError, SourceError
from pmo_ledger.connectors.kit.errors import ErrorRule
from pmo_ledger.connectors.kit.http import HttpClient
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings

log = structlog.get_logger(__name__)

Row = Mapping[str, Any]
Params = Mapping[str, Any]


class SessionRefused(ConnectorConfigError):
    """Workfront refused the credentials or the session (401 or AuthenticationException)."""


def vendor_error(response: httpx.Response) -> tuple[str, str] | None:
    """Workfront's `{"error": {"class": ..., "message": ...}}` at any status, as (the
    exception's short class name, its message); None when the body carries no error."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or "error" not in body:
        return None
    error = body["error"]
    if isinstance(error, dict):
        cls = str(error.get("class") or error.get("code") or "")
        return cls.rsplit(".", 1)[-1], str(error.get("message", ""))
    return "", str(error)


def error_rules(name: str, key: str) -> tuple[ErrorRule, ...]:
    """Workfront's rows, tried before the kit's HTTP_ERRORS; `key` is the credential key an
    operator fixes (api_key, password or access_token)."""
    refused = (
        f"{{what}}: Workfront refused the credentials ({{detail}}): set connectors.{name}.{key}"
    )
    return (
        ErrorRule(SessionRefused, refused, code="AuthenticationException"),
        ErrorRule(SessionRefused, refused, status=401),
        ErrorRule(
            ConnectorConfigError,
            "{what}: Workfront refused access ({status} {detail}): the user of "
            f"connectors.{name} needs view access to projects, tasks, hours and expenses",
            status=403,
        ),
        ErrorRule(
            SourceError,
            "{what}: Workfront refused the request ({code}: {detail}); if it is about "
            f"$$LIMIT, lower connectors.{name}.page_size",
            code="IllegalArgumentException",
        ),
    )


def wire_time(at: datetime) -> str:
    """A filter timestamp as Workfront's filters take it: ISO 8601 in UTC with milliseconds
    (`2020-05-13T18:18:37.255Z`, api-sync-data.md)."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class WorkfrontClient:
    """One Workfront instance's API; `transport` replaces the network in tests."""

    def __init__(
        self,
        settings: WorkfrontSettings,
        name: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.root = settings.api_root
        self.page_size = settings.page_size
        #: Calls made (a call tried again by the retry policy counts once).
        self.calls = 0
        headers = {"X-Requested-With": "XMLHttpRequest"}
        #: Parameters of every call: the API key, as Workfront documents it (`?apiKey=`).
        #: httpx's own request lines (full URLs) are kept quiet by jobs.logconfig, the kit
        #: logs paths only, and ledger.urls.mask_url masks any `*key*` parameter.
        self._auth_params: dict[str, str] = {}
        if settings.api_key is not None:
            self._auth_params["apiKey"] = settings.api_key.get_secret_value()
        elif settings.access_token is not None:
            headers["sessionID"] = settings.access_token.get_secret_value()
        self.http = HttpClient.from_settings(
            settings,
            name=name,
            errors=error_rules(name, settings.credential_key),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            vendor_error=vendor_error,
            headers=headers,
            transport=transport,
            sleep=sleep,
        )
        self._session: str | None = None

    # --- sessions --------------------------------------------------------------------------

    def login(self) -> None:
        """`POST /login` with the username and password; the session ID rides on every
        later call. Raises ConnectorConfigError naming `password` when refused."""
        s = self.settings
        assert s.username is not None and s.password is not None
        self.http.http.headers.pop("sessionID", None)
        # Query parameters, as Workfront documents the login (`POST /login?username=..&
        # password=..`); no log line carries the URL (see __init__).
        login = {"username": s.username, "password": s.password.get_secret_value()}
        body = self._json("POST", "/login", login, "login")
        data = body.get("data") if isinstance(body, dict) else None
        session = data.get("sessionID") if isinstance(data, dict) else None
        if not session:
            raise SourceError(f"{self.name}: login answered no sessionID")
        self._session = str(session)
        self.http.http.headers["sessionID"] = self._session
        log.info("workfront_login", connector=self.name)

    def call(self, path: str, params: Params, what: str) -> Any:
        """GET `path` under the API root; its JSON with Decimal numbers. With a username and
        password: logs in first, and again once when the session has expired."""
        if self.settings.auth != "password":
            return self._json("GET", path, params, what)
        if self._session is None:
            self.login()
        try:
            return self._json("GET", path, params, what)
        except SessionRefused:
            log.info("workfront_session_expired", connector=self.name, what=what)
            self.login()
            return self._json("GET", path, params, what)

    def _json(self, method: str, path: str, params: Params, what: str, **body: Any) -> Any:
        self.calls += 1
        response = self.http.request(
            method,
            f"{self.root}{path}",
            params={**params, **self._auth_params},
            what=f"{self.name}: {what}",
            **body,
        )
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise SourceError(f"{self.name}: {what}: unreadable answer ({exc})") from exc

    @property
    def server_now(self) -> datetime:
        """Workfront's clock as its last answer's Date header said (else this machine's)."""
        return self.http.server_date or datetime.now(UTC)

    # --- reads ---------------------------------------------------------------------------

    def count(self, obj: str, filters: Params) -> int:
        """How many `obj` rows match (`GET /<obj>/count`)."""
        body = self.call(f"/{obj}/count", filters, f"{obj} count")
        data = body.get("data", body) if isinstance(body, dict) else body
        value = data.get("count") if isinstance(data, dict) else None
        if not isinstance(value, int):
            raise SourceError(f"{self.name}: {obj} count answered no count: {str(body)[:200]}")
        return value

    def search(
        self, obj: str, fields: Sequence[str], filters: Params | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every `obj` row matching `filters`, in pages sorted by ID (see the module
        docstring for how pages overlap by one row so that none is skipped)."""
        size = self.page_size
        base = {**(filters or {}), "fields": ",".join(fields), "ID_Sort": "asc"}
        offset, last = 0, None
        while True:
            params = {**base, "$$FIRST": offset, "$$LIMIT": size}
            rows = self._rows(self.call(f"/{obj}/search", params, f"{obj} rows {offset}+"), obj)
            if last is not None and offset > 0 and (not rows or _id(rows[0]) > last):
                # The row we ended on moved up: rows before it were deleted. Look further back.
                offset = max(offset - size + 1, 0)
                continue
            fresh = [r for r in rows if last is None or _id(r) > last]
            if fresh:
                yield fresh
            if len(rows) < size:
                return
            last = _id(rows[-1])
            offset += size - 1

    def _rows(self, body: Any, obj: str) -> list[dict[str, Any]]:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict):  # map=true answers rows keyed by ID
            data = list(data.values())
        if not isinstance(data, list):
            raise SourceError(f"{self.name}: {obj} search answered no data: {str(body)[:200]}")
        return [r for r in data if isinstance(r, dict)]

    def report(self, obj: str, params: Params) -> dict[str, Any]:
        """`GET /<obj>/report`: aggregates keyed by group value (`{"data": {...}}` or the
        bare object the docs show)."""
        body = self.call(f"/{obj}/report", params, f"{obj} report")
        data = body.get("data", body) if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise SourceError(f"{self.name}: {obj} report answered {str(body)[:200]}")
        return data

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> WorkfrontClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _id(row: Row) -> str:
    return str(row.get("ID") or "")
