"""The fake S/4HANA OData V2 server: the app behind `SapODataSandbox` (HTTPS on loopback, the
kit's server), reading the fake system's tables on each request.

Wire (OData V2 JSON format, odata.org "JSON Format (OData Version 2.0)"; SAP Gateway's
behaviour as the fact sheet 3.5 and 7 records it):
- `/sap/opu/odata/sap/<SERVICE>[;v=NNNN]/<EntitySet>` with `$filter`, `$select`, `$orderby`,
  `$top`, `$skip`, `$inlinecount=allpages` (`__count`, a string), `<EntitySet>/$count` (plain
  text), `$skiptoken`; an entity by key `<EntitySet>(guid'...')` or `('...')`; the project's
  `to_EnterpriseProjectElement` (also as `$expand`, the elements inline in `results`);
  `$metadata` (EDMX) and the service document;
- `{"d": {"results": [...]}}` for collections, `{"d": {...}}` for one entity, every row with
  `__metadata` (id, uri, type) and unexpanded navigations as `__deferred`;
- server-driven paging: at most `page_size` rows per answer, then `__next`, an absolute URL
  with `$skiptoken` that keeps the request's other options (follow it as given);
- `Edm.DateTime` as `/Date(ms)/`, `Edm.DateTimeOffset` as `/Date(ms+0000)/`, `Edm.Decimal`
  as strings with the property's scale, ABAP initial values as `""`;
- auth: Basic (user and password of the client) or an OAuth bearer token from client
  credentials (`POST /sap/bc/sec/oauth2/token`, also `/oauth/token`); `sap-client` picks the
  client (default 100), an unknown one is a 401;
- errors as `{"error": {"code", "message": {"lang", "value"}, "innererror"}}`; 401 with
  `WWW-Authenticate: Basic`; writes refused with 403 `x-csrf-token: Required` (reads need no
  token); JSON only when asked (`$format=json` or `Accept: application/json`), else 406.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from pmo_ledger.connectors.kit.sandbox_https import HttpsSandbox, Reply, Request
from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.sap.sandbox.odata_entities import ENTITY_SETS, EntitySet, Row
from pmo_ledger.connectors.sap.sandbox.odata_filter import FilterError, parse_filter
from pmo_ledger.connectors.sap.sandbox.odata_wire import (
    JSON,
    Fault,
    ODataError,
    entity,
    error_reply,
    fault_reply,
    metadata,
    unauthorized,
)
from pmo_ledger.connectors.sap.sandbox.system import SapSystem

ROOT = "/sap/opu/odata/sap/"
TOKEN_PATHS = ("/sap/bc/sec/oauth2/token", "/oauth/token")
_OPTIONS = {
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$inlinecount",
    "$format",
    "$skiptoken",
    "$expand",
    "sap-client",
    "sap-language",
}


@dataclass
class ODataSwitches:
    """Failures a test turns on: `faults` answer the next requests in turn; `token_ttl`:
    seconds an OAuth token lives."""

    faults: deque[Fault] = field(default_factory=deque)
    token_ttl: float = 3600.0


class SapODataApp:
    """The OData services of the fake system (a `SandboxApp`)."""

    def __init__(
        self,
        system: SapSystem,
        *,
        oauth_clients: Mapping[str, str] | None = None,
        page_size: int = 100,
    ) -> None:
        self.system = system
        self.oauth_clients = dict(oauth_clients or {})
        self.page_size = page_size
        self.switches = ODataSwitches()
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def fail_next(self, count: int, status: int, *, retry_after: int | None = None) -> None:
        """Answer the next `count` requests with `status`."""
        for _ in range(count):
            self.switches.faults.append(Fault(status, retry_after))

    def handle(self, request: Request, base_url: str) -> Reply:
        """One request's answer."""
        self.system.count_http_call()
        with self._lock:
            fault = self.switches.faults.popleft() if self.switches.faults else None
        if fault is not None:
            return fault_reply(fault)
        if request.path in TOKEN_PATHS:
            return self._token(request)
        client = request.param("sap-client") or "100"
        if not self._authorized(request, client):
            return unauthorized(client, self.system.system_id)
        try:
            if not request.path.startswith(ROOT):
                raise ODataError(
                    404,
                    "/IWFND/MED/170",
                    f"No service found for namespace '', name '{request.path}', version '0001'",
                )
            if request.method != "GET":
                return error_reply(
                    ODataError(403, "/IWFND/CM_BEC/026", "CSRF token validation failed"),
                    {"x-csrf-token": "Required"},
                )
            reply = self._read(request, base_url, client)
        except ODataError as exc:
            return error_reply(exc)
        if request.headers.get("x-csrf-token", "").lower() == "fetch":
            reply.headers["x-csrf-token"] = secrets.token_urlsafe(18)  # what a write would send
        return reply

    # --- auth ----------------------------------------------------------------------------
    def _authorized(self, request: Request, client: str) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return self.system.logon(client, user, password)
        if scheme.lower() == "bearer":
            with self._lock:
                expires = self._tokens.get(value)
            return (
                expires is not None
                and expires > time.monotonic()
                and client in self.system.clients()
                and not self.system.switches.logon_refused
            )
        return False

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        if request.method != "POST" or form.get("grant_type") != "client_credentials":
            return Reply(400, JSON, json.dumps({"error": "unsupported_grant_type"}))
        if self.oauth_clients.get(client_id) != secret or not client_id:
            return Reply(
                401,
                JSON,
                json.dumps({"error": "invalid_client", "error_description": "Bad credentials"}),
            )
        token = secrets.token_urlsafe(24)
        ttl = self.switches.token_ttl
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(ttl),
            "scope": "API_ENTERPRISE_PROJECT_SRV_0001 API_JOURNALENTRYITEMBASIC_SRV_0001",
        }
        return Reply(200, JSON, json.dumps(body), {"Cache-Control": "no-store"})

    # --- reads ---------------------------------------------------------------------------
    def _read(self, request: Request, base_url: str, client: str) -> Reply:
        service_part, _, rest = request.path[len(ROOT) :].partition("/")
        service = service_part.split(";", 1)[0]
        sets = {name: s for (srv, name), s in ENTITY_SETS.items() if srv == service}
        if not sets:
            raise ODataError(
                404,
                "/IWFND/MED/170",
                f"No service found for namespace '/SAP/', name '{service}', version '0001'",
            )
        service_url = f"{base_url}{ROOT}{service_part}"
        if rest in ("", "/"):
            return Reply(200, JSON, json.dumps({"d": {"EntitySets": sorted(sets)}}))
        if rest == "$metadata":
            return Reply(200, "application/xml", metadata(service, sets.values()))
        for name in request.params:
            if name.startswith("$") and name not in _OPTIONS:
                raise ODataError(
                    400, "/IWBEP/CM_MGW_RT/004", f"System query option '{name}' is not supported"
                )
        if not _wants_json(request):
            return Reply(
                406,
                "application/xml",
                "<error><message>Only JSON is served by "
                "this fake: send $format=json or Accept: application/json</message>"
                "</error>",
            )
        segments = rest.split("/")
        entity_set, key = _segment(segments[0], sets)
        rows = entity_set.rows(self.system, client)
        if key is not None:
            rows = [r for r in rows if str(r[entity_set.key]).lower() == key.lower()]
            if not rows:
                raise ODataError(
                    404,
                    "/IWBEP/CM_MGW_RT/020",
                    "Resource not found for segment '" + segments[0] + "'",
                )
            if len(segments) == 1:
                expanded = self._expanded(request, entity_set, client, service_url)
                select = _select(request, entity_set)
                body = {"d": entity(rows[0], entity_set, service_url, select, expanded(rows[0]))}
                return Reply(200, JSON, json.dumps(body))
            navigation = entity_set.navigations.get(segments[1])
            if navigation is None:
                raise ODataError(
                    404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{segments[1]}'"
                )
            target = sets[navigation[0]]
            parent = rows[0][entity_set.key]
            rows = [r for r in target.rows(self.system, client) if r[navigation[1]] == parent]
            entity_set, segments = target, segments[1:]
        if segments[1:] == ["$count"]:
            return Reply(
                200, "text/plain; charset=utf-8", str(len(_filtered(request, entity_set, rows)))
            )
        if len(segments) > 1:
            raise ODataError(
                404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{segments[1]}'"
            )
        return self._collection(request, entity_set, rows, base_url, service_url, client)

    def _collection(
        self,
        request: Request,
        entity_set: EntitySet,
        rows: list[Row],
        base_url: str,
        service_url: str,
        client: str,
    ) -> Reply:
        rows = _ordered(request, entity_set, _filtered(request, entity_set, rows))
        total = len(rows)
        skip, top = _int_option(request, "$skip"), _int_option(request, "$top")
        rows = rows[skip or 0 :]
        if top is not None:
            rows = rows[:top]
        token = _int_option(request, "$skiptoken") or 0
        page = rows[token : token + self.page_size]
        select = _select(request, entity_set)
        expanded = self._expanded(request, entity_set, client, service_url)
        body: dict[str, Any] = {
            "results": [entity(r, entity_set, service_url, select, expanded(r)) for r in page]
        }
        if request.param("$inlinecount") == "allpages":
            body["__count"] = str(total)
        if token + self.page_size < len(rows):
            params = {k: v[0] for k, v in request.params.items() if k != "$skiptoken"}
            params["$skiptoken"] = str(token + self.page_size)
            body["__next"] = f"{base_url}{quote(request.path, safe='/;=(),$')}?" + urlencode(
                params, quote_via=quote, safe="$,'()"
            )
        return Reply(200, JSON, json.dumps({"d": body}))

    def _expanded(
        self,
        request: Request,
        entity_set: EntitySet,
        client: str,
        service_url: str,
    ) -> Callable[[Row], dict[str, list[dict[str, Any]]]]:
        """`$expand` of navigations: for each row, its targets written out."""
        names = [n.strip() for n in (request.param("$expand") or "").split(",") if n.strip()]
        groups: dict[str, tuple[EntitySet, dict[Any, list[Row]]]] = {}
        for name in names:
            if name not in entity_set.navigations:
                raise ODataError(
                    400,
                    "/IWBEP/CM_MGW_RT/022",
                    f"Navigation property '{name}' not found in type '{entity_set.type_name}'",
                )
            target_name, link = entity_set.navigations[name]
            target = ENTITY_SETS[(entity_set.service, target_name)]
            by_parent: dict[Any, list[Row]] = {}
            for child in target.rows(self.system, client):
                by_parent.setdefault(child[link], []).append(child)
            groups[name] = (target, by_parent)

        def written(row: Row) -> dict[str, list[dict[str, Any]]]:
            return {
                name: [
                    entity(c, target, service_url, None)
                    for c in by_parent.get(row[entity_set.key], [])
                ]
                for name, (target, by_parent) in groups.items()
            }

        return written


