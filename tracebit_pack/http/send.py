"""``tracebit-pack send``: post HMAC-signed Tracebit events to a Panther HTTP source.

Events (by default the bundled samples in ``tracebit_pack/http/samples/``, timestamps moved to now) are sent
as newline-delimited JSON, in batches whose *whole request* (request line + headers + body) stays
within the source's limit, each body signed with HMAC-SHA256 in ``X-Tracebit-Signature-256``.
Requests go out through ``http.client`` with exactly the headers listed in :func:`request_headers`,
so the header size used for batching is the real one. Environment proxies are not used.

Retries: 408, 429, 5xx and connection errors *before the whole request was sent*, with exponential
backoff (bounded attempts and total time), honouring ``Retry-After``. Each batch carries an
``Idempotency-Key`` (the same on its retries; ``receive`` stores a key once). A request whose body was
sent but whose answer never came is not retried blindly: the source may have stored it. Any other
status stops with the status and the (truncated) body. ``--timeout`` bounds each request as a whole
(connect, send, answer), not each socket operation.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import email.utils
import http.client
import json
import math
import random
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from tracebit_pack import __version__
from tracebit_pack.errors import UserError
from tracebit_pack.http.contract import (
    DEFAULT_ENCODING,
    DEFAULT_MAX_REQUEST_BYTES,
    ENCODINGS,
    IDEMPOTENCY_HEADER,
    LOG_TYPES,
    SIGNATURE_HEADER,
    Secret,
    add_secret_arguments,
    dumps_line,
    load_secret,
    log_type_of,
    sign,
    signature_length,
)
from tracebit_pack.logs.schemas import SCHEMA_DIR, loads_json, split_ndjson
from tracebit_pack.times import parse_rfc3339, rfc3339_utc

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

# Room left under the limit for headers a proxy or load balancer may add on the way (X-Forwarded-For...).
DEFAULT_HEADROOM = 2048
DEFAULT_MAX_ATTEMPTS = 5  # 1 try + 4 retries
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles each time
DEFAULT_MAX_BACKOFF = 30.0  # cap of one computed backoff step
DEFAULT_MAX_RETRY_TIME = 120.0  # total seconds one batch may spend retrying
DEFAULT_TIMEOUT = 30.0  # seconds one request may take in total (connect, send, answer)
MAX_ERROR_BODY = 500  # characters of a response body shown in an error
CONTENT_TYPE = "application/x-ndjson"
USER_AGENT = f"tracebit-pack/{__version__}"
RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


class DeliveryError(Exception):
    """A batch could not be delivered (message is safe to print: it never holds the secret)."""


class NotSent(Exception):
    """The request failed before all of it was sent: the source cannot have stored it (retryable)."""


class AnswerLost(Exception):
    """The whole request was sent but no answer came: the source may have stored it (not retried)."""


_HOSTNAME = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]+\]")
_UNSAFE_URL_CHAR = re.compile(r"[\x00-\x20\x7f]")


# ---------------------------------------------------------------------------------------------- target
@dataclass(frozen=True)
class Target:
    """Where requests go: scheme, connection host/port, the Host header and the request path."""

    scheme: str
    host: str
    port: int
    host_header: str
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        if _UNSAFE_URL_CHAR.search(url):
            raise UserError(f"--url must not contain spaces or control characters, got {url!r}")
        try:
            parts = urlsplit(url)
        except ValueError as err:
            raise UserError(f"--url is malformed ({err}): {url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"--url must be an http(s) URL, got {url!r}")
        host_text = parts.netloc.rpartition("@")[2]
        host_text = host_text.rsplit(":", 1)[0] if not host_text.endswith("]") else host_text
        if not _HOSTNAME.fullmatch(host_text):
            raise UserError(f"--url has an invalid host name: {url!r}")
        if parts.username or parts.password:
            raise UserError("--url must not contain credentials")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UserError(f"--url has an invalid port: {url!r}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            path.encode("ascii")
        except UnicodeEncodeError:
            raise UserError("--url path must be ASCII (percent-encode it)") from None
        return cls(parts.scheme, parts.hostname, port, parts.netloc, path)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.path}"


def request_headers(
    target: Target, body_length: int, signature: str, key: str = "0" * 32
) -> list[tuple[str, str]]:
    """Every header the request carries, in order (http.client adds none: see :func:`_post`).

    ``key`` is the batch's idempotency key: 32 hex digits, so the header size does not depend on it.
    """
    return [
        ("Host", target.host_header),
        ("User-Agent", USER_AGENT),
        ("Content-Type", CONTENT_TYPE),
        ("Content-Length", str(body_length)),
        (SIGNATURE_HEADER, signature),
        (IDEMPOTENCY_HEADER, key),
        ("Connection", "close"),
    ]


def request_head(target: Target, headers: Sequence[tuple[str, str]]) -> bytes:
    """The exact bytes http.client writes before the body (request line, headers, blank line)."""
    lines = [f"POST {target.path} HTTP/1.1"] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def head_size(target: Target, body_length: int, encoding: str = DEFAULT_ENCODING) -> int:
    """Size of the request head for a body of ``body_length`` bytes (signature length is fixed)."""
    placeholder = "0" * signature_length(encoding)
    return len(request_head(target, request_headers(target, body_length, placeholder)))


# -------------------------------------------------------------------------------------------- batching
@dataclass
class Batch:
    lines: list[bytes] = field(default_factory=list)
    log_types: list[str] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(line + b"\n" for line in self.lines)

    @property
    def body_size(self) -> int:
        return sum(len(line) + 1 for line in self.lines)


def plan_batches(
    events: Iterable[dict], request_size: Callable[[int], int], max_request_bytes: int
) -> list[Batch]:
    """Greedy, order-keeping split into NDJSON batches with ``request_size(body) <= max_request_bytes``.

    ``request_size(body_length)`` returns the full request size (head + body) for that body length.
    """
    batches: list[Batch] = []
    current = Batch()
    for number, event in enumerate(events, 1):
        line = dumps_line(event)
        alone = len(line) + 1
        if request_size(alone) > max_request_bytes:
            raise UserError(
                f"event {number} ({log_type_of(event)}) is {alone} bytes: a request with it alone would "
                f"exceed the {max_request_bytes}-byte limit (headers included)"
            )
        if current.lines and request_size(current.body_size + alone) > max_request_bytes:
            batches.append(current)
            current = Batch()
        current.lines.append(line)
        current.log_types.append(log_type_of(event) or "?")
    if current.lines:
        batches.append(current)
    return batches


# ------------------------------------------------------------------------------------------ reading
def read_events(paths: Sequence[str | Path]) -> list[dict]:
    """Tracebit events from .jsonl files (one object a line) or JSON-array files, or folders of them."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".ndjson", ".json"))
            if not found:
                raise UserError(f"{path}: no .jsonl or .json files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file")
    events: list[dict] = []
    for path in files:
        events.extend(_read_file(path))
    if not events:
        raise UserError("no events to send")
    return events


