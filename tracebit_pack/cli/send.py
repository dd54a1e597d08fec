"""``tracebit-pack send``: post HMAC-signed Tracebit events to a Panther HTTP source.

Events (by default the bundled samples in ``tracebit_pack/http/samples/``, timestamps moved to now) are sent
as newline-delimited JSON, in batches whose *whole request* (request line + headers + body) stays
within the source's limit, each body signed with HMAC-SHA256 in ``X-Tracebit-Signature-256``.
Batching: ``tracebit_pack.http.request``; events: ``tracebit_pack.http.events``; delivery and
retries: ``tracebit_pack.http.send``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from tracebit_pack.errors import UserError
from tracebit_pack.http import events
from tracebit_pack.http.contract import (
    DEFAULT_ENCODING,
    DEFAULT_MAX_REQUEST_BYTES,
    ENCODINGS,
    SIGNATURE_HEADER,
    Secret,
    add_secret_arguments,
    load_secret,
    sign,
)
from tracebit_pack.http.request import DEFAULT_HEADROOM, Batch, Target, head_size, plan_batches
from tracebit_pack.http.send import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_RETRY_TIME,
    DEFAULT_TIMEOUT,
    DeliveryError,
    RetryPolicy,
    Sender,
)


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
    """Plan the batches from the limit; print them (``--dry-run``) or deliver them in order."""
    target = Target.parse(args.url)
    to_send = events.read_events(args.files) if args.files else events.sample_events(as_stored=args.as_stored)
    secret: Secret | None = None
    if args.secret_env or args.secret_file:
        secret = load_secret(args.secret_env, args.secret_file)
    elif not args.dry_run:
        raise UserError("no secret: give --secret-env NAME or --secret-file PATH")

    budget = args.max_request_bytes - args.headroom
    if budget <= 0:
        raise UserError("--headroom must be smaller than --max-request-bytes")
    encoding = args.signature_encoding
    batches = plan_batches(to_send, lambda n: head_size(target, n, encoding) + n, budget)
    if args.dry_run:
        _print_plan(args, target, batches, len(to_send), secret)
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
    return _deliver_all(sender, batches, len(to_send))


def _print_plan(args: argparse.Namespace, target: Target, batches: list[Batch], total: int, secret) -> None:
    """``--dry-run``: the batches, their sizes (headers included) and signatures; nothing is sent."""
    encoding = args.signature_encoding
    print(f"dry run: would POST {total} events in {len(batches)} batch(es) to {target.url} (nothing sent)")
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


def _deliver_all(sender: Sender, batches: list[Batch], total: int) -> int:
    """Deliver the batches in order; on the first failure say how far it got and return 1."""
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
    print(f"sent {sent} events in {len(batches)} batch(es) to {sender.target.url}")
    return 0
