"""The exact HTTP request ``send`` makes, and the split of events into batches that fit the limit.

Requests go out through ``http.client`` with exactly the headers listed in :func:`request_headers`,
so :func:`head_size` is the real size of the request head, and :func:`plan_batches` keeps every
*whole request* (request line + headers + body) within the source's limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tracebit_pack import __version__
from tracebit_pack.errors import UserError
from tracebit_pack.http.contract import (
    DEFAULT_ENCODING,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    dumps_line,
    log_type_of,
    signature_length,
)

# Room left under the limit for headers a proxy or load balancer may add on the way (X-Forwarded-For...).
DEFAULT_HEADROOM = 2048
CONTENT_TYPE = "application/x-ndjson"
USER_AGENT = f"tracebit-pack/{__version__}"
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]+\]")
_UNSAFE_URL_CHAR = re.compile(r"[\x00-\x20\x7f]")


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
    """Events as NDJSON lines (one request body), with their log types for the dry-run summary."""

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
