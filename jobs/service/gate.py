"""The ASGI gate in front of the HTTP API: the token before the body, and a cap on the body.

FastAPI reads and parses a request's body before its dependencies check the token, so without
this gate one unauthenticated 500 MB POST is held in memory whole. The gate answers from the
headers alone, before one byte of the body is read:

- a request that needs the token (every method but GET, HEAD and OPTIONS; reads too with
  `read_requires_token`, except the open probes and the spec) without the right bearer token:
  401 (403 for a write when no `api_token` is configured), as the endpoints' own checks answer;
- a `Content-Length` above `[service] max_body_bytes`: 413.

A body sent without a length (chunked) is counted as it arrives and refused with 413 at the cap;
a body within it is read (at most the cap) and handed to the API. Answers to requests whose body
was not read close the connection, so the server never reads the rest. Header sizes are capped
by the HTTP server itself (`[service] max_header_bytes`, see jobs.service.serve).

The dashboard under `/ui` (jobs.service.ui) follows the same rules with one more credential: the
signed session cookie a browser gets by signing in with the token stands for the token. Its
sign-in form and static files are open; a read that needs the token and has neither is sent to
the sign-in form (303), a write is refused as above. The CSRF token of a form is checked by the
dashboard's handlers (the gate reads no body).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import SecretStr

# The ASGI interface's types (as the ASGI spec and every server define them).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths readable without the token even with `read_requires_token` (probes, scrapers, spec).
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHORIZED = "a valid bearer token is required"
WRITES_OFF = "write endpoints are off: set [service] api_token"
#: The dashboard's root, and what of it is open whatever the rules (sign-in, CSS, htmx).
UI_PREFIX = "/ui"
UI_OPEN = frozenset({"/ui/signin"})
UI_STATIC = "/ui/static/"
SIGN_IN_FIRST = "sign in first"


class SessionCheck(Protocol):
    """What the gate asks of the dashboard's sessions: is there one in this Cookie header."""

    def from_cookie_header(self, header: bytes) -> object | None: ...


class BodyTooLarge(Exception):
    """The request's body is longer than the cap."""


class Gate:
    """ASGI middleware: see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: SecretStr | None,
        read_requires_token: bool,
        max_body_bytes: int,
        sessions: SessionCheck | None = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.token = token.get_secret_value().encode() if token is not None else None
        self.read_requires_token = read_requires_token
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, detail, extra = refusal
            await _answer(send, status, detail, extra, close=_has_body(headers))
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await _answer(send, 413, self._too_large(), {}, close=True)
            return
        await self.app(scope, _replay(body, receive), send)

    def _refusal(
        self, scope: Scope, headers: dict[bytes, bytes]
    ) -> tuple[int, str, dict[str, str]] | None:
        """(status, detail, headers) of the answer the headers alone call for, or None."""
        method, path = scope["method"], scope["path"]
        reading = method in READ_METHODS
        if self.sessions is not None and (path == UI_PREFIX or path.startswith(UI_PREFIX + "/")):
            refusal = self._ui_refusal(scope, headers, reading)
            if refusal is not None:
                return refusal
        elif not reading or (self.read_requires_token and path not in OPEN_PATHS):
            if self.token is None and not reading:
                return 403, WRITES_OFF, {}
            if not self._token_ok(headers.get(b"authorization", b"")):
                return 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"}
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return 413, self._too_large(), {}
        return None  # no length (chunked): counted while it is read

    def _ui_refusal(
        self, scope: Scope, headers: dict[bytes, bytes], reading: bool
    ) -> tuple[int, str, dict[str, str]] | None:
        """The API's rules for the dashboard, the session cookie standing for the token."""
        path = scope["path"]
        if path in UI_OPEN or path.startswith(UI_STATIC):
            return None
        if reading and not self.read_requires_token:
            return None
        if self.token is None and not reading:
            return 403, WRITES_OFF, {}
        assert self.sessions is not None
        if self._token_ok(headers.get(b"authorization", b"")) or (
            self.sessions.from_cookie_header(headers.get(b"cookie", b"")) is not None
        ):
            return None
        if reading:
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            return 303, SIGN_IN_FIRST, {"Location": f"/ui/signin?next={quote(target, safe='')}"}
        return 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"}

    def _token_ok(self, authorization: bytes) -> bool:
        scheme, _, given = authorization.partition(b" ")
        if self.token is None or scheme.lower() != b"bearer":
            return False
        return hmac.compare_digest(given.strip(), self.token)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes"

    async def _read(self, receive: Receive) -> bytes:
        """The whole body, counted as it arrives; BodyTooLarge past the cap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: the API sees an empty body, then the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _has_body(headers: dict[bytes, bytes]) -> bool:
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the body read in one message, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(
    send: Send, status: int, detail: str, extra: dict[str, str], *, close: bool
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    message: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(message)
    await send({"type": "http.response.body", "body": body})
