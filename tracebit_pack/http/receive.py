"""``tracebit-pack receive``: a local stand-in for a Panther HTTP source, bound to 127.0.0.1 only.

It checks what Panther checks, as far as documented: ``POST`` only (else 405), the whole request within
``--max-bytes`` headers included (else 413: header bytes are counted as they are read, the body is
judged from Content-Length before it is read), and an HMAC-SHA256 of the raw body in
``X-Tracebit-Signature-256`` (constant-time comparison; missing or wrong -> 401). Accepted bodies may
be NDJSON (split on ``\\n`` only), a JSON array or one JSON object; each event is appended, as
ASCII-escaped JSON, to ``DIR/<LogType>.jsonl`` (``Tracebit.Alert``, ``Tracebit.AlertSummary``,
``Tracebit.HealthCheck``, from ``discriminator.type``), the layout ``tracebit-pack replay DIR`` reads.

Hardening: a request is stored entirely or not at all; a batch whose ``Idempotency-Key`` was already
stored is acknowledged, not stored again; every request gets an answer (400/408/411/413/500...);
each connection carries one request, which must arrive within ``request_timeout`` seconds in total;
at most ``max_connections`` are served at once (the rest wait in a 128-deep listen backlog); output
files are opened without following symlinks, mode 0600, in a folder the user owns that no one else
can write to; request log lines have control characters escaped.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import re
import signal
import socket
import stat
import sys
import threading
from collections import Counter, OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.http.contract import (
    DEFAULT_MAX_REQUEST_BYTES,
    ENCODINGS,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Secret,
    add_secret_arguments,
    dumps_line,
    load_secret,
    log_type_of,
    verify,
)
from tracebit_pack.logs.schemas import loads_json, split_ndjson

HOST = "127.0.0.1"
LISTEN_BACKLOG = 128
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_REQUEST_TIMEOUT = 15.0  # seconds for a whole request: request line, headers and body
IDEMPOTENCY_MEMORY = 100_000  # keys remembered (oldest forgotten first)
_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (C0, DEL, C1) as ``\\xNN`` escapes."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    receiver: Receiver

    def process_request(self, request, client_address):
        """Start a handler thread only while fewer than ``max_connections`` run; else wait for one."""
        slots = self.receiver._slots
        # Every running request ends within request_timeout: waiting twice that frees a slot unless
        # the handlers are stuck; then the newcomer gets 503 (retryable) rather than waiting forever.
        if not slots.acquire(timeout=2 * self.receiver.request_timeout):
            self.receiver.stats[503] += 1
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.receiver._slots.release()


class Receiver:
    """In-process receiver: ``start()`` serves in a background thread, ``stop()`` shuts down cleanly.

    ``port=0`` picks a free ephemeral port (see ``.port`` / ``.url`` after ``start()``). ``stats``
    counts responses by status code; ``stored`` counts stored events by log type.
    """

    def __init__(
        self,
        secret: Secret,
        out_dir: str | Path,
        *,
        port: int = 0,
        max_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        encodings=ENCODINGS,
        quiet: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.secret = secret
        self.out_dir = Path(out_dir)
        self.max_bytes = max_bytes
        self.encodings = tuple(encodings)
        self.quiet = quiet
        self.request_timeout = request_timeout
        self.stats: Counter[int] = Counter()
        self.stored: Counter[str] = Counter()
        self._requested_port = port
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._seen_keys: OrderedDict[str, int] = OrderedDict()
        self._dir_fd: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        url = self.url if self._server else None
        return f"Receiver(url={url!r}, out_dir={str(self.out_dir)!r}, secret=***)"

    @property
    def port(self) -> int:
        if not self._server:
            raise RuntimeError("receiver not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> Receiver:
        self._dir_fd = open_private_dir(self.out_dir)
        try:
            server = _Server((HOST, self._requested_port), _Handler)
        except OSError as err:
            os.close(self._dir_fd)
            self._dir_fd = None
            raise UserError(f"cannot listen on {HOST}:{self._requested_port}: {err.strerror}") from None
        server.receiver = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="tracebit-receive", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        if self._dir_fd is not None:
            os.close(self._dir_fd)
        self._server = self._thread = self._dir_fd = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def store(self, events: list[dict], key: str | None = None) -> bool:
        """Append ``events`` to their files, all or nothing; False if ``key`` was already stored."""
        by_type: dict[str, list[bytes]] = {}
        for event in events:
            by_type.setdefault(log_type_of(event) or "", []).append(dumps_line(event) + b"\n")
        with self._lock:
            if key is not None and key in self._seen_keys:
                self._seen_keys.move_to_end(key)
                return False
            _append_all(self._dir_fd, {f"{t}.jsonl": b"".join(lines) for t, lines in by_type.items()})
            for log_type, lines in by_type.items():
                self.stored[log_type] += len(lines)
            if key is not None:
                self._seen_keys[key] = len(events)
                while len(self._seen_keys) > IDEMPOTENCY_MEMORY:
                    self._seen_keys.popitem(last=False)
        return True

    def log(self, message: str) -> None:
        if not self.quiet:
            print(printable(message), file=sys.stderr, flush=True)


def open_private_dir(path: Path) -> int:
    """A descriptor of ``path``, created 0700 if missing; UserError unless it is a real folder the
    user owns that no one else can write to (files are then opened relative to this descriptor)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        why = "a symlink" if err.errno == errno.ELOOP else err.strerror
        raise UserError(f"--out {path}: cannot use this folder: {why}") from None
    info = os.fstat(fd)
    problem = None
    if info.st_uid != os.getuid():
        problem = "it is owned by another user"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = "others can write to it"
    if problem:
        os.close(fd)
        raise UserError(f'--out {path}: {problem}; use a private folder, e.g. --out "$(mktemp -d)"')
    return fd


