"""``tracebit-pack receive``: run the local HMAC-checking stand-in for a Panther HTTP source until
Ctrl-C or SIGTERM (``tracebit_pack.http.receive``), storing events for ``tracebit-pack replay``."""

from __future__ import annotations

import argparse
import signal
import threading

from tracebit_pack.errors import UserError
from tracebit_pack.http.contract import (
    DEFAULT_MAX_REQUEST_BYTES,
    ENCODINGS,
    add_secret_arguments,
    load_secret,
)
from tracebit_pack.http.receive import Receiver


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
    """Serve until SIGINT or SIGTERM, then say what was stored."""
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
