"""send / receive over loopback (127.0.0.1, ephemeral ports only).

Every request is bounded: fake servers answer from a finite script, retry loops use a recording
``sleep`` (no real waiting) and small attempt counts, sockets have short timeouts. No assertion
depends on elapsed time.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from http_peers import POLL_INTERVAL, SECRET, SECRET_TEXT, fake_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracebit_pack.cli.main import main
from tracebit_pack.errors import UserError
from tracebit_pack.http import events as http_events
from tracebit_pack.http.contract import (
    DEFAULT_MAX_REQUEST_BYTES,
    ENCODINGS,
    LOG_TYPES,
    SIGNATURE_HEADER,
    Secret,
    load_secret,
    log_type_of,
    sign,
    verify,
)
from tracebit_pack.http.events import load_samples, read_events, shift_to_now
from tracebit_pack.http.receive import Receiver
from tracebit_pack.http.request import (
    DEFAULT_HEADROOM,
    Target,
    head_size,
    plan_batches,
    request_head,
    request_headers,
)
from tracebit_pack.http.send import DeliveryError, RetryPolicy, Sender, parse_retry_after
from tracebit_pack.times import parse_rfc3339

TIMEOUT = 5.0  # socket timeout for every test request


# ---------------------------------------------------------------------------------------- helpers
def post(url: str, body: bytes, headers: dict[str, str] | None = None, method: str = "POST"):
    target = Target.parse(url)
    conn = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT)
    try:
        conn.request(method, target.path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def ndjson(events) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def read_out(folder: Path) -> dict[str, list[dict]]:
    return {
        p.stem: [json.loads(line) for line in p.read_text().split("\n") if line]
        for p in sorted(folder.glob("*.jsonl"))
    }


def make_sender(url: str, sleeps: list[float], **retry) -> Sender:
    policy = RetryPolicy(
        **{"max_attempts": 4, "backoff": 0.001, "max_backoff": 0.01, "max_retry_time": 5.0, **retry}
    )
    return Sender(
        Target.parse(url), SECRET, retry=policy, timeout=TIMEOUT, sleep=sleeps.append, log=lambda m: None
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- signature checks
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_correct_signature_accepted_and_stored(receiver, encoding):
    events = load_samples()
    body = ndjson(events)
    status, _ = post(receiver.url, body, {SIGNATURE_HEADER: sign(SECRET, body, encoding)})
    assert status == 200
    stored = read_out(receiver.out_dir)
    assert sorted(stored) == sorted(LOG_TYPES)
    assert [e for t in LOG_TYPES for e in stored[t]] == events


def test_tampered_body_rejected(receiver):
    body = ndjson(load_samples())
    signature = sign(SECRET, body)
    tampered = body.replace(b"Unclassified", b"BenignPositive")
    assert post(receiver.url, tampered, {SIGNATURE_HEADER: signature})[0] == 401
    assert not list(receiver.out_dir.glob("*.jsonl"))


def test_wrong_secret_rejected(receiver):
    body = ndjson(load_samples())
    assert post(receiver.url, body, {SIGNATURE_HEADER: sign(Secret("another-secret"), body)})[0] == 401
    assert not list(receiver.out_dir.glob("*.jsonl"))


def test_missing_signature_rejected(receiver):
    status, payload = post(receiver.url, ndjson(load_samples()))
    assert status == 401
    assert b"missing" in payload
    assert not list(receiver.out_dir.glob("*.jsonl"))


def test_receiver_can_restrict_encodings(tmp_path):
    body = ndjson(load_samples())
    with Receiver(SECRET, tmp_path, encodings=("hex",), quiet=True, poll_interval=POLL_INTERVAL) as rcv:
        assert post(rcv.url, body, {SIGNATURE_HEADER: sign(SECRET, body, "sha256=hex")})[0] == 401
        assert post(rcv.url, body, {SIGNATURE_HEADER: sign(SECRET, body, "hex")})[0] == 200


def test_verify_rejects_garbage():
    assert not verify(SECRET, b"x", None)
    assert not verify(SECRET, b"x", "")
    assert not verify(SECRET, b"x", "\u00e9" * 64)
    assert verify(SECRET, b"x", sign(SECRET, b"x"))


def test_non_post_is_405(receiver):
    assert post(receiver.url, b"", method="GET")[0] == 405
    assert post(receiver.url, b"", method="PUT")[0] == 405


def test_malformed_or_foreign_body_is_400(receiver):
    for body in (b"{not json\n", b'{"hello": "world"}\n'):
        assert post(receiver.url, body, {SIGNATURE_HEADER: sign(SECRET, body)})[0] == 400
    assert not list(receiver.out_dir.glob("*.jsonl"))


def test_oversize_rejected_from_content_length_before_reading(tmp_path):
    with Receiver(SECRET, tmp_path, max_bytes=10_000, quiet=True, poll_interval=POLL_INTERVAL) as rcv:
        # Announce a huge body but send none: the 413 can only come from Content-Length.
        with socket.create_connection(("127.0.0.1", rcv.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 413")
        # A body just over the limit once headers are counted is also refused.
        body = b"x" * 9_950
        assert post(rcv.url, body, {SIGNATURE_HEADER: sign(SECRET, body)})[0] == 413


# ------------------------------------------------------------------------------------- batching
def _event(size: int, number: int) -> dict:
    return {"discriminator": {"type": "tracebit_alert_log"}, "id": str(number), "pad": "p" * size}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3_000), min_size=1, max_size=60),
    limit=st.integers(min_value=4_000, max_value=20_000),
    encoding=st.sampled_from(ENCODINGS),
    path=st.sampled_from(["/", "/http/0f3c9a1e-58b2-4d7e-b1a0-6c2d8e4f7a90", "/p?x=" + "q" * 300]),
)
def test_batches_never_exceed_limit_headers_included(sizes, limit, encoding, path):
    target = Target.parse("https://logs.example.runpanther.net" + path)
    events = [_event(size, n) for n, size in enumerate(sizes)]
    batches = plan_batches(events, lambda n: head_size(target, n, encoding) + n, limit)
    for batch in batches:
        body = batch.body
        real_head = request_head(target, request_headers(target, len(body), sign(SECRET, body, encoding)))
        assert len(real_head) + len(body) <= limit
    # order and content kept, nothing lost or duplicated
    sent = [json.loads(line) for batch in batches for line in batch.body.splitlines()]
    assert sent == events
    # greedy: the first event of each next batch would not have fitted in the previous one
    for prev, nxt in zip(batches, batches[1:], strict=False):
        grown = prev.body_size + len(nxt.lines[0]) + 1
        assert head_size(target, grown, encoding) + grown > limit


def test_many_large_events_at_the_real_limit():
    target = Target.parse("https://logs.example.runpanther.net/http/0f3c9a1e")
    events = [_event(90_000 + 7_777 * (n % 5), n) for n in range(40)]  # ~4 MB in total
    limit = DEFAULT_MAX_REQUEST_BYTES - DEFAULT_HEADROOM
    batches = plan_batches(events, lambda n: head_size(target, n) + n, limit)
    assert len(batches) >= 4
    for batch in batches:
        body = batch.body
        head = request_head(target, request_headers(target, len(body), sign(SECRET, body)))
        assert len(head) + len(body) <= limit
    assert sum(len(b.lines) for b in batches) == len(events)


def test_event_too_large_alone_is_a_user_error():
    target = Target.parse("http://127.0.0.1:1/")
    with pytest.raises(UserError, match="would exceed"):
        plan_batches([_event(5_000, 0)], lambda n: head_size(target, n) + n, 4_000)


def test_bytes_on_the_wire_match_the_computed_size():
    events = [_event(700 + 13 * n, n) for n in range(50)]
    limit = 6_000
    sleeps: list[float] = []
    with fake_server() as server:
        sender = make_sender(server.url, sleeps)
        batches = plan_batches(events, lambda n: head_size(sender.target, n) + n, limit)
        for batch in batches:
            sender.deliver(batch.body)
    assert len(server.requests) == len(batches) > 5
    received = []
    for (head, body), batch in zip(server.requests, batches, strict=True):
        assert len(head) + len(body) <= limit
        assert len(head) == head_size(sender.target, len(body))  # the computed header size is the real one
        assert body == batch.body
        signature = re.search(rb"\r\nX-Tracebit-Signature-256: ([0-9a-f]{64})\r\n", head).group(1).decode()
        assert verify(SECRET, body, signature, ("hex",))
        received += [json.loads(line) for line in body.splitlines()]
    assert received == events
    assert sleeps == []


# -------------------------------------------------------------------------------------- retries
def test_retries_on_503_then_succeeds():
    sleeps: list[float] = []
    with fake_server([(503, {}, b"busy"), (503, {}, b"busy")]) as server:
        resp = make_sender(server.url, sleeps).deliver(b'{"a":1}\n')
    assert resp.status == 200
    assert len(server.requests) == 3
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]  # exponential


def test_stops_on_400_with_status_and_truncated_body():
    sleeps: list[float] = []
    with fake_server([(400, {}, b"schema mismatch " * 200)]) as server, pytest.raises(DeliveryError) as info:
        make_sender(server.url, sleeps).deliver(b'{"a":1}\n')
    assert len(server.requests) == 1
    assert sleeps == []
    message = str(info.value)
    assert "HTTP 400" in message and "schema mismatch" in message and "(truncated)" in message
    assert len(message) < 800


def test_retry_attempts_are_bounded():
    sleeps: list[float] = []
    with fake_server([(500, {}, b"")] * 10) as server, pytest.raises(DeliveryError, match="after 3 attempts"):
        make_sender(server.url, sleeps, max_attempts=3).deliver(b"{}\n")
    assert len(server.requests) == 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured():
    sleeps: list[float] = []
    with fake_server([(429, {"Retry-After": "3"}, b"slow down")]) as server:
        resp = make_sender(server.url, sleeps).deliver(b"{}\n")
    assert resp.status == 200
    assert sleeps == [3.0]  # the server's delay, not the 0.001 s backoff


def test_retry_after_beyond_the_time_bound_gives_up_without_waiting():
    sleeps: list[float] = []
    with fake_server([(503, {"Retry-After": "3600"}, b"")]) as server, pytest.raises(DeliveryError) as info:
        make_sender(server.url, sleeps, max_retry_time=1.0).deliver(b"{}\n")
    assert "max-retry-time" in str(info.value)
    assert len(server.requests) == 1
    assert sleeps == []


def test_connection_errors_are_retried_and_bounded():
    sleeps: list[float] = []
    sender = make_sender(f"http://127.0.0.1:{closed_port()}/", sleeps, max_attempts=3)
    with pytest.raises(DeliveryError, match="connection error"):
        sender.deliver(b"{}\n")
    assert sender.attempts == 3
    assert len(sleeps) == 2


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 10) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0


# -------------------------------------------------------------------------------- secret hygiene
def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET_TEXT not in text


def test_secret_never_in_reprs_or_messages(tmp_path):
    sender = make_sender("http://127.0.0.1:1/", [])
    rcv = Receiver(SECRET, tmp_path, quiet=True)
    _assert_no_secret(repr(SECRET), str(SECRET), f"{SECRET}", repr(sender), repr(rcv), repr(sender.__dict__))
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(SECRET)
    # a server echoing the secret back is redacted in the error
    echo = fake_server([(400, {}, f"bad key {SECRET_TEXT}".encode())])
    with echo as server, pytest.raises(DeliveryError) as info:
        make_sender(server.url, []).deliver(b"{}\n")
    _assert_no_secret(str(info.value), repr(info.value))
    assert "***" in str(info.value)


def test_secret_not_in_output_dry_run(secret_env, capsys):
    assert (
        main(["send", "--url", "https://logs.example.net/http/abc", "--secret-env", secret_env, "--dry-run"])
        == 0
    )
    out, err = capsys.readouterr()
    _assert_no_secret(out, err)
    assert "batch 1/1: 3 events" in out
    assert re.search(rf"{SIGNATURE_HEADER}: [0-9a-f]{{64}}", out)


def test_secret_not_in_output_on_success_and_errors(secret_env, receiver, tmp_path, capsys):
    assert main(["send", "--url", receiver.url, "--secret-env", secret_env]) == 0
    # wrong secret -> 401 from the receiver, exit 1
    wrong = tmp_path / "wrong.key"
    wrong.write_text("not-the-right-one\n")
    assert main(["send", "--url", receiver.url, "--secret-file", str(wrong)]) == 1
    # 400 from a server; 503 until retries run out
    with fake_server([(400, {}, b"nope")]) as server:
        assert main(["send", "--url", server.url, "--secret-env", secret_env]) == 1
    with fake_server([(503, {}, b"")] * 3) as server:
        args = ["--max-attempts", "2", "--backoff", "0.01", "--max-retry-time", "1"]
        assert main(["send", "--url", server.url, "--secret-env", secret_env, *args]) == 1
    # a secret on the command line is refused without being echoed
    assert main(["send", "--url", receiver.url, "--secret", SECRET_TEXT]) == 2
    assert main(["send", "--url", receiver.url, f"--secret={SECRET_TEXT}"]) == 2
    # the secret passed as the env var *name* by mistake is not echoed either
    assert main(["send", "--url", receiver.url, "--secret-env", SECRET_TEXT]) == 2
    out, err = capsys.readouterr()
    _assert_no_secret(out, err)
    assert "HTTP 401" in err and "HTTP 400" in err and "gave up after 2 attempts" in err
    assert "never accepted on the command line" in err


def test_receiver_logs_do_not_contain_the_secret(tmp_path, capsys):
    with Receiver(SECRET, tmp_path, poll_interval=POLL_INTERVAL) as rcv:  # not quiet: logs each request
        body = ndjson(load_samples())
        post(rcv.url, body, {SIGNATURE_HEADER: sign(SECRET, body)})
        post(rcv.url, body, {SIGNATURE_HEADER: SECRET_TEXT})
    out, err = capsys.readouterr()
    assert "POST" in err
    _assert_no_secret(out, err)


def test_load_secret_errors():
    with pytest.raises(UserError, match="not set"):
        load_secret(env_name="TB_SURELY_UNSET_VARIABLE")
    with pytest.raises(UserError, match="no secret"):
        load_secret()


# ------------------------------------------------------------------------------------ input files
def test_files_jsonl_and_json_array(tmp_path, secret_env, capsys):
    events = load_samples()
    (tmp_path / "a.jsonl").write_text(ndjson(events[:2]).decode())
    (tmp_path / "b.json").write_text(json.dumps(events[2:], indent=2))
    assert read_events([tmp_path / "a.jsonl", tmp_path / "b.json"]) == events
    assert read_events([tmp_path]) == events


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"discriminator": {"type": "health_check"}}\n{broken\n', "bad.jsonl:2:2: malformed JSON"),
        ('[{"discriminator": {"type": "health_check"}},', "malformed JSON array"),
        ('{"eventName": "GetObject"}\n', "not a Tracebit event"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_input_is_one_clear_error(tmp_path, secret_env, capsys, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    assert main(["send", "--url", "http://127.0.0.1:1/", "--secret-env", secret_env, str(bad)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("tracebit-pack: error:") and message in err
    assert len(err.strip().splitlines()) == 1
    _assert_no_secret(out, err)


# ---------------------------------------------------------------------------------------- samples
def test_samples_conform_to_their_schemas():
    try:
        from tracebit_pack.logs.validate import validate_event
    except ImportError:  # validate is a colleague's module; fall back to the required fields
        validate_event = None
    samples = load_samples()
    assert [log_type_of(e) for e in samples] == list(LOG_TYPES)
    for event in samples + shift_to_now(samples):
        log_type = log_type_of(event)
        if validate_event:
            assert validate_event(event, log_type) == [], log_type
        else:
            assert {"discriminator", "timestamp"} <= set(event)
    alert = samples[0]
    assert alert["discriminator"]["subtype"] == "canary_resource_accessed"
    assert alert["canary"]["aws"]["arn"].startswith("arn:aws:s3:::")
    assert ":assumed-role/" in alert["principal"]["aws"]["arn"]


def test_shift_to_now_keeps_offsets():
    from datetime import UTC, datetime

    samples = load_samples()
    now = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    shifted = shift_to_now(samples, now=now)
    parse = parse_rfc3339
    assert max(parse(e["timestamp"]) for e in shifted) == now
    delta = now - max(parse(e["timestamp"]) for e in samples)
    summary, original = shifted[1], samples[1]
    for key in ("timestamp", "start_time", "end_time"):
        assert parse(summary[key]) - parse(original[key]) == delta
    deployed = summary["canaries_accessed"][0]["deployed_at"]
    assert parse(deployed) - parse(original["canaries_accessed"][0]["deployed_at"]) == delta
    assert shifted[0]["timestamp"].endswith("Z")
    assert samples == load_samples()  # the input was not modified


def test_sample_events_get_fresh_consistent_ids():
    stored = load_samples()
    first, second = http_events.sample_events(), http_events.sample_events()
    alert, summary = first[0], first[1]
    assert alert["alert_id"] == summary["alert_id"] != stored[0]["alert_id"]
    assert alert["alert_id"] != second[0]["alert_id"]
    assert alert["id"] != stored[0]["id"]
    assert summary["tracebit_portal_url"].endswith(summary["alert_id"])
    assert http_events.sample_events(as_stored=True) == stored


# ------------------------------------------------------------------------------------ end to end
def test_send_samples_to_receive_end_to_end(receiver, secret_env, monkeypatch, capsys):
    sent: list[list[dict]] = []
    original = http_events.sample_events
    monkeypatch.setattr(http_events, "sample_events", lambda **kw: sent.append(original(**kw)) or sent[-1])
    assert main(["send", "--url", receiver.url, "--secret-env", secret_env]) == 0
    out, _ = capsys.readouterr()
    assert "sent 3 events in 1 batch(es)" in out
    stored = read_out(receiver.out_dir)
    assert sorted(stored) == sorted(LOG_TYPES)
    assert [e for t in LOG_TYPES for e in stored[t]] == sent[0]
    assert receiver.stats == {200: 1}


def test_receive_command_runs_and_stops_on_sigterm(tmp_path, secret_env):
    out_dir = tmp_path / "received"
    cmd = [
        sys.executable,
        "-m",
        "tracebit_pack.cli.main",
        "receive",
        "--port",
        "0",
        "--secret-env",
        secret_env,
    ]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first = proc.stdout.readline()
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", first).group(1)
        assert main(["send", "--url", url, "--secret-env", secret_env, "--as-stored"]) == 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "stopped; stored 1 Tracebit.Alert, 1 Tracebit.AlertSummary, 1 Tracebit.HealthCheck" in out
    _assert_no_secret(first, out, err)
    assert read_out(out_dir) == {t: [e] for t, e in zip(LOG_TYPES, load_samples(), strict=True)}


def test_received_folder_raises_the_expected_rules(receiver, secret_env, capsys):
    """What `tracebit-pack replay DIR` does with the received folder, through the pack's rules."""
    engine = pytest.importorskip("tracebit_pack.engine.rules")
    enrich = pytest.importorskip("tracebit_pack.logs.enrich").enrich
    assert main(["send", "--url", receiver.url, "--secret-env", secret_env]) == 0
    pack = engine.PackEngine.load()
    fired: dict[str, list[str]] = {}
    for log_type, events in read_out(receiver.out_dir).items():
        for event in events:
            results = pack.run_event(enrich(event, log_type))
            assert not [r.error for r in results if r.error]
            fired.setdefault(log_type, []).extend(r.rule_id for r in results if r.matched)
    assert fired == {
        "Tracebit.Alert": ["Tracebit.CanaryResourceAccessed"],
        "Tracebit.AlertSummary": ["Tracebit.AlertSummary.NotBenign"],
        "Tracebit.HealthCheck": [],
    }
