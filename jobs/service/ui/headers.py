"""Security headers on every answer under the dashboard's prefix (pages, fragments, static
files, and the gate's own refusals): a Content-Security-Policy that allows scripts and styles
from the service itself only (no inline script or style, no eval), no framing, no MIME sniffing,
no referrer to other sites, and no caching of pages that may hold a CSRF token."""

from __future__ import annotations

from pmo_ledger.jobs.service.gate import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
STATIC = b"/static/"


class SecurityHeaders:
    """ASGI middleware: HEADERS on answers to paths under `prefix`; `Cache-Control: no-store`
    on those that are not static files."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(self.prefix + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
