"""The fake Workfront's HTTP API: routing under `/attask/api/v{version}/`, authentication,
sessions, injected failures and the call log.

Routes (api-basics.md): `login` (username + password -> `data.sessionID`), `logout`,
`{obj}/search`, `{obj}/count`, `{obj}/report`, `{obj}/{ID}` and `{obj}?id=a,b`; the object is
its code or name, any case. `method=get` tunnels a GET through POST. Writes are not served
(the sandbox's handle writes, see `server.WorkfrontSandbox`).

Authentication, checked on every call but `login`: a `sessionID` header or parameter (a
session from `login`, or an OAuth access token: Workfront's access tokens are session IDs),
else an `apiKey` header or parameter. A session lives `session_ttl` seconds from its last use;
then, or after `expire_sessions`/`expire_after`, it is refused with 401 and Workfront's body
`{"error": {"class": "com.attask.common.AuthenticationException", "message": "You are not
currently logged in"}}` (a JSON `error`, as the official client expects; fact sheet 2.3).

Failures a client must survive (`fail_next`): 429 with `Retry-After`, 5xx, a 200 whose body is
an `error`, a 401; each for the next N data calls (optionally of one object only).
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs

from pmo_ledger.connectors.kit.sandbox_https import Reply, Request
from pmo_ledger.connectors.workfront.sandbox.params import QueryError, parse
from pmo_ledger.connectors.workfront.sandbox.query import Evaluator
from pmo_ledger.connectors.workfront.sandbox.schema import ObjectDef, lookup
from pmo_ledger.connectors.workfront.sandbox.store import FakeWorkfront, Row
from pmo_ledger.connectors.workfront.sandbox.values import dumps

JSON = "application/json;charset=UTF-8"
#: The version Workfront's integrations use by default (docs.workato.com/connectors/workfront).
DEFAULT_VERSION = "19.0"
#: Versions the fake answers (Workfront serves every version from 2.0 to its newest).
_VERSION = re.compile(r"^v(?P<major>\d{1,2})\.(?P<minor>\d)$")
_OLDEST, _NEWEST = 2, 21
_AUTH_ERROR = "com.attask.common.AuthenticationException"
_NOT_LOGGED_IN = "You are not currently logged in"


@dataclass(frozen=True, slots=True)
class ApiUser:
    """The integration user: its login, its API key, its ID in the account."""

    username: str = "api-integration@acme.example"
    password: str = "WorkfrontSandbox2025"  # noqa: S105 - the sandbox's published demo login
    api_key: str = "wfsbx0123456789abcdef0123456789ab"
    user_id: str = ""


@dataclass
class _Session:
    user_id: str
    last_used: float
    kind: str  # "login" or "oauth"
    calls_left: int | None = None


@dataclass
class Fault:
    """An injected failure for the next `calls` data calls (of `objcode` only, if set)."""

    kind: str  # "status" | "error_body" | "unauthorized"
    calls: int
    status: int = 503
    retry_after: int | str | None = None
    objcode: str | None = None
    message: str = "Service Unavailable"


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One call as the server saw it: method, path, parameters (auth ones masked), status."""

    method: str
    path: str
    params: dict[str, list[str]]
    status: int
    endpoint: str


@dataclass
class _Log:
    requests: list[LoggedRequest] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)


