"""The sandbox's front door: routes a request to login, REST or Bulk, and applies what every
REST call goes through on a real org, in this order:

1. `Authorization: Bearer <token>` (or `OAuth <token>`); unknown or expired -> 401
   `[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`.
2. an injected failure (`fail_next`): the status with a JSON error list, not counted.
3. the daily API allowance: each call counts 1; when it is used up -> 403
   REQUEST_LIMIT_EXCEEDED. Every answer from here on carries
   `Sforce-Limit-Info: api-usage=<used>/<max>`.

It also keeps the request log tests assert on. No sockets here: `server.SandboxServer` puts
this on HTTPS.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

from pmo_ledger.connectors.salesforce.sandbox import rest
from pmo_ledger.connectors.salesforce.sandbox.auth import (
    Authenticator,
    ConnectedApp,
    SandboxUser,
    Sessions,
)
from pmo_ledger.connectors.salesforce.sandbox.bulk import QueryJobs
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.replies import (
    Reply,
    Request,
    error_reply,
    json_reply,
    not_found,
)
from pmo_ledger.connectors.salesforce.sandbox.soql_tokens import SoqlError

_VERSION = re.compile(r"v(\d{2,3}\.\d)")
_LOGGED_HEADERS = ("sforce-query-options", "content-type", "accept", "soapaction")
_FAILURES = {
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId."),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
    504: ("SERVER_UNAVAILABLE", "Gateway timeout"),
}

#: The org's own message for an error code a test injects (`fail_next(error_code=...)`).
_MESSAGES = {
    "QUERY_TIMEOUT": "Your query request was running for too long.",
    "REQUEST_RUNNING_TOO_LONG": "Your request was running for too long, and has been stopped.",
}


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the sandbox saw it. `headers` keeps a few (Sforce-Query-Options,
    Content-Type, Accept, SOAPAction); `auth` is the Authorization scheme only."""

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    auth: str | None
    status: int


