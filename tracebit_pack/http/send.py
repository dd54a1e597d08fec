"""Posting signed batches to a Panther HTTP source: one request at a time, retried when safe.

Retries: 408, 429, 5xx and connection errors *before the whole request was sent*, with exponential
backoff (bounded attempts and total time), honouring ``Retry-After``. Each batch carries an
``Idempotency-Key`` (the same on its retries; ``receive`` stores a key once). A request whose body was
sent but whose answer never came is not retried blindly: the source may have stored it. Any other
status stops with the status and the (truncated) body. The timeout bounds each request as a whole
(connect, send, answer), not each socket operation. Environment proxies are not used.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import math
import random
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

from tracebit_pack.http.contract import DEFAULT_ENCODING, Secret, sign
from tracebit_pack.http.request import Target, request_headers

DEFAULT_MAX_ATTEMPTS = 5  # 1 try + 4 retries
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles each time
DEFAULT_MAX_BACKOFF = 30.0  # cap of one computed backoff step
DEFAULT_MAX_RETRY_TIME = 120.0  # total seconds one batch may spend retrying
DEFAULT_TIMEOUT = 30.0  # seconds one request may take in total (connect, send, answer)
MAX_ERROR_BODY = 500  # characters of a response body shown in an error
RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


class DeliveryError(Exception):
    """A batch could not be delivered (message is safe to print: it never holds the secret)."""


class NotSent(Exception):
    """The request failed before all of it was sent: the source cannot have stored it (retryable)."""


class AnswerLost(Exception):
    """The whole request was sent but no answer came: the source may have stored it (not retried)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, how soon and for how long one batch is retried (``--max-attempts`` ...)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    max_retry_time: float = DEFAULT_MAX_RETRY_TIME

    def delay(self, retry: int) -> float:
        """Backoff before retry number ``retry`` (1-based): exponential, capped, with +-20% jitter."""
        base = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return base * random.uniform(0.8, 1.2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


def _post(target: Target, head_fields: list[tuple[str, str]], body: bytes, timeout: float) -> Response:
    """One POST, finished within ``timeout`` seconds in total (a watchdog closes the socket then).

    Raises :class:`NotSent` if it failed before the whole request was sent, :class:`AnswerLost` if
    it failed after; ``ssl.SSLCertVerificationError`` and ``http.client.InvalidURL`` pass through.
    """
    if target.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    sent = False
    try:
        # skip_host / skip_accept_encoding: http.client adds nothing, so request_head() is exact.
        conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        for name, value in head_fields:
            conn.putheader(name, value)
        conn.endheaders(body)
        sent = True
        resp = conn.getresponse()
        data = resp.read(64 * 1024)
        if expired.is_set():
            raise TimeoutError("answer cut off")
        return Response(resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()}, data)
    except (ssl.SSLCertVerificationError, http.client.InvalidURL):
        raise
    except (OSError, http.client.HTTPException) as err:
        late = TimeoutError(f"no complete answer within --timeout {timeout:g}s")
        reason = late if expired.is_set() else err
        raise (AnswerLost if sent else NotSent)(reason) from None
    finally:
        watchdog.cancel()
        conn.close()


@dataclass
class Sender:
    """Signs and posts batches; ``sleep``/``clock``/``log`` are injectable for tests."""

    target: Target
    secret: Secret
    encoding: str = DEFAULT_ENCODING
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr)
    attempts: int = 0  # requests made so far (all batches)

    def __repr__(self) -> str:
        return f"Sender(url={self.target.url!r}, encoding={self.encoding!r}, secret=***)"

    def headers_for(self, body: bytes, key: str | None = None) -> list[tuple[str, str]]:
        signature = sign(self.secret, body, self.encoding)
        return request_headers(self.target, len(body), signature, key or uuid.uuid4().hex)

    def deliver(self, body: bytes, label: str = "batch") -> Response:
        """POST ``body`` until a 2xx; raises DeliveryError on a final status or when retries run out.

        Every attempt carries the same idempotency key. Retried: an answer of 408, 429 or 5xx, and a
        failure before the whole request was sent. Not retried: a lost answer after it was sent.
        """
        head_fields = self.headers_for(body)
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            retry_after = None
            try:
                resp = _post(self.target, head_fields, body, self.timeout)
            except ssl.SSLCertVerificationError as err:
                raise DeliveryError(
                    f"{label}: TLS certificate verification failed: {err.verify_message}"
                ) from None
            except http.client.InvalidURL as err:
                raise DeliveryError(f"{label}: invalid URL: {err}") from None
            except AnswerLost as lost:
                err = lost.args[0]
                raise DeliveryError(
                    f"{label}: sent, but no answer ({type(err).__name__}: {self.secret.redact(str(err))});"
                    " not retried: the source may have stored it, and a resend could store it twice"
                ) from None
            except NotSent as failed:
                err = failed.args[0]
                problem = f"connection error ({type(err).__name__}: {self.secret.redact(str(err))})"
            else:
                if 200 <= resp.status < 300:
                    return resp
                text = self.secret.redact(resp.body.decode("utf-8", "replace")).strip()
                if len(text) > MAX_ERROR_BODY:
                    text = text[:MAX_ERROR_BODY] + "... (truncated)"
                problem = f"HTTP {resp.status} {resp.reason}" + (f": {text}" if text else "")
                if resp.status not in RETRYABLE_STATUS:
                    hint = ""
                    if resp.status in (401, 403):
                        hint = " (check the secret, and try another --signature-encoding)"
                    elif 300 <= resp.status < 400:
                        hint = " (redirects are not followed: check --url)"
                    raise DeliveryError(f"{label}: {problem}{hint}")
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
            if attempt >= self.retry.max_attempts:
                raise DeliveryError(f"{label}: gave up after {attempt} attempts; last: {problem}")
            wait = retry_after if retry_after is not None else self.retry.delay(attempt)
            spent = self.clock() - started
            if spent + wait > self.retry.max_retry_time:
                raise DeliveryError(
                    f"{label}: gave up after {attempt} attempts: waiting {wait:.1f}s more would exceed "
                    f"--max-retry-time {self.retry.max_retry_time:g}s; last: {problem}"
                )
            source = "Retry-After" if retry_after is not None else "backoff"
            self.log(
                f"{label}: {problem}; retry {attempt}/{self.retry.max_attempts - 1} in {wait:.2f}s ({source})"
            )
            self.sleep(wait)
