"""Shared pytest set-up: global helpers importable under their GlobalID (as Panther imports them),
and the hypothesis profiles."""

import os
from pathlib import Path

from tracebit_pack.pack.globals import make_importable

REPO_ROOT = Path(__file__).resolve().parent.parent
make_importable(REPO_ROOT)

# Property tests: no per-example deadline (a loaded 2-core CI runner is slow, not wrong) and, in
# CI, a fixed seed so a run is reproducible. Locally the seed varies, so new cases keep being found.
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# send / receive tests (test_send_receive, test_transport_hardening): one receiver, one secret variable.
@pytest.fixture
def receiver(tmp_path):
    from http_peers import POLL_INTERVAL, SECRET

    from tracebit_pack.http.receive import Receiver

    with Receiver(SECRET, tmp_path / "out", quiet=True, poll_interval=POLL_INTERVAL) as rcv:
        yield rcv


@pytest.fixture
def secret_env(monkeypatch):
    from http_peers import SECRET_TEXT

    monkeypatch.setenv("TB_TEST_SECRET", SECRET_TEXT)
    return "TB_TEST_SECRET"


# `review` closes its own process's secrets (drops and blanks environment variables): right for
# the command, wrong for the pytest process that calls it in-process. Tests that check it run the
# command in a subprocess (test_review_hardening).
@pytest.fixture(autouse=True)
def _keep_pytest_environment(monkeypatch):
    monkeypatch.setattr("tracebit_pack.review.parent_secrets.close_parent_secrets", lambda: [])
