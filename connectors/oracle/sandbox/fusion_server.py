"""A fake Oracle Fusion Cloud PPM pod on HTTPS over loopback (the kit's `HttpsSandbox`), with
the data of `fusion_data.FusionData`.

Start and stop it (the Oracle connector's `sandbox()` does this for `flavor = "fusion"`):

    with FusionSandbox(FusionData(dirty=True)) as pod:   # or pod.start() ... pod.stop()
        settings = pod.settings()        # the [connectors.<name>] keys that read it
        pod.url, pod.ca_file, pod.app.calls

`FusionSandbox(data, host=, port=, cert_dir=, tls=)` binds a free port by default;
`pod.app` is the `FusionApp` whose switches a test turns (`cap`, `throttle_every`,
`retry_after`, `token_ttl`, `revoke_tokens()`, `fail_next(...)`, `shuffle`).

Wire (REST API for Oracle Fusion Cloud Project Management, the ADF REST framework; see the
README section for what is confirmed and what is our reading):
- `GET /fscmRestApi/resources/11.13.18.05/<resource>` with `q`, `orderBy` (`A:asc,B:desc`),
  `fields`, `onlyData`, `limit`, `offset`, `totalResults`, `finder`, `expand`; a collection is
  `{"items", "count", "hasMore", "limit", "offset", "links"}` (`links` only without
  `onlyData=true`), `application/vnd.oracle.adf.resourcecollection+json`;
- resources `projects` (+ `child/Tasks`), `projectTemplates`, `projectCosts`,
  `projectExpenditureItems` (no amounts), `projectBudgets` (+ `child/PlanningResources`,
  `.../child/PlanningAmounts`, `.../child/PlanningAmountDetails`), `currencyRates` (finder
  `CurrencyRatesFinder;fromCurrency=,toCurrency=,userConversionType=,startDate=,endDate=`);
- errors as `application/vnd.oracle.adf.error+json`:
  `{"title", "status", "o:errorDetails": [{"detail", "o:errorCode", "o:errorPath"}]}`;
- auth: Basic, or a bearer token from `POST /oauth2/v1/token` (client credentials, client id
  and secret as basic auth) that expires after `token_ttl` seconds (`expires_in`).

A little hostile, as a real pod can be: `limit` is capped silently at `cap` (499 by default:
a client that advances by the limit it asked skips a row a page), the answer's `limit` says
the size used; without `orderBy` rows come in a different order on every call, and so do
rows that tie on every `orderBy` attribute (a client needs a unique key last); every
`throttle_every`-th call is a 429 with `Retry-After`; tokens expire or are revoked.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from pmo_ledger.connectors.kit.sandbox_https import HttpsSandbox, Reply, Request
from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData, Row
from pmo_ledger.connectors.oracle.sandbox.fusion_query import (
    WINDOW,
    FusionError,
    filter_rows,
    order_rows,
    sort_key,
)

ROOT = "/fscmRestApi/resources/11.13.18.05/"
TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a path, not a secret
USER = ("PMO.INTEGRATION", "Fusion-Sandbox-2026")
OAUTH_CLIENT = ("pmo-ledger-client", "Fusion-OAuth-Secret-2026")
COLLECTION = "application/vnd.oracle.adf.resourcecollection+json"
ERROR = "application/vnd.oracle.adf.error+json"


_DECIMAL = re.compile(r'"@@dec@@(-?[0-9.]+)@@"')


def dumps(body: Any) -> str:
    """JSON with Decimals as their exact digits (as Fusion's numbers arrive: `1234.50`)."""
    return _DECIMAL.sub(r"\1", json.dumps(body, default=_marked))


def _marked(o: Any) -> str:
    """A Decimal as a marked string that `dumps` turns back into a bare number."""
    if isinstance(o, Decimal):
        return f"@@dec@@{format(o, 'f')}@@"
    raise TypeError(f"not JSON: {o!r}")


@dataclass
class Fault:
    status: int
    retry_after: int | None = None


class FusionApp:
    """The REST resources of the fake pod (a `SandboxApp`)."""

    def __init__(
        self,
        data: FusionData,
        *,
        cap: int = 499,
        throttle_every: int = 0,
        retry_after: int = 0,
        token_ttl: float = 3600.0,
        shuffle: bool = True,
        expand_cap: int | None = None,
    ) -> None:
        self.data = data
        self.cap, self.throttle_every, self.retry_after = cap, throttle_every, retry_after
        self.token_ttl, self.shuffle = token_ttl, shuffle
        #: Rows an expanded child collection shows at most (then `hasMore`); None: all.
        self.expand_cap = expand_cap
        #: Calls answered (tokens included) and the requests as (method, path, params).
        self.calls = 0
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.tokens_issued = 0
        self.faults: deque[Fault] = deque()
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._random = random.Random(7)  # noqa: S311 - shuffling, not secrets
        self._sorted: dict[tuple[str, str, str], tuple[Any, list[Row], list[Any]]] = {}

    # --- switches ------------------------------------------------------------------------

    def fail_next(self, count: int, status: int, *, retry_after: int | None = None) -> None:
        """Answer the next `count` resource calls with `status` (a 429 or 5xx)."""
        for _ in range(count):
            self.faults.append(Fault(status, retry_after))

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (a 401 until a new one is fetched)."""
        with self._lock:
            self._tokens.clear()

    # --- requests --------------------------------------------------------------------------

    def handle(self, request: Request, base_url: str) -> Reply:
        with self._lock:
            self.calls += 1
            n = self.calls
            params = {k: v[0] for k, v in request.params.items() if v}
            self.log.append((request.method, request.path, params))
            fault = self.faults.popleft() if self.faults else None
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if not self._authorized(request):
            return Reply(401, "text/plain", "Unauthorized",
                         {"WWW-Authenticate": 'Basic realm="Oracle Fusion"'})  # fmt: skip
        if fault is None and self.throttle_every and n % self.throttle_every == 0:
            fault = Fault(429, self.retry_after)
        if fault is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return _error(FusionError(fault.status, "Too many requests; try again later."),
                          headers)  # fmt: skip
        try:
            if request.method != "GET":
                raise FusionError(405, f"The method {request.method} is not served here.")
            if not request.path.startswith(ROOT):
                raise FusionError(404, f"The requested URL {request.path} was not found.")
            with self.data.lock:
                body = self._collection(request.path[len(ROOT) :], params, base_url)
        except FusionError as exc:
            return _error(exc)
        return Reply(200, COLLECTION, dumps(body))

    # --- auth ------------------------------------------------------------------------------

    def _token(self, request: Request) -> Reply:
        header = request.headers.get("authorization", "")
        pair = _basic(header)
        form = {k: v[0] for k, v in _form(request.body).items()}
        if pair != OAUTH_CLIENT or form.get("grant_type") != "client_credentials":
            body = {"error": "invalid_client", "error_description": "Client authentication failed."}
            return Reply(401, "application/json", json.dumps(body))
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
            self.tokens_issued += 1
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)}
        return Reply(200, "application/json", json.dumps(answer))

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            with self._lock:
                until = self._tokens.get(header[7:])
            return until is not None and time.monotonic() < until
        return _basic(header) == USER

    # --- resources -------------------------------------------------------------------------

    def _collection(self, path: str, params: Mapping[str, str], base_url: str) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        rows, children = self._rows(parts, params)
        order, q = params.get("orderBy"), params.get("q")
        offset = _int(params, "offset", 0)
        asked = _int(params, "limit", 25)
        if asked < 1:
            raise FusionError(400, "The limit must be a positive number.", "27024", "limit")
        limit = min(asked, self.cap)
        if order:
            rows = self._ordered("/".join(parts), params.get("finder"), rows, order, q)
            page = (self._ties_shuffled(rows, order, offset, offset + limit) if self.shuffle
                    else rows[offset : offset + limit])  # fmt: skip
        else:
            rows = filter_rows(rows, q)
            if self.shuffle:
                rows = list(rows)
                self._random.shuffle(rows)
            page = rows[offset : offset + limit]
        total = len(rows)
        expand = params.get("expand", "")
        items = [self._shape(r, params.get("fields"), expand, children) for r in page]
        body: dict[str, Any] = {
            "items": items,
            "count": len(items),
            "hasMore": offset + len(items) < total,
            "limit": limit,
            "offset": offset,
        }
        if params.get("totalResults") == "true":
            body["totalResults"] = total
        if params.get("onlyData") != "true":
            body["links"] = [{"rel": "self", "href": f"{base_url}{ROOT}{path}"}]
            for item in items:
                item["links"] = [{"rel": "self", "href": f"{base_url}{ROOT}{path}"}]
        return body

    def _ties_shuffled(self, rows: list[Row], order: str, start: int, stop: int) -> list[Row]:
        """`rows[start:stop]` with every run of rows that tie on all the `order` attributes
        (and reaches into the page) shuffled anew on each call, as a database returns ties
        in no set order: a client whose orderBy is not unique skips and repeats rows."""
        stop = min(stop, len(rows))
        if start >= stop:
            return []
        attrs = [part.partition(":")[0] for part in order.split(",")]

        def key(i: int) -> tuple[Any, ...]:
            return tuple(sort_key(rows[i].get(a)) for a in attrs)

        low, high = start, stop
        while low > 0 and key(low - 1) == key(start):
            low -= 1
        while high < len(rows) and key(high) == key(stop - 1):
            high += 1
        window, run = list(rows[low:high]), 0
        for i in range(1, len(window) + 1):
            if i == len(window) or key(low + i) != key(low + run):
                part = window[run:i]
                self._random.shuffle(part)
                window[run:i] = part
                run = i
        return window[start - low : stop - low]

    def _ordered(
        self, path: str, finder: str | None, rows: list[Row], order: str, q: str | None
    ) -> list[Row]:
        """`rows` sorted by `order`, then filtered by `q`. The sorted list is kept until the
        pod's clock moves (a write); a window's `q` (`<first order attribute> >= 'x'`) is a
        bisection of it, so a long read costs the fake O(page), not O(rows), per call."""
        key = (path, finder or "", order)
        version = (self.data.now(), len(rows))
        cached = self._sorted.get(key)
        if cached is None or cached[0] != version:
            ordered = order_rows(rows, order)
            first = order.split(",")[0].partition(":")[0]
            keys = [sort_key(r.get(first)) for r in ordered]
            cached = (version, ordered, keys)
            self._sorted[key] = cached
        _, ordered, keys = cached
        m = WINDOW.match(q or "")
        if m and order.startswith(f"{m.group(1)}:asc"):
            low = bisect_left(keys, sort_key(m.group(2)))
            high = bisect_left(keys, (1, ""))  # rows without the attribute never match
            return ordered[low:high]
        return filter_rows(ordered, q)

    def _rows(self, parts: list[str], params: Mapping[str, str]) -> tuple[list[Row], str]:
        d = self.data
        match parts:
            case ["projects"]:
                return d.projects, ""
            case ["projects", pid, "child", "Tasks"]:
                tasks = d.tasks.get(_id(pid))
                if tasks is None:
                    raise FusionError(404, f"The resource projects/{pid} was not found.")
                return tasks, ""
            case ["projectTemplates"]:
                return d.templates, ""
            case ["projectCosts"]:
                return list(d.costs.values()), ""
            case ["projectExpenditureItems"]:
                return [_without_amounts(c) for c in d.costs.values()], ""
            case ["projectBudgets"]:
                return [b.version for b in d.budgets.values()], ""
            case ["projectBudgets", vid, "child", "PlanningResources", *below]:
                budget = d.budgets.get(_id(vid))
                if budget is None:
                    raise FusionError(404, f"The resource projectBudgets/{vid} was not found.")
                return _below(budget.resources, below)
            case ["currencyRates"]:
                return _rates(d.rates, params.get("finder")), ""
        raise FusionError(404, f"The requested resource {'/'.join(parts)} was not found.")

    def _shape(self, row: Row, fields: str | None, expand: str, children: str) -> Row:
        """The row as answered: its `fields` (all attributes without), children as links
        unless expanded (`expand=PlanningAmounts.PlanningAmountDetails`)."""
        wanted = [f for f in fields.split(",") if f] if fields else None
        out: Row = {}
        for name, value in row.items():
            if isinstance(value, list):
                continue
            if wanted is None or name in wanted:
                out[name] = value
        if wanted is not None:
            unknown = [f for f in wanted if f not in row]
            if unknown:
                raise FusionError(400, f"The field {unknown[0]} is not valid for this resource.",
                                  "27023", "fields")  # fmt: skip
        if children and expand:
            levels = expand.split(".")
            if levels[0] == children:
                out[children] = _expanded(row.get(children, []), levels[1:], self.expand_cap)
        return out


def _expanded(rows: Sequence[Row], levels: list[str], cap: int | None) -> dict[str, Any]:
    """An expanded child collection, at most `cap` rows of it (then `hasMore`)."""
    shown = list(rows) if cap is None else list(rows)[:cap]
    items = []
    for row in shown:
        item = {k: x for k, x in row.items() if not isinstance(x, list)}
        if levels:
            item[levels[0]] = _expanded(row.get(levels[0], []), levels[1:], cap)
        items.append(item)
    return {"items": items, "count": len(items), "hasMore": len(shown) < len(rows),
            "limit": len(items), "offset": 0}  # fmt: skip


#: The children below a budget's planning resources, level by level (path names and keys).
_LEVELS = (("PlanningAmounts", "PlanningElementId"), ("PlanningAmountDetails", "PlanLineId"))


def _below(resources: list[Row], path: list[str]) -> tuple[list[Row], str]:
    """The rows at `path` below a budget's PlanningResources (`{PlanningElementId}/child/
    PlanningAmounts[/{PlanLineId}/child/PlanningAmountDetails]`) and their child's name."""
    rows, level = resources, 0
    while path:
        if len(path) < 3 or path[1] != "child" or level >= len(_LEVELS):
            raise FusionError(404, f"The resource {'/'.join(path)} was not found.")
        name, key = _LEVELS[level]
        parent = next((r for r in rows if str(r.get(key)) == path[0]), None)
        if parent is None or path[2] != name:
            raise FusionError(404, f"The resource {'/'.join(path)} was not found.")
        rows, path, level = list(parent.get(name, [])), path[3:], level + 1
    return rows, _LEVELS[level][0] if level < len(_LEVELS) else ""


def _without_amounts(cost: Row) -> Row:
    keep = ("ExpenditureItemId", "ProjectId", "ProjectNumber", "TaskId", "TaskNumber",
            "ExpenditureItemDate", "ExpenditureTypeName", "Quantity", "UnitOfMeasure",
            "LastUpdateDate")  # fmt: skip
    return {k: cost.get(k) for k in keep}


def _rates(rows: list[Row], finder: str | None) -> list[Row]:
    if not finder:
        return rows
    name, _, args = finder.partition(";")
    if name != "CurrencyRatesFinder":
        raise FusionError(400, f"The finder {name} is not defined.", "27025", "finder")
    given = dict(a.split("=", 1) for a in args.split(",") if "=" in a)
    out = rows
    for key, attr in (("fromCurrency", "FromCurrency"), ("toCurrency", "ToCurrency"),
                      ("userConversionType", "UserConversionType")):  # fmt: skip
        if key in given:
            out = [r for r in out if r[attr] == given[key]]
    if "startDate" in given:
        out = [r for r in out if r["ConversionDate"] >= given["startDate"]]
    if "endDate" in given:
        out = [r for r in out if r["ConversionDate"] <= given["endDate"]]
    return out


# --- small helpers -----------------------------------------------------------------------


def _error(exc: FusionError, headers: dict[str, str] | None = None) -> Reply:
    titles = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        405: "Method Not Allowed",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    detail: dict[str, Any] = {"detail": exc.detail, "o:errorCode": exc.code or str(exc.status)}
    if exc.path:
        detail["o:errorPath"] = exc.path
    body = {"title": titles.get(exc.status, "Error"), "status": str(exc.status),
            "o:errorDetails": [detail]}  # fmt: skip
    return Reply(exc.status, ERROR, json.dumps(body), headers or {})


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _form(body: bytes) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(body.decode("utf-8", "replace"))


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise FusionError(400, f"The value {text} of {name} is not a number.", "27024",
                          name) from None  # fmt: skip


def _id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FusionError(404, f"The resource {text} was not found.") from None


class FusionSandbox(HttpsSandbox):
    """The fake pod served on `https://127.0.0.1:PORT`; `app` is its `FusionApp`."""

    def __init__(
        self,
        data: FusionData | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsFiles | None = None,
        cert_dir: Path | None = None,
        **switches: Any,
    ) -> None:
        self.data = data or FusionData()
        self.app = FusionApp(self.data, **switches)
        super().__init__(self.app, self.data.now, host=host, port=port, tls=tls,
                         cert_dir=cert_dir)  # fmt: skip

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def settings(self, *, oauth: bool = False, **extra: Any) -> dict[str, Any]:
        """The `[connectors.<name>]` keys that read this pod (with `flavor = "fusion"` the
        Oracle connector adds): basic auth, or OAuth client credentials."""
        out: dict[str, Any] = {"base_url": self.url, "ca_bundle": str(self.ca_file)}
        if oauth:
            out.update(
                token_url=self.token_url,
                client_id=OAUTH_CLIENT[0],
                client_secret=OAUTH_CLIENT[1],
                scope="urn:opc:resource:consumer::all",
            )
        else:
            out.update(username=USER[0], password=USER[1])
        return {**out, **extra}

    def __enter__(self) -> Self:
        return self.start()