def _append_all(dir_fd: int | None, chunks: dict[str, bytes]) -> None:
    """Append each chunk to its file under ``dir_fd``; on any failure truncate every file back."""
    if dir_fd is None:
        raise RuntimeError("receiver not started")
    opened: list[tuple[int, int]] = []  # (fd, size before)
    try:
        for name, data in chunks.items():
            fd = os.open(name, _OPEN_FLAGS, 0o600, dir_fd=dir_fd)
            info = os.fstat(fd)
            opened.append((fd, info.st_size))
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_nlink != 1:
                raise OSError(errno.EPERM, f"{name} is not a regular file of ours")
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
    except BaseException:
        for fd, size in opened:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
        raise
    finally:
        for fd, _ in opened:
            os.close(fd)


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
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
            stored = receiver.store(events, batch)
        except OSError as err:
            receiver.log(f"receive: cannot store: {err}")
            return self._reply(500, "cannot store the events: nothing was stored")
        if not stored:
            return self._reply(200, f"already stored ({IDEMPOTENCY_HEADER} seen): {len(events)} events")
        self._reply(200, f"stored {len(events)} events")

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (BaseHTTPRequestHandler's name)
        self.server.receiver.log(f"receive: {self.address_string()} {format % args}")


# --------------------------------------------------------------------------------------------- CLI
def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "receive",
        help="local HMAC-checking stand-in for a Panther HTTP source (127.0.0.1), storing JSONL for replay",
        description="A local stand-in for a Panther HTTP source, bound to 127.0.0.1: verifies the HMAC "
        "signature, enforces the size limit, stores accepted events as <LogType>.jsonl in DIR for replay.",
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0 = pick a free one)")
    add_secret_arguments(parser, required=True)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for <LogType>.jsonl files")
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"largest request accepted, headers included (default {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--signature-encoding",
        action="append",
        choices=ENCODINGS,
        help="accept only these digest encodings (repeatable; default: any of " + ", ".join(ENCODINGS) + ")",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UserError("--port must be between 0 and 65535")
    if args.max_bytes <= 0:
        raise UserError("--max-bytes must be positive")
    secret = load_secret(args.secret_env, args.secret_file)
    receiver = Receiver(
        secret,
        args.out,
        port=args.port,
        max_bytes=args.max_bytes,
        encodings=args.signature_encoding or ENCODINGS,
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    receiver.start()
    try:
        print(f"listening on {receiver.url}, storing to {receiver.out_dir}/ (Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        receiver.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(receiver.stored.items())) or "no events"
    print(f"stopped; stored {summary}", flush=True)
    return 0