def error_reply(
    status: int, cls: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    """Workfront's error body: `{"error": {"class": ..., "message": ...}}`."""
    body = dumps({"error": {"class": cls, "message": message, "title": None}})
    return Reply(status, JSON, body, dict(headers or {}))


def data_reply(data: object) -> Reply:
    return Reply(200, JSON, dumps({"data": data}))


class WorkfrontApi:
    """Answers requests for one account."""

    def __init__(
        self,
        store: FakeWorkfront,
        user: ApiUser,
        *,
        session_ttl: float = 1800.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.user = store, user
        self.session_ttl = session_ttl
        self.journal_readable = True
        #: Wire variants a client should also read: business dates as `2025-03-03`, and count
        #: and report answers without the `data` envelope (as api-basics.md prints them).
        self.plain_dates = False
        self.bare_aggregates = False
        #: Stricter readings of the documented wire: the API key only as the `apiKey`
        #: parameter, the login's username and password only as query parameters.
        self.api_key_param_only = False
        self.login_query_only = False
        #: Only what the docs show: no `in` modifier; reports with one `sum`, no `count`
        #: aggregate, and no group for rows whose group field is null (its key is not
        #: documented).
        self.documented_only = False
        #: Fields this account's API model lacks, per object code: asking for one is
        #: Workfront's "APIModel V19_0 does not support field ..." error.
        self.missing_fields: dict[str, set[str]] = {}
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._api_keys = {user.api_key} if user.api_key else set()
        self._faults: list[Fault] = []
        self._log = _Log()
        self._shuffle = random.Random(seed)  # noqa: S311 - row order, not security
        self._sorted: dict[str, tuple[object, list[Row]]] = {}
        self._lock = threading.Lock()

    # --- the handle's controls -----------------------------------------------------------
    def issue_access_token(self) -> str:
        """An OAuth2 access token (what the token endpoint would return): a session ID."""
        with self._lock:
            token = secrets.token_hex(16)
            self._sessions[token] = _Session(self.user.user_id, self._clock(), "oauth")
            return token

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    def expire_after(self, calls: int) -> None:
        """The sessions in force die after `calls` more authenticated calls."""
        with self._lock:
            for session in self._sessions.values():
                session.calls_left = calls

    def revoke_api_key(self) -> None:
        with self._lock:
            self._api_keys.clear()

    def fail_next(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log.requests)

    @property
    def calls(self) -> Counter[str]:
        """Calls per endpoint (`login`, `HOUR/search`, `PROJ/count`, `HOUR/get`...)."""
        with self._lock:
            return Counter(self._log.calls)

    def clear_log(self) -> None:
        with self._lock:
            self._log = _Log()

    # --- requests ------------------------------------------------------------------------
    def handle(self, request: Request, base_url: str) -> Reply:
        """One request -> one answer."""
        with self._lock:
            endpoint, reply = self._route(request)
            params = {
                k: (["***"] if k in ("password", "sessionID", "apiKey") else list(v))
                for k, v in request.params.items()
            }
            self._log.requests.append(
                LoggedRequest(request.method, request.path, params, reply.status, endpoint)
            )
            self._log.calls[endpoint] += 1
            return reply

    def _route(self, request: Request) -> tuple[str, Reply]:
        raw, request = request, _with_form(request)
        parts = [p for p in request.path.split("/") if p]
        if len(parts) < 4 or parts[:2] != ["attask", "api"]:
            return "other", error_reply(
                404, "java.lang.IllegalArgumentException", f"No such resource {request.path}"
            )
        version = _VERSION.match(parts[2])
        if version is None or not _OLDEST <= int(version["major"]) <= _NEWEST:
            return "other", error_reply(
                404, "java.lang.IllegalArgumentException", f"Unsupported API version {parts[2]}"
            )
        method = (request.param("method") or request.method).upper()
        rest = parts[3:]
        if rest[0].lower() == "login":
            return "login", self._login(raw if self.login_query_only else request)
        user_id = self._authenticate(request)
        if user_id is None:
            return rest[0], error_reply(401, _AUTH_ERROR, _NOT_LOGGED_IN)
        if rest[0].lower() == "logout":
            self._sessions.pop(self._session_token(request) or "", None)
            return "logout", data_reply({"success": True})
        obj = lookup(rest[0])
        if obj is None:
            return rest[0], error_reply(
                404, "java.lang.IllegalArgumentException", f"Invalid ObjCode: {rest[0]}"
            )
        action = rest[1].lower() if len(rest) > 1 else "get"
        if action not in ("search", "count", "report"):
            action = "get"
        endpoint = f"{obj.code}/{action}"
        if method != "GET":
            return endpoint, error_reply(
                501,
                "java.lang.UnsupportedOperationException",
                f"{method} is not supported by the sandbox",
            )
        fault = self._fault(obj.code)
        if fault is not None:
            return endpoint, fault
        if obj.code == "JRNLE" and not self.journal_readable:
            return endpoint, error_reply(
                403,
                "com.attask.common.NotAllowedException",
                "You do not have sufficient access to view JournalEntry",
            )
        model = f"{version['major']}.{version['minor']}"
        evaluator = Evaluator(
            self.store, model, self._shuffle, self._sorted, plain_dates=self.plain_dates
        )
        try:
            if action == "get":
                ids = rest[1:2] or ",".join(request.params.get("id", [])).split(",")
                return endpoint, self._get(evaluator, obj, [i for i in ids if i], request)
            query = parse(obj, request.params)
            lacking = self.missing_fields.get(obj.code, set()) & set(query.fields)
            if lacking:
                raise QueryError(
                    f"APIModel V{model.replace('.', '_')} does not support field "
                    f"{sorted(lacking)[0]} ({obj.name})"
                )
            if self.documented_only:
                _documented(request.params, query.aggregates if action == "report" else None)
            if action in ("count", "report"):
                answer = (
                    {"count": evaluator.count(query)}
                    if action == "count"
                    else evaluator.report(query)
                )
                if action == "report" and self.documented_only:
                    answer.pop("null", None)
                bare = Reply(200, JSON, dumps(answer))
                return endpoint, bare if self.bare_aggregates else data_reply(answer)
            return endpoint, data_reply(evaluator.search(query))
        except QueryError as exc:
            return endpoint, error_reply(exc.status, exc.cls, exc.message)

    def _get(self, evaluator: Evaluator, obj: ObjectDef, ids: list[str], request: Request) -> Reply:
        fields = [f.strip() for raw in request.params.get("fields", []) for f in raw.split(",")]
        rows = [self.store.find(obj.code, i) for i in ids]
        if not ids or any(row is None for row in rows):
            missing = next((i for i, r in zip(ids, rows, strict=True) if r is None), "")
            return error_reply(
                404, "com.attask.common.NotFoundException", f"{obj.name} {missing} not found"
            )
        projected = [evaluator.project(obj, row, [f for f in fields if f]) for row in rows if row]
        return data_reply(projected[0] if len(projected) == 1 else projected)

    # --- auth ----------------------------------------------------------------------------
    def _login(self, request: Request) -> Reply:
        username, password = request.param("username"), request.param("password")
        if username != self.user.username or password != self.user.password:
            return error_reply(401, _AUTH_ERROR, "Invalid username or password")
        token = secrets.token_hex(16)
        self._sessions[token] = _Session(self.user.user_id, self._clock(), "login")
        return data_reply(
            {
                "sessionID": token,
                "userID": self.user.user_id,
                "versionInformation": {"currentAPIVersion": DEFAULT_VERSION},
            }
        )

    @staticmethod
    def _session_token(request: Request) -> str | None:
        return request.headers.get("sessionid") or request.param("sessionID")

    def _authenticate(self, request: Request) -> str | None:
        token = self._session_token(request)
        if token:
            session = self._sessions.get(token)
            now = self._clock()
            if session is None or now - session.last_used > self.session_ttl:
                self._sessions.pop(token, None)
                return None
            if session.calls_left is not None:
                if session.calls_left <= 0:
                    del self._sessions[token]
                    return None
                session.calls_left -= 1
            session.last_used = now
            return session.user_id
        header = None if self.api_key_param_only else request.headers.get("apikey")
        key = header or request.param("apiKey")
        if key and key in self._api_keys:
            return self.user.user_id
        return None

    def _fault(self, code: str) -> Reply | None:
        for fault in self._faults:
            if fault.calls > 0 and fault.objcode in (None, code):
                fault.calls -= 1
                self._faults = [f for f in self._faults if f.calls > 0]
                return _fault_reply(fault)
        return None


def _with_form(request: Request) -> Request:
    """A form-encoded body's fields join the query's (a POSTed login or `method=get`)."""
    kind = request.headers.get("content-type", "")
    if not request.body or not kind.startswith("application/x-www-form-urlencoded"):
        return request
    form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    params = {
        name: [*request.params.get(name, []), *form.get(name, [])]
        for name in {**request.params, **form}
    }
    return replace(request, params=params)


def _documented(
    params: Mapping[str, list[str]], aggregates: list[tuple[str, str]] | None
) -> None:
    """Refuses what Workfront's docs do not show: the `in` and `notin` modifiers, and a
    report with other than one `sum`."""
    for name, values in params.items():
        if name.endswith("_Mod") and any(v in ("in", "notin") for v in values):
            raise QueryError(f"{name}={values[0]} is not a documented modifier")
    if aggregates is None:
        return
    if len(aggregates) != 1 or aggregates[0][1] != "sum":
        asked = ", ".join(f"{path}_AggFunc={func}" for path, func in aggregates)
        raise QueryError(f"report supports one sum aggregate in this sandbox mode, not {asked}")


def _fault_reply(fault: Fault) -> Reply:
    if fault.kind == "unauthorized":
        return error_reply(401, _AUTH_ERROR, _NOT_LOGGED_IN)
    if fault.kind == "error_body":
        return error_reply(200, "java.lang.RuntimeException", fault.message)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    cls = (
        "com.attask.common.TooManyRequestsException"
        if fault.status == 429
        else ("com.attask.common.ServiceUnavailableException")
    )
    return error_reply(fault.status, cls, fault.message, headers)
