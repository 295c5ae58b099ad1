"""A sandbox on HTTPS: a `ThreadingHTTPServer` with TLS that hands each request to an app
(`handle(request, base_url) -> Reply`), in a background thread for tests (`start`/`stop`, or
`with server:`) or in the foreground for the CLI (`serve_forever`). The fake Salesforce and
Workfront servers are both this, with their own app.

The sources speak https only, so this is how a real client reaches a fake over a socket. The
TLS handshake runs in the connection's own thread, so a client that refuses the certificate
(or is not speaking TLS) cannot stall the accept loop. HTTP/1.1 keep-alive: a client session
reuses its connection, as it would against the real service.
"""

from __future__ import annotations

import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, unquote, urlsplit

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles, load_or_create

_IDLE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request: path without query, decoded query parameters, headers with
    lower-case names, the body."""

    method: str
    path: str
    params: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.params.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class SandboxApp(Protocol):
    """What the server serves: one answer per request (`base_url` is `https://host:port` as
    the client addressed it)."""

    def handle(self, request: Request, base_url: str) -> Reply: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpsServer
    timeout = _IDLE_SECONDS  # an idle keep-alive connection ends
    wbufsize = -1  # headers and body leave in one write (handle_one_request flushes)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(
            self.command,
            unquote(split.path),
            parse_qs(split.query, keep_blank_values=True),
            headers,
            body,
        )
        host = headers.get("host") or f"{self.server.host}:{self.server.server_port}"
        if self.server.delay > 0:
            time.sleep(self.server.delay)  # a real service's round trip (HttpsSandbox.delay)
        reply = self.server.app.handle(request, f"https://{host}")
        data = reply.body.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header tells the fake's clock, as the real service's does (clients
        judge time windows by it)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return formatdate(self.server.clock().timestamp(), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the app keeps its own request log."""


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        app: SandboxApp,
        clock: Callable[[], datetime],
        context: ssl.SSLContext,
    ) -> None:
        self.host = host
        self.app = app
        self.clock = clock
        self.delay = 0.0
        self.context = context
        self._open: set[ssl.SSLSocket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.host, int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(_IDLE_SECONDS)
        # Small answers on a keep-alive connection must not wait for delayed ACKs.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the CA, or does not speak TLS
        with self._open_lock:
            self._open.add(tls)
        try:
            super().finish_request(tls, client_address)
        except (ssl.SSLError, OSError):
            pass  # the client went away mid-request
        finally:
            with self._open_lock:
                self._open.discard(tls)
            tls.close()

    def close_connections(self) -> None:
        """End the keep-alive connections still open (their threads then finish)."""
        with self._open_lock:
            open_now = list(self._open)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HttpsSandbox:
    """An app served on `https://127.0.0.1:PORT` (port 0: any free one); `clock` gives the
    `Date` header.

    `tls`: certificate files to use (tests share one set); else `cert_dir` (made there once and
    reused); else a temporary directory removed by `stop`.
    """

    def __init__(
        self,
        app: SandboxApp,
        clock: Callable[[], datetime],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsFiles | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self._app, self._clock = app, clock
        self._host, self._port = host, port
        self._temp_dir: Path | None = None
        if tls is None and cert_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="pmo-sandbox-"))
        self.tls = tls or load_or_create(cert_dir or self._temp_dir or Path())
        self._httpd: _HttpsServer | None = None
        self._thread: threading.Thread | None = None
        self._delay = 0.0

    # --- addresses -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._bound().server_port

    @property
    def url(self) -> str:
        """`https://127.0.0.1:PORT`. Listening on all addresses, it still names 127.0.0.1
        (the certificate's name)."""
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host  # noqa: S104
        return f"https://{host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The PEM of the CA to trust (`verify=` / `ca_bundle`)."""
        return self.tls.ca_file

    # --- lifecycle -----------------------------------------------------------------------
    def bind(self) -> Self:
        """Open the listening socket (start and serve_forever do it when needed); returns
        self. After it, `port` and `url` are known."""
        self._bound()
        return self

    def _bound(self) -> _HttpsServer:
        if self._httpd is None:
            context = self.tls.server_context()
            self._httpd = _HttpsServer(self._host, self._port, self._app, self._clock, context)
            self._httpd.delay = self._delay
        return self._httpd

    @property
    def delay(self) -> float:
        """Seconds each request waits before it is answered (0: none), as a real service's
        round trip does (a Salesforce org: 100-300 ms a call); benchmarks set it."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._delay = max(0.0, seconds)
        if self._httpd is not None:
            self._httpd.delay = self._delay

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        httpd = self._bound()
        if self._thread is None:
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (KeyboardInterrupt), then close."""
        try:
            self._bound().serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, end open connections, remove a temporary certificate directory."""
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._httpd is not None:
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
