"""The sandbox on HTTPS: a `ThreadingHTTPServer` with TLS, in a background thread for tests
(`start`/`stop`, or `with SandboxServer(...) as server:`) or in the foreground for the CLI
(`serve_forever`).

simple-salesforce always speaks https, so this is the only way the real client reaches the
fake org over a socket. The TLS handshake runs in the connection's own thread, so a client
that refuses the certificate (or is not speaking TLS) cannot stall the accept loop. HTTP/1.1
keep-alive: a client session reuses its connection, as it would against Salesforce.
"""

from __future__ import annotations

import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pmo_ledger.connectors.salesforce.sandbox.api import LoggedRequest, SandboxApi
from pmo_ledger.connectors.salesforce.sandbox.auth import (
    SANDBOX_APP,
    SANDBOX_USER,
    ConnectedApp,
    SandboxUser,
)
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.replies import Request
from pmo_ledger.connectors.salesforce.sandbox.tls import TlsFiles, load_or_create

_IDLE_SECONDS = 30


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpsServer
    timeout = _IDLE_SECONDS  # an idle keep-alive connection ends
    wbufsize = -1  # headers and body leave in one write (handle_one_request flushes)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
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
        reply = self.server.api.handle(request, f"https://{host}")
        data = reply.body.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header tells the org's clock, as a real org's does (clients judge
        windows such as the delete log's 15 days by it)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return formatdate(self.server.api.org.now().timestamp(), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `SandboxServer.requests` is the log."""


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, api: SandboxApi, context: ssl.SSLContext) -> None:
        self.host = host
        self.api = api
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


class SandboxServer:
    """A fake Salesforce org on `https://127.0.0.1:PORT` (port 0: any free one).

    `tls`: certificate files to use (tests share one set); else `cert_dir` (made there once and
    reused); else a temporary directory removed by `stop`.
    """

    def __init__(
        self,
        org: FakeOrg | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: SandboxUser = SANDBOX_USER,
        app: ConnectedApp = SANDBOX_APP,
        page_size: int = 2000,
        api_max: int = 100_000,
        tls: TlsFiles | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.org = org or FakeOrg()
        self.api = SandboxApi(self.org, user, app, page_size=page_size, api_max=api_max)
        self.user, self.app = user, app
        self._host, self._port = host, port
        self._temp_dir: Path | None = None
        if tls is None and cert_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="pmo-sandbox-"))
        self.tls = tls or load_or_create(cert_dir or self._temp_dir or Path())
        self._httpd: _HttpsServer | None = None
        self._thread: threading.Thread | None = None

    # --- addresses -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._bound().server_port

    @property
    def url(self) -> str:
        """`https://127.0.0.1:PORT`: the login URL and the instance URL (one host here).
        Listening on all addresses, it still names 127.0.0.1 (the certificate's name)."""
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host  # noqa: S104
        return f"https://{host}:{self.port}"

    @property
    def login_url(self) -> str:
        return self.url

    @property
    def instance_url(self) -> str:
        return self.url

    @property
    def ca_file(self) -> Path:
        """The PEM of the CA to trust (`verify=` / `ca_bundle`)."""
        return self.tls.ca_file

    # --- lifecycle -----------------------------------------------------------------------
    def bind(self) -> SandboxServer:
        """Open the listening socket (start and serve_forever do it when needed); returns
        self. After it, `port` and `url` are known."""
        self._bound()
        return self

    def _bound(self) -> _HttpsServer:
        if self._httpd is None:
            context = self.tls.server_context()
            self._httpd = _HttpsServer(self._host, self._port, self.api, context)
        return self._httpd

    def start(self) -> SandboxServer:
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

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- knobs ---------------------------------------------------------------------------
    @property
    def page_size(self) -> int:
        """Most records per query page (a client's batchSize can only lower it)."""
        return self.api.page_size

    @page_size.setter
    def page_size(self, size: int) -> None:
        if size < 1:
            raise ValueError("page_size >= 1")
        self.api.page_size = size

    @property
    def bulk_polls_in_progress(self) -> int:
        """Status polls a Bulk job answers InProgress before JobComplete."""
        return self.api.jobs.polls_in_progress

    @bulk_polls_in_progress.setter
    def bulk_polls_in_progress(self, polls: int) -> None:
        self.api.jobs.polls_in_progress = polls

    def api_limit(self, maximum: int, *, used: int = 0) -> None:
        """Set the daily API allowance (`Sforce-Limit-Info`, limits/, 403 when used up)."""
        self.api.api_limit(maximum, used=used)

    @property
    def api_usage(self) -> tuple[int, int]:
        """(used, max) of the daily API allowance."""
        return self.api.api_usage

    def expire_sessions(self) -> None:
        """Every access token in force becomes invalid (logging in again works)."""
        self.api.sessions.expire_all()

    def expire_after(self, calls: int) -> None:
        """The access tokens in force die after `calls` more REST calls."""
        self.api.sessions.expire_after(calls)

    def fail_next(
        self, calls: int = 1, *, status: int = 503, error_code: str | None = None
    ) -> None:
        """The next `calls` authenticated REST calls answer `status` (a JSON error list)."""
        self.api.fail_next(calls, status=status, error_code=error_code)

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, oldest first."""
        return self.api.requests

    def clear_log(self) -> None:
        self.api.clear_log()
