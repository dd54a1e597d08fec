"""send / receive / replay against hostile input and hostile peers, over loopback only.

Each test reproduces one way the transport used to fail: a Unicode line separator inside an event,
a listen backlog too short for 64 senders, a client trickling bytes, oversize headers, a
smuggling-shaped Content-Length, planted symlinks, a failed write mid-batch, a lost answer that
was retried into a duplicate. Every loop and wait is bounded (counts and socket timeouts).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import stat
import threading
import uuid
from pathlib import Path

import pytest
from http_peers import POLL_INTERVAL, SECRET, RawPeer, sample

from tracebit_pack.cli.main import main
from tracebit_pack.errors import UserError
from tracebit_pack.http import send
from tracebit_pack.http.contract import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from tracebit_pack.http.receive import LISTEN_BACKLOG, Receiver
from tracebit_pack.http.request import Target
from tracebit_pack.http.send import DeliveryError, RetryPolicy, Sender
from tracebit_pack.replay import replay
from tracebit_pack.text import visible

TIMEOUT = 10.0  # client socket timeout: the bound on every wait below
SEPARATORS = "line\u2028para\u2029next\u0085end"


def signed_request(body: bytes, extra: str = "", length: str | None = None) -> bytes:
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
        f"{SIGNATURE_HEADER}: {sign(SECRET, body)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


# ------------------------------------------------------------------ Unicode line separators (3)
def test_round_trip_keeps_u2028_u2029_u0085(receiver, secret_env, tmp_path):
    alert = sample("Tracebit.Alert")
    alert["message"] = SEPARATORS
    alert["event"]["request"]["user_agent"]["raw"] = SEPARATORS
    source = tmp_path / "to_send.jsonl"
    source.write_text(json.dumps(alert, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["send", str(source), "--url", receiver.url, "--secret-env", secret_env]) == 0
    stored = (receiver.out_dir / "Tracebit.Alert.jsonl").read_bytes()
    assert stored.isascii() and stored.count(b"\n") == 1  # ASCII-escaped, one line
    report = replay(receiver.out_dir)
    assert report.events_by_log_type == {"Tracebit.Alert": 1} and report.skipped.total == 0
    (alert,) = report.alerts
    assert alert.alert_context["message"] == SEPARATORS
    assert alert.alert_context["user_agent"] == SEPARATORS


def test_two_event_ndjson_request_with_raw_u2028_is_accepted(receiver):
    first, second = sample(), sample()
    first["discriminator"]["subtype"] = SEPARATORS
    body = (json.dumps(first, ensure_ascii=False) + "\n" + json.dumps(second) + "\n").encode()
    assert status_of(exchange(receiver.port, signed_request(body))) == 200
    assert receiver.stored["Tracebit.HealthCheck"] == 2


# -------------------------------------------------------------------------- receiver (4)
def test_64_concurrent_senders_lose_nothing_and_store_nothing_twice(receiver):
    """Raw http.client, no retries: any reset or refused connection would be a lost request."""
    senders, per_sender = 64, 4
    failures: list[str] = []
    start = threading.Barrier(senders, timeout=TIMEOUT)

    def run(number: int) -> None:
        try:
            start.wait()
        except threading.BrokenBarrierError:
            failures.append("barrier")
            return
        for index in range(per_sender):
            event = sample()
            event["discriminator"]["subtype"] = f"sender-{number}-{index}"
            body = json.dumps(event).encode() + b"\n"
            conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=TIMEOUT)
            try:
                conn.request("POST", "/", body, {SIGNATURE_HEADER: sign(SECRET, body)})
                status = conn.getresponse().status
                if status != 200:
                    failures.append(f"HTTP {status}")
            except OSError as err:
                failures.append(repr(err))
            finally:
                conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert receiver._server.request_queue_size == LISTEN_BACKLOG >= 128
    assert not failures, failures[:5]
    lines = (receiver.out_dir / "Tracebit.HealthCheck.jsonl").read_text().split("\n")[:-1]
    subtypes = [json.loads(line)["discriminator"]["subtype"] for line in lines]
    assert len(subtypes) == len(set(subtypes)) == senders * per_sender


def test_trickling_client_is_cut_off_at_the_request_deadline(tmp_path):
    rcv = Receiver(SECRET, tmp_path, quiet=True, request_timeout=0.5, poll_interval=POLL_INTERVAL)
    with rcv, socket.create_connection(("127.0.0.1", rcv.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n")
        answer = b""
        for _ in range(40):  # one header byte every 0.1 s: each read is quick, the whole is not
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                answer = sock.recv(65536)
                break
            sock.sendall(b"X")
    assert status_of(answer) == 408


def test_requests_beyond_the_cap_wait_for_a_free_slot(tmp_path):
    cap = {"max_connections": 2, "request_timeout": 1.0, "poll_interval": POLL_INTERVAL}
    with Receiver(SECRET, tmp_path, quiet=True, **cap) as rcv:
        busy = [socket.create_connection(("127.0.0.1", rcv.port), timeout=TIMEOUT) for _ in range(2)]
        try:
            for sock in busy:  # a request started, never finished: each holds a slot
                sock.sendall(b"POST / HTTP/1.1\r\n")
            body = json.dumps(sample()).encode()
            third = exchange(rcv.port, signed_request(body))
            # The third request was served only once a busy one had been cut off (408) and freed
            # its slot; without a cap it is served at once, while both busy ones still wait.
            answered, _, _ = select.select(busy, [], [], 0)
            assert status_of(third) == 200
            assert answered
            assert all(status_of(sock.recv(65536)) == 408 for sock in busy)
        finally:
            for sock in busy:
                sock.close()


def test_idle_connections_hold_no_slot(tmp_path):
    cap = {"max_connections": 2, "request_timeout": 2.0, "poll_interval": POLL_INTERVAL}
    with Receiver(SECRET, tmp_path, quiet=True, **cap) as rcv:
        idle = [socket.create_connection(("127.0.0.1", rcv.port), timeout=TIMEOUT) for _ in range(64)]
        try:
            body = json.dumps(sample()).encode()
            answer = exchange(rcv.port, signed_request(body))
            # Served while every idle connection still waits: none has been cut off to make room.
            answered, _, _ = select.select(idle, [], [], 0)
            assert status_of(answer) == 200
            assert not answered
            assert all(status_of(sock.recv(65536)) == 408 for sock in idle)  # then each times out
        finally:
            for sock in idle:
                sock.close()


def test_header_bytes_count_toward_the_limit_as_they_arrive(tmp_path):
    rcv = Receiver(SECRET, tmp_path, quiet=True, max_bytes=10_000, poll_interval=POLL_INTERVAL)
    with rcv, socket.create_connection(("127.0.0.1", rcv.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n")
        sock.sendall(b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(20)))
        # no blank line: a receiver that waits for the end of the headers never answers
        answer = sock.recv(65536)
    assert status_of(answer) == 413


def test_request_log_escapes_control_characters(tmp_path, capsys):
    with Receiver(SECRET, tmp_path, poll_interval=POLL_INTERVAL) as rcv:
        exchange(rcv.port, b"GET /\x1b]0;owned\x07\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n")
    err = capsys.readouterr().err
    assert "receive:" in err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;owned\\x07" in err
    assert visible("a\x00b\x9bc\u2028") == "a\\x00b\\x9bc\\u2028"


@pytest.mark.parametrize(
    "body",
    [
        b'{"discriminator":{"type":"health_check"},"deep":' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"discriminator":{"type":"health_check"},"bad":"\\ud800"}',
        b'{"discriminator":{"type":"health_check"},"big":' + b"9" * 5000 + b"}",
    ],
    ids=["3000-deep", "lone-surrogate", "5000-digit-int"],
)
def test_signed_hostile_json_is_answered_400(receiver, body):
    assert status_of(exchange(receiver.port, signed_request(body))) == 400
    assert not list(receiver.out_dir.glob("*.jsonl"))


def test_failed_write_mid_batch_stores_nothing_and_answers_500(receiver):
    (receiver.out_dir / "Tracebit.HealthCheck.jsonl").mkdir()  # the second file cannot be opened
    body = (json.dumps(sample("Tracebit.Alert")) + "\n" + json.dumps(sample()) + "\n").encode()
    assert status_of(exchange(receiver.port, signed_request(body))) == 500
    assert (receiver.out_dir / "Tracebit.Alert.jsonl").read_bytes() == b""
    assert sum(receiver.stored.values()) == 0


@pytest.mark.parametrize(
    ("extra", "length"),
    [("Content-Length: 5\r\n", None), ("", "+{n}"), ("", "{n_}"), ("", " ")],
    ids=["two-differing", "plus-sign", "underscore", "blank"],
)
def test_content_length_must_be_one_well_formed_value(receiver, extra, length):
    body = json.dumps(sample()).encode()
    n = str(len(body))
    given = None if length is None else length.format(n=n, n_=n[0] + "_" + n[1:])
    answer = exchange(receiver.port, signed_request(body, extra, given))
    assert status_of(answer) == 400
    assert sum(receiver.stored.values()) == 0


def test_output_files_do_not_follow_planted_symlinks(tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = out / "Tracebit.HealthCheck.jsonl"
    planted.symlink_to(victim)
    with pytest.raises(UserError, match="not a regular file"):  # planted before: refused at start
        Receiver(SECRET, out, quiet=True, poll_interval=POLL_INTERVAL).start()
    planted.unlink()
    with Receiver(SECRET, out, quiet=True, poll_interval=POLL_INTERVAL) as rcv:
        planted.symlink_to(victim)  # planted while it runs: never followed
        answer = exchange(rcv.port, signed_request(json.dumps(sample()).encode()))
    assert status_of(answer) == 500
    assert victim.read_text() == "precious\n"


def test_fifo_in_the_output_folder_is_refused_without_blocking(tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    fifo = out / "Tracebit.Alert.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="Tracebit.Alert.jsonl is not a regular file"):
        Receiver(SECRET, out, quiet=True, poll_interval=POLL_INTERVAL).start()
    fifo.unlink()
    with Receiver(SECRET, out, quiet=True, poll_interval=POLL_INTERVAL) as rcv:
        os.mkfifo(fifo)  # appears while it runs: that request fails at once, later ones still work
        alert = exchange(rcv.port, signed_request(json.dumps(sample("Tracebit.Alert")).encode()))
        health = exchange(rcv.port, signed_request(json.dumps(sample()).encode()))
    assert (status_of(alert), status_of(health)) == (500, 200)


def test_nan_body_is_answered_400(receiver):
    body = b'{"discriminator":{"type":"health_check"},"is_healthy":NaN}'
    assert status_of(exchange(receiver.port, signed_request(body))) == 400
    assert sum(receiver.stored.values()) == 0


def test_output_folder_and_files_are_private(tmp_path, receiver):
    assert status_of(exchange(receiver.port, signed_request(json.dumps(sample()).encode()))) == 200
    assert stat.S_IMODE(os.stat(receiver.out_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(receiver.out_dir / "Tracebit.HealthCheck.jsonl").st_mode) == 0o600


def test_shared_or_symlinked_output_folder_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UserError, match="others can write"):
        Receiver(SECRET, shared, quiet=True).start()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "private", target_is_directory=True)
    (tmp_path / "private").mkdir(mode=0o700)
    with pytest.raises(UserError, match="symlink"):
        Receiver(SECRET, link, quiet=True).start()


def test_repeated_idempotency_key_is_stored_once(receiver):
    body = json.dumps(sample()).encode()
    key = f"{IDEMPOTENCY_HEADER}: {uuid.uuid4().hex}\r\n"
    assert status_of(exchange(receiver.port, signed_request(body, key))) == 200
    assert status_of(exchange(receiver.port, signed_request(body, key))) == 200
    assert receiver.stored["Tracebit.HealthCheck"] == 1
    other = json.dumps({**sample(), "is_healthy": False}).encode()  # same key, another body: stored
    assert status_of(exchange(receiver.port, signed_request(other, key))) == 200
    assert receiver.stored["Tracebit.HealthCheck"] == 2


def test_request_line_over_the_limit_is_answered_413(tmp_path):
    with Receiver(SECRET, tmp_path, quiet=True, max_bytes=1_000, poll_interval=POLL_INTERVAL) as rcv:
        answer = exchange(rcv.port, b"POST /" + b"a" * 2_000 + b" HTTP/1.1\r\n\r\n")
    assert status_of(answer) == 413


# ---------------------------------------------------------------------------------- sender (5)
def make_sender(url: str, attempts: int = 4, timeout: float = TIMEOUT) -> Sender:
    policy = RetryPolicy(max_attempts=attempts, backoff=0.001, max_backoff=0.01, max_retry_time=5.0)
    return Sender(
        Target.parse(url), SECRET, retry=policy, timeout=timeout, sleep=lambda s: None, log=lambda m: None
    )


def test_timeout_bounds_the_whole_request(tmp_path):
    sent: list[int] = []

    def trickle(handler, head, body):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):  # one header byte every 0.1 s, for at most 10 s
            try:
                handler.wfile.write(b"X")
                handler.wfile.flush()
            except OSError:
                break
            sent.append(1)
            readable, _, _ = select.select([handler.connection], [], [], 0.1)
            if readable and not handler.connection.recv(1):
                break  # the client hung up

    with RawPeer(trickle) as peer:
        sender = make_sender(peer.url, attempts=1, timeout=0.5)
        with pytest.raises(DeliveryError, match="timeout"):
            sender.deliver(b"{}\n")
    assert len(sent) < 100  # the sender hung up long before the server stopped trickling


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/a b", "http://[::1/", "http://exa mple.com/", "http://ex\x01ample.com/"]
)
def test_malformed_url_is_a_user_error_not_a_retry(url):
    with pytest.raises(UserError):
        Target.parse(url)


def test_invalid_url_at_request_time_is_not_retried():
    with RawPeer(lambda *a: None) as peer:
        port = peer.server_address[1]
        sender = Sender(
            Target("http", "127.0.0.1", port, f"127.0.0.1:{port}", "/a\x7fb"),
            SECRET,
            retry=RetryPolicy(max_attempts=4, backoff=0.001),
            sleep=lambda s: None,
            log=lambda m: None,
        )
        with pytest.raises(DeliveryError, match="invalid URL"):
            sender.deliver(b"{}\n")
    assert sender.attempts == 1


def test_lost_answer_after_the_body_was_sent_is_not_retried():
    def hang_up(handler, head, body):
        handler.connection.shutdown(socket.SHUT_RDWR)

    with RawPeer(hang_up) as peer:
        sender = make_sender(peer.url, attempts=4)
        with pytest.raises(DeliveryError, match="not retried"):
            sender.deliver(b"{}\n")
    assert len(peer.heads) == 1


def test_retries_carry_the_same_idempotency_key():
    answers = [b"HTTP/1.1 503 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"]

    def flaky(handler, head, body):
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        handler.wfile.write(answers.pop() if answers else ok)

    with RawPeer(flaky) as peer:
        make_sender(peer.url).deliver(b"{}\n")
    keys = {
        h for head in peer.heads for h in head.split(b"\r\n") if h.startswith(IDEMPOTENCY_HEADER.encode())
    }
    assert len(peer.heads) == 2 and len(keys) == 1


def test_sender_retries_into_receiver_store_once(receiver):
    """End to end: the same batch delivered twice (a retry) is stored once."""
    sender = make_sender(receiver.url)
    body = json.dumps(sample()).encode() + b"\n"
    fields = sender.headers_for(body)
    for _ in range(2):
        send._post(sender.target, fields, body, TIMEOUT)
    assert receiver.stored["Tracebit.HealthCheck"] == 1


def test_handler_does_not_import_the_receiver():
    """handler <- receive only: the handler names what it needs in a Protocol, not the Receiver."""
    import ast

    from tracebit_pack.http import handler

    tree = ast.parse(Path(handler.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "tracebit_pack.http.receive" not in imported
