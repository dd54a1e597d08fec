"""``Receiver``: a local stand-in for a Panther HTTP source, bound to 127.0.0.1 only.

It checks what Panther checks, as far as documented (see ``tracebit_pack.http.handler``), and
appends each accepted event, as ASCII-escaped JSON, to ``DIR/<LogType>.jsonl`` (``Tracebit.Alert``,
``Tracebit.AlertSummary``, ``Tracebit.HealthCheck``, from ``discriminator.type``), the layout
``tracebit-pack replay DIR`` reads (see ``tracebit_pack.http.store``).

Hardening: a request is stored entirely or not at all; a batch whose ``Idempotency-Key`` was already
stored is acknowledged, not stored again; every request gets an answer (400/408/411/413/500...);
each connection carries one request, which must arrive within ``request_timeout`` seconds in total;
a connection waits without a handler until its first byte arrives (``tracebit_pack.http.waiting``:
idle connections delay no one); at most ``max_connections`` requests are served at once (the rest
wait for a slot); output files are opened without following symlinks or blocking, mode 0600,
regular files only, in a folder the user owns that no one else can write to; request log lines have
control characters escaped.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.http.contract import DEFAULT_MAX_REQUEST_BYTES, ENCODINGS, Secret
from tracebit_pack.http.handler import RequestHandler
from tracebit_pack.http.store import EventStore
from tracebit_pack.http.waiting import WaitingRoom, answer
from tracebit_pack.text import visible

HOST = "127.0.0.1"
LISTEN_BACKLOG = 128
DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_REQUEST_TIMEOUT = 15.0  # seconds for a whole request: request line, headers and body
DEFAULT_POLL_INTERVAL = 0.5  # seconds: how often the serving loop checks for stop()


class _Server(ThreadingHTTPServer):
    """The listening socket: one handler thread per connection, at most ``max_connections``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    receiver: Receiver

    def process_request(self, request, client_address):
        """A new connection waits, without a handler, until it sends something."""
        self.receiver._waiting.admit(request, client_address)

    def dispatch(self, request, client_address):
        """Start a handler thread only while fewer than ``max_connections`` run; else wait for one."""
        slots = self.receiver._slots
        # Every running request ends within request_timeout: waiting twice that frees a slot unless
        # the handlers are stuck; then the newcomer gets 503 (retryable) rather than waiting forever.
        if not slots.acquire(timeout=2 * self.receiver.request_timeout):
            self.receiver.stats[503] += 1
            answer(request, 503, "Service Unavailable", "no free slot", retry=True)
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
    counts responses by status code; ``stored`` counts stored events by log type. ``stop()`` takes
    up to ``poll_interval`` seconds (the serving loop's check for it).
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
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        self.secret = secret
        self.out_dir = Path(out_dir)
        self.max_bytes = max_bytes
        self.encodings = tuple(encodings)
        self.quiet = quiet
        self.request_timeout = request_timeout
        self.poll_interval = poll_interval
        self.stats: Counter[int] = Counter()
        self.storage = EventStore(self.out_dir)
        self._requested_port = port
        self._slots = threading.BoundedSemaphore(max_connections)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._waiting: WaitingRoom | None = None

    def __repr__(self) -> str:
        url = self.url if self._server else None
        return f"Receiver(url={url!r}, out_dir={str(self.out_dir)!r}, secret=***)"

    @property
    def stored(self) -> Counter[str]:
        """Events stored so far, by log type."""
        return self.storage.stored

    @property
    def port(self) -> int:
        if not self._server:
            raise RuntimeError("receiver not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> Receiver:
        self.storage.open()
        try:
            server = _Server((HOST, self._requested_port), RequestHandler)
        except OSError as err:
            self.storage.close()
            raise UserError(f"cannot listen on {HOST}:{self._requested_port}: {err.strerror}") from None
        server.receiver = self
        self._server = server
        self._waiting = WaitingRoom(server.dispatch, self._count, self.request_timeout)
        self._thread = threading.Thread(
            target=server.serve_forever, args=(self.poll_interval,), name="tracebit-receive", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
        if self._waiting:
            self._waiting.stop()
        if self._server:
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self.storage.close()
        self._server = self._thread = self._waiting = None

    def _count(self, status: int) -> None:
        self.stats[status] += 1

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self, message: str) -> None:
        if not self.quiet:
            print(visible(message), file=sys.stderr, flush=True)
