"""Request limits of a real `serve` process (issue 18 item 8): the token is checked before a
body is read, bodies and headers are capped, and a huge body leaves the server's memory alone."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Engine

from tests.service.helpers import config_text, free_port, serving

TOKEN = "limits-t0ken"
MIB = 1_048_576


def _config(tmp_path: Path, engine: Engine) -> Path:
    path = tmp_path / "pmo-ledger.toml"
    service = f'api_token = "{TOKEN}"\nmax_body_bytes = {MIB}\nmax_header_bytes = 4096'
    path.write_text(config_text(engine, {"psa": ""}, service=service), encoding="utf-8")
    return path


def _exchange(port: int, head: str, body: Iterable[bytes] = ()) -> tuple[int, bytes, float]:
    """Send `head` (request line and headers) and `body` from a thread of their own (the
    server may answer and close before all is sent); the status, the answer's body and the
    seconds until the answer came."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        started = time.monotonic()

        def send() -> None:
            try:
                sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
                for chunk in body:
                    sock.sendall(chunk)
            except OSError:
                pass  # the server answered and closed: what it should do

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = _recv(sock)
            if not data:
                break
            answer += data
        elapsed = time.monotonic() - started
        headers, _, rest = answer.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":", 1)[1])
             for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            None,
        )  # fmt: skip
        while length is None or len(rest) < length:
            data = _recv(sock)
            if not data:
                break  # no length: the body ends with the connection
            rest += data
    return int(headers.split(b" ", 2)[1]), rest, elapsed


def _recv(sock: socket.socket) -> bytes:
    """What came next; b"" at the end, also when the server reset the connection after its
    answer (it closes with the body unread)."""
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def _post(length: str, *, auth: bool = True, extra: str = "") -> str:
    token = f"Authorization: Bearer {TOKEN}\n" if auth else ""
    return (f"POST /syncs/psa HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
            f"{token}{length}\n{extra}")  # fmt: skip


def _zeros(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    for _ in range(total // chunk):
        yield b"0" * chunk


def _chunked(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // chunk):
        yield f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
    yield b"0\r\n\r\n"


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_bodies_are_refused_from_their_headers_and_memory_stays_flat(
    engine: Engine, tmp_path: Path
) -> None:
    with serving(_config(tmp_path, engine), tmp_path / "serve.log", free_port()) as serve:
        assert serve.proc is not None
        port = serve.port
        status, _, _ = _exchange(port, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n")
        assert status == 200
        before = _rss(serve.proc.pid)

        # A 500 MB POST without the token: 401 at once, nothing of it read.
        status, answer, elapsed = _exchange(
            port, _post("Content-Length: 524288000", auth=False), _zeros(64 * MIB)
        )
        assert (status, json.loads(answer)) == (401, {"detail": "a valid bearer token is required"})
        assert elapsed < 5
        time.sleep(0.5)
        assert _rss(serve.proc.pid) - before < 8 * MIB

        # With the token, a declared length over the cap: 413 before the body is read.
        status, answer, _ = _exchange(port, _post(f"Content-Length: {2 * MIB}"), _zeros(2 * MIB))
        assert (status, json.loads(answer)) == (
            413, {"detail": f"the request body is larger than {MIB} bytes"}
        )  # fmt: skip

        # A chunked body is counted as it comes and refused at the cap.
        status, answer, _ = _exchange(port, _post("Transfer-Encoding: chunked"), _chunked(64 * MIB))
        assert status == 413
        assert _rss(serve.proc.pid) - before < 8 * MIB

        # A chunked body within the cap reaches the API whole.
        status, answer, _ = _exchange(
            port,
            _post("Transfer-Encoding: chunked"),
            iter([b'b\r\n{"full": 1}\r\n', b"0\r\n\r\n"]),
        )  # b = 11 bytes
        assert status == 202, answer
        # Headers past [service] max_header_bytes: the HTTP server answers 400 (h11 counts
        # what it holds unparsed, so headers that arrive whole in one read pass a little over).
        pad = f"X-Pad: {'a' * 200_000}\n"
        status, _, _ = _exchange(port, _post("Content-Length: 0", extra=pad))
        assert status == 400
    assert serve.event("service_started") is not None


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_write_without_a_configured_token_is_refused_before_its_body(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "pmo-ledger.toml"
    path.write_text(config_text(engine, {"psa": ""}), encoding="utf-8")
    with serving(path, tmp_path / "serve.log", free_port()) as serve:
        status, answer, elapsed = _exchange(
            serve.port, _post("Content-Length: 524288000", auth=False), _zeros(16 * MIB)
        )
    assert (status, json.loads(answer)["detail"]) == (
        403, "write endpoints are off: set [service] api_token"
    )  # fmt: skip
    assert elapsed < 5
