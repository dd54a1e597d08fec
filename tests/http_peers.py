"""Shared pieces of the send/receive tests: the test secret, sample events, and a raw HTTP peer.

The ``receiver`` and ``secret_env`` fixtures built on them live in conftest.py.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
from collections.abc import Callable

from tracebit_pack.http.contract import Secret
from tracebit_pack.http.events import SAMPLES_DIR

SECRET_TEXT = "tb-test-secret-9f8e7d6c5b4a"  # a value that must never appear in any output
SECRET = Secret(SECRET_TEXT)
PEER_TIMEOUT = 10.0  # socket timeout of a peer's handler: the bound on its waits
# How often test servers check for shutdown: stopping one takes up to this long (production: 0.5 s).
POLL_INTERVAL = 0.02


def sample(log_type: str = "Tracebit.HealthCheck") -> dict:
    """The first bundled sample event of ``log_type``, as stored."""
    path = SAMPLES_DIR / f"{log_type}.jsonl"
    return json.loads(path.read_text(encoding="utf-8").split("\n")[0])


Behaviour = Callable[[socketserver.StreamRequestHandler, bytes, bytes], None]


class RawPeer(socketserver.ThreadingTCPServer):
    """A raw HTTP server on 127.0.0.1: records each request's exact head and body bytes, then lets
    ``behaviour(handler, head, body)`` decide what (if anything) comes back."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: Behaviour, path: str = "/source") -> None:
        super().__init__(("127.0.0.1", 0), _PeerHandler)
        self.behaviour = behaviour
        self.path = path
        self.requests: list[tuple[bytes, bytes]] = []  # (head bytes, body bytes)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, args=(POLL_INTERVAL,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.path}"

    @property
    def heads(self) -> list[bytes]:
        return [head for head, _ in self.requests]

    def __enter__(self) -> RawPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=PEER_TIMEOUT)


class _PeerHandler(socketserver.StreamRequestHandler):
    timeout = PEER_TIMEOUT
    server: RawPeer

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65537)
            if not line:
                return
            head += line
        match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        body = self.rfile.read(int(match.group(1))) if match else b""
        with self.server.lock:
            self.server.requests.append((head, body))
        self.server.behaviour(self, head, body)


def scripted(script=()) -> Behaviour:
    """Answers from a finite script of ``(status, headers, body)``; once it is exhausted, 200."""
    remaining = list(script)
    lock = threading.Lock()

    def answer(handler, head, body) -> None:
        with lock:
            status, headers, payload = remaining.pop(0) if remaining else (200, {}, b"ok")
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(payload)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)

    return answer


def fake_server(script=()) -> RawPeer:
    """A well-behaved source answering from ``script`` (see :func:`scripted`)."""
    return RawPeer(scripted(script), path="/http/source-id")