def _wants_json(request: Request) -> bool:
    if request.param("$format") is not None:
        return request.param("$format") == "json"
    return "application/json" in request.headers.get("accept", "")


def _segment(text: str, sets: Mapping[str, EntitySet]) -> tuple[EntitySet, str | None]:
    name, _, key = text.partition("(")
    entity_set = sets.get(name)
    if entity_set is None:
        raise ODataError(404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{text}'")
    if not key:
        return entity_set, None
    key = key.rstrip(")")
    if "=" in key:
        key = key.split("=", 1)[1]
    for prefix in ("guid'", "'"):
        if key.startswith(prefix) and key.endswith("'"):
            return entity_set, key[len(prefix) : -1].replace("''", "'")
    raise ODataError(400, "/IWBEP/CM_MGW_RT/021", f"Invalid key predicate '{key}'")


def _int_option(request: Request, name: str) -> int | None:
    value = request.param(name)
    if value is None:
        return None
    if not value.isdigit():
        raise ODataError(400, "/IWBEP/CM_MGW_RT/004", f"Invalid value '{value}' for {name}")
    return int(value)


def _filtered(request: Request, entity_set: EntitySet, rows: list[Row]) -> list[Row]:
    text = request.param("$filter")
    if not text:
        return rows
    try:
        predicate = parse_filter(text, entity_set.properties)
        return [r for r in rows if predicate(r)]
    except (FilterError, TypeError) as exc:
        raise ODataError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid filter: {exc}") from exc


def _ordered(request: Request, entity_set: EntitySet, rows: list[Row]) -> list[Row]:
    rows = sorted(rows, key=lambda r: str(r[entity_set.key]))
    text = request.param("$orderby")
    for part in reversed([p.strip() for p in (text or "").split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        if name not in entity_set.properties:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/022", f"Property '{name}' not found")
        rows.sort(key=_sort_key(name), reverse=direction.strip().lower() == "desc")
    return rows


def _sort_key(name: str) -> Callable[[Row], tuple[bool, Any]]:
    """Nulls first, then the values."""
    return lambda row: (row[name] is not None, row[name] if row[name] is not None else "")


def _select(request: Request, entity_set: EntitySet) -> list[str] | None:
    text = request.param("$select")
    if not text or text.strip() == "*":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in entity_set.properties and name not in entity_set.navigations:
            raise ODataError(
                400,
                "/IWBEP/CM_MGW_RT/022",
                f"Property '{name}' not found in type"
                f" '{entity_set.service}.{entity_set.type_name}'",
            )
    return names


class SapODataSandbox(HttpsSandbox):
    """The OData services of `system` on `https://127.0.0.1:PORT` (port 0: any free one).

    with SapODataSandbox(system, oauth_clients={"id": "secret"}) as server:
        httpx.get(server.service_url(PROJECT_SERVICE) + "/A_EnterpriseProject", ...)
        server.app.fail_next(2, 503)
    """

    def __init__(
        self,
        system: SapSystem,
        *,
        oauth_clients: Mapping[str, str] | None = None,
        page_size: int = 100,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsFiles | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.app = SapODataApp(system, oauth_clients=oauth_clients, page_size=page_size)
        super().__init__(
            self.app, lambda: datetime.now(UTC), host=host, port=port, tls=tls, cert_dir=cert_dir
        )

    def service_url(self, service: str) -> str:
        """`https://127.0.0.1:PORT/sap/opu/odata/sap/<service>`."""
        return f"{self.url}{ROOT}{service}"

    @property
    def token_url(self) -> str:
        """The OAuth client-credentials token endpoint."""
        return f"{self.url}{TOKEN_PATHS[0]}"