class SandboxApi:
    """Everything the sandbox answers, with the knobs tests turn. Thread-safe."""

    def __init__(
        self,
        org: FakeOrg,
        user: SandboxUser,
        app: ConnectedApp,
        *,
        page_size: int = 2000,
        api_max: int = 100_000,
    ) -> None:
        self.org = org
        self.sessions = Sessions(org.org_id)
        self.auth = Authenticator(
            user,
            app,
            self.sessions,
            org_id=org.org_id,
            user_id=org.user_id,
            currency=org.corporate_currency,
        )
        self.cursors = rest.QueryCursors()
        self.jobs = QueryJobs(org)
        self.page_size = page_size
        self._api_max = api_max
        self._api_used = 0
        self._failures: list[tuple[int, str, str, bool]] = []
        self._limit_at_more: tuple[int, int] | None = None
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()

    # --- knobs ---------------------------------------------------------------------------
    def api_limit(self, maximum: int, *, used: int = 0, at_query_more: bool = False) -> None:
        """Set the daily API allowance and how much of it is used; with `at_query_more`, from
        the next call for a query's next page on (a client that reads ahead asks for pages
        whenever: a test that means "after the first page" says so here)."""
        with self._lock:
            if at_query_more:
                self._limit_at_more = (maximum, used)
            else:
                self._api_max, self._api_used = maximum, used

    @property
    def api_usage(self) -> tuple[int, int]:
        """(used, max) of the daily API allowance."""
        with self._lock:
            return self._api_used, self._api_max

    def fail_next(
        self,
        calls: int = 1,
        *,
        status: int = 503,
        error_code: str | None = None,
        query_more: bool = False,
    ) -> None:
        """The next `calls` authenticated REST calls answer `status` with a JSON error list;
        with `query_more`, the next calls for a query's next page (`nextRecordsUrl`), the
        others answered as usual (a client that reads ahead asks for pages whenever)."""
        code, message = _FAILURES.get(status, ("UNKNOWN_EXCEPTION", f"HTTP {status}"))
        message = _MESSAGES.get(error_code or "", message)
        with self._lock:
            self._failures += [(status, error_code or code, message, query_more)] * calls

    @property
    def requests(self) -> list[LoggedRequest]:
        """The requests so far, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # --- handling ------------------------------------------------------------------------
    def handle(self, request: Request, base_url: str) -> Reply:
        """Answer one request; `base_url` is `https://host:port` as the client reached it."""
        try:
            reply = self._route(request, base_url)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug is a 500, as on a real org
            reply = error_reply(500, "UNKNOWN_EXCEPTION", f"{type(exc).__name__}: {exc}")
        scheme = request.headers.get("authorization", "").partition(" ")[0] or None
        logged = LoggedRequest(
            request.method,
            request.path,
            {k: list(v) for k, v in request.params.items()},
            {k: request.headers[k] for k in _LOGGED_HEADERS if k in request.headers},
            scheme,
            reply.status,
        )
        with self._lock:
            self._log.append(logged)
        return reply

    def _route(self, request: Request, base_url: str) -> Reply:
        parts = [p for p in request.path.split("/") if p]
        if parts[:3] == ["services", "Soap", "u"] and len(parts) >= 4 and request.method == "POST":
            return self.auth.soap_login(request.body.decode("utf-8", "replace"), base_url, parts[3])
        if parts == ["services", "oauth2", "token"] and request.method == "POST":
            form = {k: v[0] for k, v in _form(request.body).items()}
            return self.auth.oauth_token(form, request.headers.get("authorization"), base_url)
        if parts == ["services", "data"] and request.method == "GET":
            return rest.versions()
        if len(parts) >= 3 and parts[:2] == ["services", "data"]:
            version = _VERSION.fullmatch(parts[2])
            if version:
                return self._rest(request, version.group(1), parts[3:])
        return not_found()

    def _rest(self, request: Request, version: str, parts: list[str]) -> Reply:
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        if kind not in ("Bearer", "OAuth") or not self.sessions.check(token.strip()):
            return error_reply(401, "INVALID_SESSION_ID", "Session expired or invalid")
        more = len(parts) == 2 and parts[0] in ("query", "queryAll")  # a query's next page
        with self._lock:
            if more and self._limit_at_more is not None:
                (self._api_max, self._api_used), self._limit_at_more = self._limit_at_more, None
            failure = next((f for f in self._failures if more or not f[3]), None)
            if failure is not None:
                self._failures.remove(failure)
            limited = failure is None and self._api_used >= self._api_max
            if failure is None and not limited:
                self._api_used += 1
            usage = f"api-usage={self._api_used}/{self._api_max}"
        if failure is not None:
            return error_reply(*failure[:3])
        if limited:
            reply = error_reply(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            try:
                reply = self._resource(request, version, parts)
            except SoqlError as exc:
                reply = error_reply(400, exc.code, exc.message)
        reply.headers["Sforce-Limit-Info"] = usage
        return reply

    def _resource(self, request: Request, version: str, parts: list[str]) -> Reply:
        head = parts[0] if parts else ""
        if request.method == "GET" and head in ("query", "queryAll"):
            size = rest.batch_size(request, self.page_size)
            if len(parts) == 2:
                return self.cursors.next_page(parts[1], version, size)
            if len(parts) == 1:
                all_rows = head == "queryAll"
                return rest.query(
                    self.org, self.cursors, request, version, all_rows=all_rows, size=size
                )
        if request.method == "GET" and head == "sobjects":
            if len(parts) == 1:
                return rest.describe_global(self.org, version)
            return rest.sobject(self.org, request, version, parts[1:])
        if request.method == "GET" and parts == ["limits"]:
            used, maximum = self.api_usage
            return rest.limits(used, maximum, self.jobs.count)
        if parts[:2] == ["jobs", "query"]:
            return self.jobs.handle(request, version, parts[2:])
        if request.method == "GET" and not parts:
            base = f"/services/data/v{version}"
            names = ("sobjects", "query", "queryAll", "limits", "jobs/query")
            return json_reply(200, {n: f"{base}/{n}" for n in names})
        return not_found()


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
