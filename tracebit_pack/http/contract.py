"""The Panther HTTP source contract shared by ``send`` and ``receive``.

What the Panther docs state (see docs/onboarding.md): a Tracebit source takes ``POST`` requests of at
most 1 MB *including headers*, authenticated with HMAC-SHA256 in the ``X-Tracebit-Signature-256``
header. What they do not state: the encoding of the digest (hex? base64? a ``sha256=`` prefix?). We
sign the raw request body and default to a bare lower-case hex digest; ``ENCODINGS`` lists the others.

The shared secret only ever lives in a :class:`Secret`, whose ``repr``/``str`` never show it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from tracebit_pack.errors import UserError

SIGNATURE_HEADER = "X-Tracebit-Signature-256"
# A fresh value per batch, the same on its retries: a receiver that honours it stores a batch once.
IDEMPOTENCY_HEADER = "Idempotency-Key"
# 1 MB read conservatively as 10^6 bytes: the whole request (request line + headers + body).
DEFAULT_MAX_REQUEST_BYTES = 1_000_000

# Digest encodings for the signature header. Panther does not document which it expects.
ENCODINGS = ("hex", "base64", "sha256=hex", "sha256=base64")
DEFAULT_ENCODING = "hex"

# discriminator.type -> Panther log type (and the JSONL file name used by receive / replay).
LOG_TYPE_BY_DISCRIMINATOR = {
    "tracebit_alert_log": "Tracebit.Alert",
    "tracebit_alert_summary": "Tracebit.AlertSummary",
    "health_check": "Tracebit.HealthCheck",
}
LOG_TYPES = tuple(LOG_TYPE_BY_DISCRIMINATOR.values())

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


class Secret:
    """An HMAC key that cannot be printed by accident (repr, str, format and logging show ``***``)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes | str) -> None:
        key = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if not key:
            raise UserError("the HMAC secret is empty")
        self._key = key

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):  # never pickle the key into a report or a subprocess by accident
        raise TypeError("Secret cannot be pickled")

    def digest(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def redact(self, text: str) -> str:
        """``text`` with any occurrence of the secret replaced (for echoing server responses)."""
        try:
            plain = self._key.decode("utf-8")
        except UnicodeDecodeError:
            return text
        return text.replace(plain, "***")


def encode_digest(digest: bytes, encoding: str = DEFAULT_ENCODING) -> str:
    if encoding not in ENCODINGS:
        raise UserError(f"unknown signature encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")
    text = base64.b64encode(digest).decode("ascii") if encoding.endswith("base64") else digest.hex()
    return "sha256=" + text if encoding.startswith("sha256=") else text


def sign(secret: Secret, body: bytes, encoding: str = DEFAULT_ENCODING) -> str:
    """The ``X-Tracebit-Signature-256`` value for ``body``: HMAC-SHA256 of the raw body bytes."""
    return encode_digest(secret.digest(body), encoding)


def signature_length(encoding: str) -> int:
    return len(encode_digest(b"\0" * 32, encoding))


def verify(secret: Secret, body: bytes, signature: str | None, encodings=ENCODINGS) -> bool:
    """Constant-time check of ``signature`` against each accepted encoding of the body's HMAC."""
    if not signature:
        return False
    given = signature.strip().encode("utf-8", "replace")
    digest = secret.digest(body)
    ok = False
    for encoding in encodings:  # compare against every encoding: no early exit, no timing hint
        ok |= hmac.compare_digest(given, encode_digest(digest, encoding).encode("ascii"))
    return ok


def load_secret(env_name: str | None = None, file: str | Path | None = None) -> Secret:
    """Read the secret from an environment variable (by name) or a file; errors never echo it."""
    if env_name and file:
        raise UserError("give only one of --secret-env and --secret-file")
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            shown = env_name if _ENV_NAME.fullmatch(env_name) else "given to --secret-env"
            raise UserError(
                f"environment variable {shown} is not set or empty "
                "(--secret-env takes the variable's name, not the secret)"
            )
        return Secret(value.strip())
    if file:
        path = Path(file)
        try:
            value = path.read_bytes()
        except OSError as err:
            raise UserError(f"cannot read --secret-file {path}: {err.strerror}") from None
        value = value.strip()
        if not value:
            raise UserError(f"--secret-file {path} is empty")
        return Secret(value)
    raise UserError("no secret: give --secret-env NAME or --secret-file PATH")


def add_secret_arguments(parser, required: bool) -> None:
    """``--secret-env`` / ``--secret-file``, plus a trap that refuses a secret on the command line."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--secret-env", metavar="NAME", help="environment variable holding the HMAC secret")
    group.add_argument("--secret-file", metavar="PATH", help="file holding the HMAC secret")
    parser.add_argument("--secret", nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)


class _RefuseSecret(argparse.Action):
    """Exact ``--secret`` option so argparse never echoes ``--secret VALUE`` in an error message."""

    def __call__(self, parser, namespace, values, option_string=None):
        raise argparse.ArgumentError(
            self,
            "a secret is never accepted on the command line; use --secret-env NAME or --secret-file PATH",
        )


def log_type_of(event: object) -> str | None:
    """The Panther log type of a Tracebit event, from ``discriminator.type`` (None if unknown)."""
    if not isinstance(event, dict):
        return None
    discriminator = event.get("discriminator")
    if not isinstance(discriminator, dict):
        return None
    return LOG_TYPE_BY_DISCRIMINATOR.get(discriminator.get("type"))  # type: ignore[arg-type]


def dumps_line(event: dict) -> bytes:
    """One event as a compact, ASCII-only JSON line (no trailing newline).

    ASCII escapes keep every reader safe: no raw U+2028 / U+2029 / U+0085 (line breaks to
    ``str.splitlines``), no encoding question, and a lone surrogate cannot make the write fail.
    """
    return json.dumps(event, ensure_ascii=True, separators=(",", ":")).encode("ascii")
