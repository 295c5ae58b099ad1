"""Fusion's REST resources over the kit's HTTP client: credentials, paging, errors.

- **Credentials**: basic auth, or OAuth 2.0 client credentials (`ClientCredentials`): a token
  from `token_url` (the app's id and secret as basic auth, `scope` in the form), fetched again
  shortly before it expires and once more when Fusion answers 401 (a token revoked early).
  A token endpoint that refuses the app is a ConnectorConfigError naming the keys to fix.
- **Paging** (`rows`): `offset`/`limit` with `onlyData=true` and `orderBy` on every call
  (an unsorted collection comes back in any order, so pages would repeat and skip rows).
  Fusion caps `limit` silently and says so only in the answer's own `limit` and `count`:
  the loop runs while `hasMore` is true and advances `offset` by the `count` it got, never by
  the `limit` it asked.
- **Windows** (`window`): a read ordered by `LastUpdateDate` while rows change under it would
  lose a row whenever an earlier row moves to the end (its offset shifts by one). So a long
  read asks `q=<stamp> >= T` and restarts the window at the last stamp it read (offset = rows
  already read at that very stamp): a row edited mid-read comes again later (harmless), none
  is skipped.
- **Errors**: Fusion's error body (`application/vnd.oracle.adf.error+json`:
  `{"title", "status", "o:errorDetails": [{"detail", "o:errorCode", "o:errorPath"}]}`) or
  plain text becomes the message of the typed error (`FUSION_ERRORS`, then the kit's rows);
  429 and 5xx are tried again by the kit, waiting out `Retry-After`.
- **Numbers** are parsed from the JSON text as Decimal, never through float.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import structlog

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.connectors.kit.errors import ErrorRule
from pmo_ledger.connectors.kit.http import HttpClient
from pmo_ledger.connectors.oracle.fusion import values as v
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings

log = structlog.get_logger(__name__)

Row = Mapping[str, Any]
#: Seconds before its stated expiry that a token is fetched again.
TOKEN_MARGIN = 60.0


def vendor_error(response: httpx.Response) -> tuple[str, str] | None:
    """Fusion's error at an error status: (the first `o:errorCode`, the details joined, each
    with its `o:errorPath`), or the body's text when it is not JSON. None for a success."""
    if not response.is_error:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return "", response.text.strip()[:500]
    if not isinstance(body, dict):
        return "", str(body)[:500]
    details = body.get("o:errorDetails")
    if isinstance(details, list) and details:
        parts, codes = [], []
        for d in details:
            if not isinstance(d, dict):
                continue
            text = str(d.get("detail") or "").strip()
            path = d.get("o:errorPath")
            parts.append(f"{text} (at {path})" if path else text)
            if d.get("o:errorCode"):
                codes.append(str(d["o:errorCode"]))
        return (codes[0] if codes else ""), "; ".join(p for p in parts if p)[:500]
    return "", str(body.get("detail") or body.get("title") or "")[:500]


def error_rules(name: str, keys: str) -> tuple[ErrorRule, ...]:
    """Fusion's rows, tried before the kit's HTTP_ERRORS; `keys` are the credential keys an
    operator fixes."""
    return (
        ErrorRule(
            ConnectorConfigError,
            "{what}: Fusion refused the credentials (401 {detail}): check "
            f"connectors.{name}.{keys}",
            status=401,
        ),
        ErrorRule(
            ConnectorConfigError,
            "{what}: Fusion refused access (403 {detail}): the user of "
            f"connectors.{name} needs a role with the privileges to view projects, project "
            "costs and project budgets (e.g. Project Accountant or Project Administrator)",
            status=403,
        ),
        ErrorRule(
            StreamConfigError,
            "{what}: Fusion refused the query (400 {code} {detail}): an attribute this stream "
            "reads may be named otherwise on this release; compare GET <resource>/describe",
            status=400,
        ),
        ErrorRule(
            ConnectorConfigError,
            "{what}: no such resource (404 {detail}): check connectors.{name}.base_url and "
            "api_version",
            status=404,
        ),
    )


