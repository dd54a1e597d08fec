"""The head worker runs the pull request's code: what that code can still do to the review.

Each test plants an attack in the pull request of a scratch repository (test_review's minimal pack)
and checks what the report, the review process and the machine look like afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_review import UNHEALTHY_PY, new_repo, write

from tracebit_pack.errors import UserError
from tracebit_pack.review import evaluate
from tracebit_pack.review.report import build_report


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


# The rule stops matching; imported in the head worker, it forges the review: it writes the base's
# verdicts where the head's are expected (run the worker on a copy of the base: the parent's own if
# it can find one, else one it extracts with git) and copies itself over every base copy it finds.
FORGER = """
import os, shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path


def _forge():
    here = Path(__file__).resolve()
    if "tracebit-review-" in str(here) or "tracebit_pack.review.worker" not in sys.argv[0].replace("/", "."):
        return  # the base copy, or pat test: behave
    repo = here.parents[2]
    found = [Path.cwd() / "base", *Path(tempfile.gettempdir()).glob("tracebit-review-*/base")]
    found = [b for b in found if (b / "rules").is_dir()]
    base = found[0] if found else Path(tempfile.mkdtemp())
    if not found:
        tar = subprocess.run(["git", "-C", str(repo), "archive", "main"], capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(tar)) as archive:
            archive.extractall(base, filter="data")
    out = sys.argv[2]
    fds = (int(out),) if out.isdigit() else ()
    subprocess.run([sys.executable, "-m", "tracebit_pack.review.worker", str(base), out], pass_fds=fds)
    for copy in found:
        shutil.copy(here, copy / "rules" / "mini" / here.name)
    os._exit(0)


_forge()


def rule(event):
    return False
"""


def test_head_code_cannot_hide_its_change(repo: Path) -> None:
    write(repo, "rules/mini/mini_unhealthy.py", UNHEALTHY_PY + FORGER)
    report = build_report(repo, "main")
    changed = [(c["id"], c["status"]) for c in report["changes"]]
    assert ("Mini.Unhealthy", "changed") in changed  # the Python body, read before the head ran
    # The head's verdicts are the head's own claim: forged here, and the report says whose they are.
    assert report["summary"]["tests_changed"] == 0


# Reads the review process's environment from /proc, the way rule code could.
PARENT_ENV_SPY = """
import os
from pathlib import Path

try:
    seen = Path(f"/proc/{{os.getppid()}}/environ").read_bytes().decode("utf-8", "replace")
except OSError as err:
    seen = f"unreadable: {{err}}"
Path({path!r}).write_text(seen)


def context(event):
    return {{}}
"""


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_head_code_cannot_read_the_parents_environment(repo: Path, tmp_path: Path) -> None:
    spy = tmp_path / "parent_environ.txt"
    write(repo, "global_helpers/mini_helpers.py", PARENT_ENV_SPY.format(path=str(spy)))
    env = {**os.environ, "PANTHER_API_TOKEN": "planted-token-3f9a", "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.run(
        [sys.executable, "-m", "tracebit_pack.cli.main", "review", "--base", "main", "--repo", str(repo)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    seen = spy.read_text()
    assert "planted-token-3f9a" not in seen
    assert "PANTHER_API_TOKEN" not in seen


# Starts a process in its own session (outside the worker's process group), then a daemon the
# classic way (double fork + setsid), and records both.
ESCAPER = """
import os, subprocess, sys
from pathlib import Path

if not Path({path!r}).exists():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            Path({path!r} + ".daemon").write_text(str(os.getpid()))
            __import__("time").sleep(300)
        os._exit(0)
    Path({path!r}).write_text(str(sleeper.pid))
    __import__("time").sleep({sleep})


def context(event):
    return {{}}
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _pids(spy: Path) -> list[int]:
    for _ in range(100):
        if spy.exists() and Path(f"{spy}.daemon").exists():
            break
        time.sleep(0.1)
    return [int(spy.read_text()), int(Path(f"{spy}.daemon").read_text())]


def _assert_gone(pids: list[int]) -> None:
    for _ in range(50):
        if not any(_alive(p) for p in pids):
            break
        time.sleep(0.2)
    alive = [p for p in pids if _alive(p)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "processes started by the head worker outlived the review"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper is Linux's")
def test_processes_started_by_head_code_do_not_outlive_the_review(repo: Path, tmp_path: Path) -> None:
    spy = tmp_path / "escaped.pid"
    write(repo, "global_helpers/mini_helpers.py", ESCAPER.format(path=str(spy), sleep=0))
    build_report(repo, "main")
    _assert_gone(_pids(spy))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper is Linux's")
def test_sigterm_kills_what_head_code_started(repo: Path, tmp_path: Path) -> None:
    spy = tmp_path / "escaped.pid"
    write(repo, "global_helpers/mini_helpers.py", ESCAPER.format(path=str(spy), sleep=120))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracebit_pack.cli.main", "review", "--base", "main", "--repo", str(repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if spy.exists():
                break
            time.sleep(0.2)
        pids = _pids(spy)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _assert_gone(pids)


@pytest.mark.parametrize(
    "result",
    [b"not json", b"[]", b'{"tests": [{"rule_id": 1}], "scenarios": {}, "not_evaluated": {}}'],
)
def test_a_worker_result_of_the_wrong_shape_is_one_error(result: bytes) -> None:
    with pytest.raises(UserError, match="not a worker's result"):
        evaluate._checked(0, result, b"", "")


def test_an_oversized_worker_result_is_one_error() -> None:
    with pytest.raises(UserError, match="larger than"):
        evaluate._checked(0, None, b"", "")
