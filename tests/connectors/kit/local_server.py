"""A real HTTP(S) server on 127.0.0.1 for the kit's tests: each request goes to a function
that returns an `Answer`; every request is logged. TLS when given a server context."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    """A request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """What to answer: a status, a JSON body (or raw bytes), headers, and a delay before it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Callable[[Seen], Answer]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen(
            self.command,
            parts.path,
            {k: v[-1] for k, v in parse_qs(parts.query).items()},
            {k.lower(): v for k, v in self.headers.items()},
        )
        self.server.seen.append(seen)
        answer = self.server.route(seen)
        if answer.delay:
            time.sleep(answer.delay)
        raw = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, route: Route, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.route = route
        self.seen: list[Seen] = []
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)


@contextmanager
def serving(route: Route, tls: ssl.SSLContext | None = None) -> Iterator[_Server]:
    """The server running in a thread; its URL is `url(server)`."""
    server = _Server(route, tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def url(server: _Server, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def scripted(*answers: Answer) -> Route:
    """A route that gives the answers in turn (the last one again once they run out)."""
    queue = list(answers)

    def route(seen: Seen) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route