class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials with a token that expires: fetched before the first call,
    again `TOKEN_MARGIN` seconds before `expires_in` runs out, and once more on a 401."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        secret: str,
        scope: str | None,
        *,
        name: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.token_url, self.scope, self.name, self.clock = token_url, scope, name, clock
        pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self._basic = f"Basic {pair}"
        self.token: str | None = None
        self.expires_at: datetime | None = None
        #: Tokens fetched (tests and the bench count them).
        self.fetched = 0
        self._lock = threading.Lock()

    def _stale(self) -> bool:
        if self.token is None or self.expires_at is None:
            return True
        return self.clock() >= self.expires_at - timedelta(seconds=TOKEN_MARGIN)

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Authorization": self._basic, "Accept": "application/json"},
        )

    def _take(self, answer: httpx.Response) -> None:
        if answer.status_code == 429 or answer.status_code >= 500:
            raise ConnectorTransientError(
                f"{self.name}: the token endpoint answered {answer.status_code}"
            )
        body: Any = None
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if answer.status_code != 200 or not token:
            reason = ""
            if isinstance(body, dict):
                reason = str(body.get("error_description") or body.get("error") or "")
            raise ConnectorConfigError(
                f"{self.name}: the token endpoint refused the client ({answer.status_code} "
                f"{reason}): check connectors.{self.name}.token_url, client_id, "
                "client_secret and scope"
            )
        seconds = body.get("expires_in") if isinstance(body, dict) else None
        life = float(seconds) if isinstance(seconds, int | float | Decimal) else 3600.0
        self.token = str(token)
        self.expires_at = self.clock() + timedelta(seconds=life)
        self.fetched += 1
        log.info("fusion_token", connector=self.name, expires_in=life)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """One token exchange at a time (`_lock`: the runner's read-ahead calls from another
        thread): a caller that waited for the lock uses the token the other one fetched, and
        a 401 fetches a new token only if no other caller has already replaced the refused
        one. The lock is never held while the call itself is under way."""
        with self._lock:
            if self._stale():
                answer = yield self._token_request()
                self._take(answer)
            used = self.token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401:
            return
        log.info("fusion_token_refused", connector=self.name)
        with self._lock:
            if self.token == used:
                answer = yield self._token_request()
                self._take(answer)
            used = self.token
        request.headers["Authorization"] = f"Bearer {used}"
        yield request


