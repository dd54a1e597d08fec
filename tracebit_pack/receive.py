"""``tracebit-pack receive``: a local stand-in for a Panther HTTP source, bound to 127.0.0.1 only.

It checks what Panther checks, as far as documented: ``POST`` only (else 405), the whole request within
``--max-bytes`` headers included (else 413, decided from Content-Length before the body is read), and an
HMAC-SHA256 of the raw body in ``X-Tracebit-Signature-256`` (constant-time comparison; missing or wrong
-> 401). Accepted bodies may be NDJSON, a JSON array or one JSON object; each event is appended to
``DIR/<LogType>.jsonl`` (``Tracebit.Alert``, ``Tracebit.AlertSummary``, ``Tracebit.HealthCheck``,
from ``discriminator.type``), the layout ``tracebit-pack replay DIR`` reads. A request is stored
entirely or not at all.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.http_source import (
    DEFAULT_MAX_REQUEST_BYTES,
    ENCODINGS,
    SIGNATURE_HEADER,
    Secret,
    add_secret_arguments,
    dumps_line,
    load_secret,
    log_type_of,
    verify,
)

HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver


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
    ) -> None:
        self.secret = secret
        self.out_dir = Path(out_dir)
        self.max_bytes = max_bytes
        self.encodings = tuple(encodings)
        self.quiet = quiet
        self.stats: Counter[int] = Counter()
        self.stored: Counter[str] = Counter()
        self._requested_port = port
        self._lock = threading.Lock()
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
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            server = _Server((HOST, self._requested_port), _Handler)
        except OSError as err:
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
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def store(self, events: list[dict]) -> None:
        by_type: dict[str, list[bytes]] = {}
        for event in events:
            by_type.setdefault(log_type_of(event) or "", []).append(dumps_line(event) + b"\n")
        with self._lock:
            for log_type, lines in by_type.items():
                with (self.out_dir / f"{log_type}.jsonl").open("ab") as fh:
                    fh.write(b"".join(lines))
                self.stored[log_type] += len(lines)

    def log(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def parse_body(body: bytes) -> list[dict]:
    """Events from an NDJSON, JSON-array or single-object body; ValueError says what is wrong."""
    text = body.decode("utf-8")
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty body")
    if stripped.startswith("["):
        events = json.loads(stripped)
    else:
        try:
            events = [json.loads(stripped)]
        except json.JSONDecodeError:
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
    for number, event in enumerate(events, 1):
        if log_type_of(event) is None:
            raise ValueError(f"event {number}: not a Tracebit event (unknown or missing discriminator.type)")
    return events


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 15  # seconds a client may take to send its request
    server_version = "tracebit-pack-receive"
    sys_version = ""

    def _reply(self, status: int, message: str, close: bool = False, extra: dict | None = None) -> None:
        receiver = self.server.receiver
        receiver.stats[status] += 1
        payload = json.dumps({"status": status, "message": message}).encode() + b"\n"
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _not_allowed(self) -> None:
        self._reply(405, "only POST is accepted", close=True, extra={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def _head_size(self) -> int:
        headers = sum(len(f"{name}: {value}\r\n") for name, value in self.headers.items())
        return len(self.raw_requestline) + headers + 2

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            return self._reply(411, "chunked bodies are not accepted; send Content-Length", close=True)
        if length_text is None:
            return self._reply(411, "Content-Length required", close=True)
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            return self._reply(400, "invalid Content-Length", close=True)
        total = self._head_size() + length
        if total > receiver.max_bytes:
            # Refuse before reading the body; close so the unread body is never parsed as a request.
            return self._reply(
                413, f"request is {total} bytes with headers; limit {receiver.max_bytes}", close=True
            )
        body = self.rfile.read(length)
        if len(body) != length:
            return self._reply(400, "body shorter than Content-Length", close=True)
        if not verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER), receiver.encodings):
            missing = self.headers.get(SIGNATURE_HEADER) is None
            return self._reply(401, f"{'missing' if missing else 'invalid'} {SIGNATURE_HEADER}")
        try:
            events = parse_body(body)
        except (ValueError, UnicodeDecodeError) as err:
            return self._reply(400, f"malformed body: {err}")
        receiver.store(events)
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
