"""How ``receive`` answers one connection: one request, checked as a Panther HTTP source checks it.

``POST`` only (else 405); the whole request within the size limit, headers counted as they are read
and the body judged from its one well-formed Content-Length before it is read (else 413/411/400);
the whole request within the time limit (else 408); an HMAC-SHA256 of the raw body in
``X-Tracebit-Signature-256`` (else 401); a body of Tracebit events (else 400). Every request gets
an answer, as JSON, and the connection closes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Protocol

from tracebit_pack.http.contract import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, Secret, log_type_of, verify
from tracebit_pack.http.store import EventStore
from tracebit_pack.logs.schemas import loads_json, split_ndjson

_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")


class ReceiverSettings(Protocol):
    """What a handler needs of the receiver (``tracebit_pack.http.receive.Receiver`` provides it;
    this module does not import that one, which imports this)."""

    secret: Secret
    max_bytes: int
    encodings: tuple[str, ...]
    request_timeout: float
    stats: Counter[int]
    storage: EventStore

    def log(self, message: str) -> None: ...


class _ReceiverServer(Protocol):
    receiver: ReceiverSettings


def parse_body(body: bytes) -> list[dict]:
    """Events from an NDJSON, JSON-array or single-object body; ValueError says what is wrong."""
    text = body.decode("utf-8")
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty body")
    if stripped.startswith("["):
        events = loads_json(stripped)
        if not isinstance(events, list):
            raise ValueError("expected a JSON array")
    else:
        try:
            events = [loads_json(stripped)]
        except ValueError:
            events = [loads_json(line) for line in split_ndjson(text) if line.strip()]
    for number, event in enumerate(events, 1):
        if log_type_of(event) is None:
            raise ValueError(f"event {number}: not a Tracebit event (unknown or missing discriminator.type)")
    return events


class _BudgetReader:
    """The request stream, refusing to read past the size budget (headers are counted as read)."""

    def __init__(self, raw, budget: int) -> None:
        self.raw = raw
        self.left = budget
        self.exceeded = False

    def readline(self, limit: int = -1) -> bytes:
        cap = self.left + 1 if limit is None or limit < 0 else min(limit, self.left + 1)
        line = self.raw.readline(cap)
        self.left -= len(line)
        if self.left < 0:
            self.exceeded = True
            return b""  # ends header parsing; the handler answers 413
        return line

    def read(self, size: int) -> bytes:
        data = self.raw.read(min(size, max(self.left, 0)))
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.raw.close()


class RequestHandler(BaseHTTPRequestHandler):
    """One connection, one request, one answer (``self.server.receiver`` holds the settings)."""

    server: _ReceiverServer
    protocol_version = "HTTP/1.1"
    server_version = "tracebit-pack-receive"
    sys_version = ""

    def setup(self) -> None:
        receiver = self.server.receiver
        self.timeout = receiver.request_timeout + 1.0  # a backstop: the deadline below comes first
        super().setup()
        self.rfile = _BudgetReader(self.rfile, receiver.max_bytes)
        # The whole request must arrive within request_timeout: then reading stops (EOF), whatever
        # pace the client keeps, and the handler still answers 408.
        self.expired = threading.Event()
        self._deadline = threading.Timer(receiver.request_timeout, self._expire)
        self._deadline.daemon = True
        self._deadline.start()

    def _expire(self) -> None:
        self.expired.set()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RD)

    def finish(self) -> None:
        self._deadline.cancel()
        super().finish()

    def handle(self) -> None:
        """One request per connection, and an answer to every request, whatever goes wrong."""
        self.close_connection = True
        self.answered = False
        self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
        try:
            self.handle_one_request()
            if not self.answered and self.rfile.exceeded:  # a request line longer than the limit
                self._too_large()
            elif not self.answered and self.expired.is_set():  # nothing (or too little) arrived in time
                self._reply(408, "request not received in time")
        except Exception as err:  # noqa: BLE001  (any failure is answered 500 and logged)
            self.server.receiver.log(f"receive: internal error: {type(err).__name__}: {err}")
            with contextlib.suppress(OSError):
                self._reply(500, "internal error")

    def parse_request(self) -> bool:
        if self.expired.is_set():
            self._reply(408, "request not received in time")
            return False
        if self.rfile.exceeded:
            return self._too_large() and False
        ok = super().parse_request()
        if ok and self.rfile.exceeded:
            return self._too_large() and False
        if ok and self.expired.is_set():
            self._reply(408, "request not received in time")
            return False
        return ok

    def _too_large(self) -> bool:
        limit = self.server.receiver.max_bytes
        self._reply(413, f"request headers exceed the {limit}-byte limit")
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own protocol errors (bad request line, header too long...), as JSON."""
        self._reply(code, message or self.responses.get(code, ("error",))[0])

    def _reply(self, status: int, message: str, extra: dict | None = None) -> None:
        receiver = self.server.receiver
        receiver.stats[status] += 1
        self.answered = True
        payload = json.dumps({"status": status, "message": message}).encode("ascii") + b"\n"
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # answer with headers even to an unparsable request line
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _not_allowed(self) -> None:
        self._reply(405, "only POST is accepted", extra={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def _content_length(self) -> tuple[int | None, str | None]:
        """The one well-formed Content-Length: ``(length, None)`` or ``(None, why not)``."""
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None, "Content-Length required"
        if len(values) > 1:
            return None, "more than one Content-Length header"
        text = values[0].strip(" \t")
        if not _CONTENT_LENGTH.fullmatch(text):
            return None, "invalid Content-Length"
        return int(text), None

    def do_POST(self) -> None:
        receiver = self.server.receiver
        if self.headers.get("Transfer-Encoding"):
            return self._reply(411, "chunked bodies are not accepted; send Content-Length")
        length, problem = self._content_length()
        if length is None:
            return self._reply(411 if problem == "Content-Length required" else 400, str(problem))
        head = receiver.max_bytes - self.rfile.left
        if length > self.rfile.left:
            # Refuse before reading the body; the connection closes, so the body is never parsed.
            total = head + length
            return self._reply(413, f"request is {total} bytes with headers; limit {receiver.max_bytes}")
        body = self.rfile.read(length)
        if len(body) != length:
            if self.expired.is_set():
                return self._reply(408, "request not received in time")
            return self._reply(400, "body shorter than Content-Length")
        if not verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER), receiver.encodings):
            missing = self.headers.get(SIGNATURE_HEADER) is None
            return self._reply(401, f"{'missing' if missing else 'invalid'} {SIGNATURE_HEADER}")
        try:
            events = parse_body(body)
        except ValueError as err:  # UnicodeDecodeError and JSONDecodeError included
            return self._reply(400, f"malformed body: {err}")
        key = self.headers.get(IDEMPOTENCY_HEADER)
        # A key counts together with the body it came with: another body under a reused key is stored.
        batch = f"{key.strip()}:{hashlib.sha256(body).hexdigest()}" if key else None
        try:
            stored = receiver.storage.store(events, batch)
        except OSError as err:
            receiver.log(f"receive: cannot store: {err}")
            return self._reply(500, "cannot store the events: nothing was stored")
        if not stored:
            return self._reply(200, f"already stored ({IDEMPOTENCY_HEADER} seen): {len(events)} events")
        self._reply(200, f"stored {len(events)} events")

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (BaseHTTPRequestHandler's name)
        self.server.receiver.log(f"receive: {self.address_string()} {format % args}")