class FusionClient:
    """One Fusion pod's REST resources; `transport` replaces the network in tests."""

    def __init__(
        self,
        settings: FusionSettings,
        name: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings, self.name = settings, name
        self.root = settings.api_root
        #: Calls made (a call tried again by the retry policy counts once).
        self.calls = 0
        now = clock or (lambda: datetime.now(UTC))
        auth: httpx.Auth
        if settings.auth == "basic":
            assert settings.username is not None and settings.password is not None
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        else:
            assert settings.token_url and settings.client_id and settings.client_secret
            auth = ClientCredentials(
                settings.token_url,
                settings.client_id,
                settings.client_secret.get_secret_value(),
                settings.scope,
                name=name,
                clock=now,
            )
        self.auth = auth
        headers = {"Accept": "application/json",
                   "REST-Framework-Version": settings.framework_version}  # fmt: skip
        self.http = HttpClient.from_settings(
            settings,
            name=name,
            errors=error_rules(name, settings.credential_keys),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            vendor_error=vendor_error,
            headers=headers,
            auth=auth,
            transport=transport,
            sleep=sleep,
            clock=clock,
        )

    # --- one call ------------------------------------------------------------------------

    def get(self, resource: str, params: Mapping[str, Any], what: str) -> dict[str, Any]:
        """GET `resource` (a path under the API root, e.g. `projects` or
        `projects/123/child/Tasks`); the JSON body with Decimal numbers."""
        self.calls += 1
        response = self.http.request(
            "GET", f"{self.root}/{resource}", params=dict(params), what=f"{self.name}: {what}"
        )
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise SourceError(f"{self.name}: {what}: unreadable answer ({exc})") from exc
        if not isinstance(body, dict):
            raise SourceError(f"{self.name}: {what}: answered {str(body)[:200]}")
        return body

    @property
    def server_now(self) -> datetime:
        """Fusion's clock as its last answer's `Date` header said (else this machine's)."""
        return self.http.server_date or datetime.now(UTC)

    @staticmethod
    def q(*conditions: str) -> str:
        """Conditions joined with `and` (framework version 2 and later)."""
        return " and ".join(c for c in conditions if c)

    # --- collections ---------------------------------------------------------------------

    def page(
        self, resource: str, params: Mapping[str, Any], offset: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page from `offset`: its rows and `hasMore`. The answer's `count` must be the
        number of rows it holds (a mismatch is a SourceError: paging by it would skip)."""
        what = f"{resource} from row {offset + 1}"
        body = self.get(resource, {**params, "offset": offset}, what)
        items = body.get("items")
        if not isinstance(items, list):
            raise SourceError(f"{self.name}: {what}: the answer has no items")
        count = body.get("count", len(items))
        if not isinstance(count, int) or count != len(items):
            raise SourceError(
                f"{self.name}: {what}: count {count!r} but {len(items)} items answered"
            )
        more = body.get("hasMore") is True
        if more and count == 0:
            raise SourceError(f"{self.name}: {what}: hasMore with no rows (a loop)")
        return [r for r in items if isinstance(r, dict)], more

    def params(
        self, order_by: str, q: str | None, fields: Sequence[str], extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The query parameters of a collection read."""
        params: dict[str, Any] = {
            "onlyData": "true",
            "orderBy": order_by,
            "limit": self.settings.page_size,
            **extra,
        }
        if q:
            params["q"] = q
        if fields:
            params["fields"] = ",".join(fields)
        return params

    def rows(
        self,
        resource: str,
        *,
        order_by: str,
        q: str | None = None,
        fields: Sequence[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """The collection's rows, a page at a time: looping while `hasMore`, advancing
        `offset` by each answer's `count` (Fusion caps `limit` silently)."""
        params = self.params(order_by, q, fields, extra or {})
        offset = 0
        while True:
            items, more = self.page(resource, params, offset)
            yield items
            if not more:
                return
            offset += len(items)

    def window(
        self,
        resource: str,
        *,
        stamp: str,
        key: str,
        since: datetime | None,
        q: Sequence[str] = (),
        fields: Sequence[str] = (),
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows with `stamp >= since` (every row when None) ordered by (stamp, key), each
        page asked from the last stamp read (see the module docstring): `offset` counts only
        the rows already read at that very stamp, and grows by `count` while a page holds no
        later stamp. A row edited mid-read comes again later (its newer version last)."""
        order_by = f"{stamp}:asc,{key}:asc"
        low, skip = since, 0
        while True:
            where = [*q, f"{stamp}>={v.quote(v.wire_time(low))}" if low is not None else ""]
            params = self.params(order_by, self.q(*where), fields, {})
            items, more = self.page(resource, params, skip)
            yield items
            if not more:
                return
            last, ties = _last_stamp(items, stamp)
            if last is None or (low is not None and last <= low):
                skip += len(items)  # a page of ties (or of unreadable stamps): page on
            else:
                skip, low = ties, last

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FusionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stamp(row: Row, name: str) -> datetime | None:
    try:
        return v.stamp(row, name)
    except ValueError:
        return None


def _last_stamp(items: Sequence[Row], name: str) -> tuple[datetime | None, int]:
    """The last readable stamp of a page and how many of its rows carry it (rows come in
    stamp order, so they are the last ones; a row with no readable stamp is passed over)."""
    last: datetime | None = None
    ties = 0
    for row in reversed(items):
        seen = _stamp(row, name)
        if seen is None:
            continue
        if last is None:
            last = seen
        elif seen != last:
            break
        ties += 1
    return last, ties