def _read_file(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read: {err}") from None
    if text.lstrip().startswith("["):
        try:
            items = loads_json(text)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: malformed JSON array: {err.msg} (line {err.lineno})") from None
        except ValueError as err:
            raise UserError(f"{path}: malformed JSON array: {err}") from None
        if not isinstance(items, list):
            raise UserError(f"{path}: expected a JSON array")
        located = [(f"{path} element {i}", item) for i, item in enumerate(items)]
    else:
        located = []
        for lineno, line in enumerate(split_ndjson(text), 1):
            if not line.strip():
                continue
            try:
                located.append((f"{path}:{lineno}", loads_json(line)))
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{lineno}: malformed JSON line: {err.msg}") from None
            except ValueError as err:
                raise UserError(f"{path}:{lineno}: malformed JSON line: {err}") from None
    for where, event in located:
        if not isinstance(event, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(event).__name__}")
        if log_type_of(event) is None:
            raise UserError(
                f"{where}: not a Tracebit event (discriminator.type must be one of "
                "tracebit_alert_log, tracebit_alert_summary, health_check)"
            )
    return [event for _, event in located]


def load_samples() -> list[dict]:
    """The bundled sample alert, alert summary and health check (in that order), as stored."""
    return read_events([SAMPLES_DIR / f"{log_type}.jsonl" for log_type in LOG_TYPES])


def sample_events(as_stored: bool = False, now: datetime | None = None) -> list[dict]:
    """The samples to send: timestamps moved to ``now`` and fresh ids (unless ``as_stored``).

    Fresh ``alert_id`` / ``id`` values make each run a new Tracebit alert, so a second check within
    the rules' dedup period (keyed on ``alert_id``) still raises a new Panther alert.
    """
    events = load_samples()
    return events if as_stored else fresh_ids(shift_to_now(events, now))


def fresh_ids(events: list[dict]) -> list[dict]:
    """Copies with new UUIDs for each ``alert_id`` (kept consistent across events) and alert-log ``id``."""
    renamed: dict[str, str] = {}
    out = []
    for event in copy.deepcopy(events):
        old = event.get("alert_id")
        if isinstance(old, str):
            new = renamed.setdefault(old, str(uuid.uuid4()))
            event["alert_id"] = new
            if isinstance(event.get("tracebit_portal_url"), str):
                event["tracebit_portal_url"] = event["tracebit_portal_url"].replace(old, new)
        if log_type_of(event) == "Tracebit.Alert" and "id" in event:
            event["id"] = str(uuid.uuid4())
        out.append(event)
    return out


# -------------------------------------------------------------------------------------- timestamps
def _timestamp_paths(log_type: str) -> list[tuple[str, ...]]:
    """Paths of the fields typed ``timestamp`` in a schema; a list element is marked ``[]``."""
    spec = yaml.safe_load((SCHEMA_DIR / f"{log_type}.yml").read_text(encoding="utf-8"))
    found: list[tuple[str, ...]] = []

    def walk(fields, prefix):
        for item in fields or []:
            node, path = item, (*prefix, item["name"])
            if node.get("type") == "array":
                node, path = node.get("element") or {}, (*path, "[]")
            if node.get("type") == "timestamp":
                found.append(path)
            walk(node.get("fields"), path)

    walk(spec.get("fields"), ())
    return found


def _format_time(moment: datetime, like: str) -> str:
    return rfc3339_utc(moment, "milliseconds" if "." in like else "seconds")


def _visit(node, path, fn):
    if not path:
        return fn(node)
    key, rest = path[0], path[1:]
    if key == "[]":
        return [_visit(item, rest, fn) for item in node] if isinstance(node, list) else node
    if isinstance(node, dict) and key in node:
        node = dict(node)
        node[key] = _visit(node[key], rest, fn)
    return node


def shift_to_now(events: list[dict], now: datetime | None = None) -> list[dict]:
    """Copies of ``events`` with every schema timestamp moved so the latest ``timestamp`` is ``now``.

    Offsets between all timestamps (event times, start/end, deploy/issue times) are kept.
    """
    now = now or datetime.now(UTC)
    latest = max(parse_rfc3339(event["timestamp"]) for event in events)
    delta: timedelta = now - latest

    def move(value):
        if not isinstance(value, str):
            return value
        try:
            return _format_time(parse_rfc3339(value) + delta, value)
        except ValueError:
            return value

    shifted = []
    for event in events:
        moved = copy.deepcopy(event)
        for path in _timestamp_paths(log_type_of(event) or ""):
            moved = _visit(moved, path, move)
        shifted.append(moved)
    return shifted


# ------------------------------------------------------------------------------------------ sending
@dataclass(frozen=True)
class RetryPolicy:
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


# --------------------------------------------------------------------------------------------- CLI
def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "send",
        help="post HMAC-signed Tracebit events to a Panther HTTP source (onboarding check)",
        description="Post HMAC-signed Tracebit events to a Panther HTTP source as NDJSON, in batches within "
        "its size limit (headers included). Default events: the bundled sample alert, alert summary and "
        "health check, with timestamps moved to now.",
    )
    parser.add_argument("files", nargs="*", metavar="FILES", help=".jsonl / JSON-array files or folders")
    parser.add_argument(
        "--url", required=True, help="the HTTP source URL (Panther: Log Sources > your source)"
    )
    add_secret_arguments(parser, required=False)
    parser.add_argument(
        "--signature-encoding",
        choices=ENCODINGS,
        default=DEFAULT_ENCODING,
        help="encoding of the HMAC-SHA256 digest in X-Tracebit-Signature-256 (default: hex; Panther does "
        "not document which it expects)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the batches and signatures, send nothing"
    )
    parser.add_argument(
        "--as-stored",
        action="store_true",
        help="send the bundled samples exactly as stored (no timestamp shift, no fresh ids)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"request size limit, headers included (default {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--headroom",
        type=_non_negative_int,
        default=DEFAULT_HEADROOM,
        help=f"bytes kept free for headers added on the way (default {DEFAULT_HEADROOM})",
    )
    parser.add_argument("--max-attempts", type=_positive_int, default=DEFAULT_MAX_ATTEMPTS)
    parser.add_argument(
        "--backoff", type=_non_negative_float, default=DEFAULT_BACKOFF, help="first retry delay"
    )
    parser.add_argument("--max-backoff", type=_non_negative_float, default=DEFAULT_MAX_BACKOFF)
    parser.add_argument(
        "--max-retry-time",
        type=_non_negative_float,
        default=DEFAULT_MAX_RETRY_TIME,
        help="per batch, seconds",
    )
    parser.add_argument(
        "--timeout", type=_positive_float, default=DEFAULT_TIMEOUT, help="per request, seconds"
    )
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(text)
    return value


def run(args: argparse.Namespace, *, sleep: Callable[[float], None] = time.sleep) -> int:
    target = Target.parse(args.url)
    events = read_events(args.files) if args.files else sample_events(as_stored=args.as_stored)
    secret: Secret | None = None
    if args.secret_env or args.secret_file:
        secret = load_secret(args.secret_env, args.secret_file)
    elif not args.dry_run:
        raise UserError("no secret: give --secret-env NAME or --secret-file PATH")

    budget = args.max_request_bytes - args.headroom
    if budget <= 0:
        raise UserError("--headroom must be smaller than --max-request-bytes")
    encoding = args.signature_encoding
    batches = plan_batches(events, lambda n: head_size(target, n, encoding) + n, budget)
    total = len(events)
    if args.dry_run:
        print(
            f"dry run: would POST {total} events in {len(batches)} batch(es) to {target.url} (nothing sent)"
        )
        print(
            f"limit {args.max_request_bytes} bytes per request including headers, {args.headroom} kept free "
            f"for proxies; signature: HMAC-SHA256, {encoding}"
        )
        for number, batch in enumerate(batches, 1):
            body = batch.body
            head = head_size(target, len(body), encoding)
            counts = ", ".join(f"{batch.log_types.count(t)} {t}" for t in dict.fromkeys(batch.log_types))
            signature = sign(secret, body, encoding) if secret else "(no secret given: not signed)"
            print(
                f"batch {number}/{len(batches)}: {len(batch.lines)} events ({counts}); body {len(body)} bytes"
                f" + headers {head} = {len(body) + head} bytes"
            )
            print(f"  {SIGNATURE_HEADER}: {signature}")
        return 0

    assert secret is not None
    sender = Sender(
        target,
        secret,
        encoding=encoding,
        retry=RetryPolicy(args.max_attempts, args.backoff, args.max_backoff, args.max_retry_time),
        timeout=args.timeout,
        sleep=sleep,
    )
    sent = 0
    for number, batch in enumerate(batches, 1):
        label = f"batch {number}/{len(batches)}"
        try:
            resp = sender.deliver(batch.body, label)
        except DeliveryError as err:
            print(f"tracebit-pack: send failed: {err}", file=sys.stderr)
            print(
                f"delivered {sent} of {total} events ({number - 1} of {len(batches)} batches)",
                file=sys.stderr,
            )
            return 1
        sent += len(batch.lines)
        print(f"{label}: {len(batch.lines)} events, {len(batch.body)} bytes -> HTTP {resp.status}")
    print(f"sent {sent} events in {len(batches)} batch(es) to {target.url}")
    return 0
