"""Accepted connections that have not sent a byte yet: they wait here, not in a handler's slot.

``receive`` serves at most ``max_connections`` requests at once. A connection that is open but
silent would hold a slot until its deadline, so a few dozen idle connections could delay every
real sender by the whole ``request_timeout``. Here one thread watches every silent connection:
the first byte sends it on to a handler (``dispatch``); silence until ``timeout`` gets a 408;
beyond ``capacity`` waiting connections, a newcomer gets 503 (retryable).
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
import time
from collections.abc import Callable

DEFAULT_CAPACITY = 1024


def answer(sock: socket.socket, status: int, reason: str, message: str, retry: bool = False) -> None:
    """A complete JSON answer written straight to ``sock`` (no handler), then closed."""
    payload = json.dumps({"status": status, "message": message}).encode("ascii") + b"\n"
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
    head += "Retry-After: 1\r\n" if retry else ""
    head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(OSError):
        sock.settimeout(1.0)
        sock.sendall(head.encode("ascii") + payload)
    with contextlib.suppress(OSError):
        sock.close()


class WaitingRoom:
    """Holds silent connections; ``admit`` from the accepting thread, ``stop`` once."""

    def __init__(
        self,
        dispatch: Callable[[socket.socket, object], None],
        count: Callable[[int], None],
        timeout: float,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.dispatch = dispatch  # hands a connection with bytes to read to a handler
        self.count = count  # counts an answer given here, by status
        self.timeout = timeout
        self.capacity = capacity
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._arrivals: list[tuple[socket.socket, object]] = []
        self._waiting: dict[socket.socket, tuple[object, float]] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="tracebit-receive-waiting", daemon=True)
        self._thread.start()

    def admit(self, sock: socket.socket, address: object) -> None:
        with self._lock:
            full = len(self._waiting) + len(self._arrivals) >= self.capacity or self._stopped
            if not full:
                self._arrivals.append((sock, address))
        if full:
            self.count(503)
            answer(sock, 503, "Service Unavailable", "too many idle connections", retry=True)
            return
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")
        self._thread.join(timeout=5)
        for sock in [*self._waiting, *(s for s, _ in self._arrivals)]:
            with contextlib.suppress(OSError):
                sock.close()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                arrivals, self._arrivals = self._arrivals, []
            now = time.monotonic()
            for sock, address in arrivals:
                self._selector.register(sock, selectors.EVENT_READ)
                self._waiting[sock] = (address, now + self.timeout)
            first_deadline = min((d for _, d in self._waiting.values()), default=now + self.timeout)
            for key, _ in self._selector.select(timeout=max(0.0, first_deadline - now)):
                if key.fileobj is self._wake_read:
                    with contextlib.suppress(OSError):
                        self._wake_read.recv(4096)
                    continue
                sock = key.fileobj
                self._selector.unregister(sock)
                address, _ = self._waiting.pop(sock)
                self.dispatch(sock, address)  # may wait for a free handler slot
            now = time.monotonic()
            for sock in [s for s, (_, deadline) in self._waiting.items() if deadline <= now]:
                self._selector.unregister(sock)
                del self._waiting[sock]
                self.count(408)
                answer(sock, 408, "Request Timeout", "request not received in time")
