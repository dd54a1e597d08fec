"""The GitHub Actions workflows, checked here so a broken workflow fails locally, not on GitHub.

1. Every ``.github/workflows/*.yml`` validates against GitHub's workflow schema (vendored by
   check-jsonschema: ``check-jsonschema --builtin-schema vendor.github-workflows``).
2. The invariants that matter: the pull-request workflow installs the way the README does and
   runs the README's test command, then publishes the review report; uploads run only after the
   tests pass; Panther secrets reach steps only through ``env``, are guarded (a notice, not a
   failure, when missing) and are never echoed; actions are pinned; permissions are read-only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
SECRET = re.compile(r"\$\{\{\s*secrets\.(\w+)\s*\}\}")
PANTHER_SECRETS = ("PANTHER_API_HOST", "PANTHER_API_TOKEN")
PINNED = re.compile(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})")
# The only use of a secret allowed in a script: a presence test, `[ -n "$X" ] && [ -n "$Y" ]; then`
TEST = r'\[ -[nz] "\$\w+" \]'
PRESENCE_TEST = re.compile(rf"\s*(if\s+)?{TEST}(\s*(&&|\|\|)\s*{TEST})*(;\s*then)?\s*")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps") or []:
            yield job_id, job, step


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps") or [])


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))


def test_workflows_match_github_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert files, "no workflows"
    exe = Path(sys.executable).parent / "check-jsonschema"
    command = str(exe) if exe.exists() else shutil.which("check-jsonschema")
    assert command, "check-jsonschema is not installed (make install)"
    proc = subprocess.run(
        [command, "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pull_request_workflow_installs_tests_and_publishes_review() -> None:
    workflow = load("pull-request.yml")
    assert "pull_request" in triggers(workflow)
    (job,) = workflow["jobs"].values()
    commands = [step.get("run", "") for step in job["steps"]]
    install = commands.index("make install")
    test = commands.index("make test")
    review = next(i for i, c in enumerate(commands) if "tracebit-pack review --base" in c)
    assert install < test < review
    assert '"origin/$BASE_REF"' in commands[review] and "$GITHUB_STEP_SUMMARY" in commands[review]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".venv"
    key = cache["with"]["key"]
    assert "hashFiles('requirements.lock', 'pyproject.toml')" in key
    assert "steps.python.outputs.python-version" in key


def test_validate_workflow_triggers() -> None:
    workflow = load("panther-validate.yml")
    on = triggers(workflow)
    assert on["pull_request_review"] == {"types": ["submitted"]} and "workflow_dispatch" in on
    (job,) = workflow["jobs"].values()
    assert "github.event.review.state == 'approved'" in job["if"]
    assert "panther_analysis_tool --skip-version-check validate" in runs(job)


def test_upload_only_after_tests_on_default_branch() -> None:
    workflow = load("panther-upload.yml")
    assert triggers(workflow)["push"] == {"branches": ["main"]}
    jobs = workflow["jobs"]
    uploaders = [job_id for job_id, job in jobs.items() if " upload" in runs(job)]
    testers = [job_id for job_id, job in jobs.items() if "make test" in runs(job).splitlines()]
    assert uploaders and testers
    for job_id in uploaders:
        needs = jobs[job_id].get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        assert set(testers) <= set(needs), f"{job_id} must need {testers}"
        assert "make test" not in runs(jobs[job_id]), "upload job must not be the test job"
    assert "default_branch" in jobs[testers[0]]["if"]
    assert workflow["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", all_workflows())
def test_secrets_only_through_env_and_guarded(name: str) -> None:
    workflow = load(name)
    for job_id, _job, step in steps(workflow):
        for key in ("run", "with", "if", "name", "uses"):
            assert not SECRET.search(str(step.get(key, ""))), f"{job_id}: secret in `{key}` of {step}"
        secrets = set(SECRET.findall(str(step.get("env", ""))))
        if not secrets:
            continue
        assert secrets <= set(PANTHER_SECRETS)
        run = step.get("run", "")
        if "panther_analysis_tool" in run or "make upload" in run:  # talks to Panther: guarded
            assert step.get("if") == "steps.panther.outputs.configured == 'true'", step
        else:  # the guard: a notice, never a failure
            assert "::notice" in run and "exit 1" not in run and "::error" not in run
    assert not SECRET.search(str(workflow.get("env", ""))), "no workflow-wide secrets"
    for job_id, job in workflow["jobs"].items():
        assert not SECRET.search(str(job.get("env", ""))), f"{job_id}: no job-wide secrets"


@pytest.mark.parametrize("name", all_workflows())
def test_no_secret_echoed(name: str) -> None:
    for _, _, step in steps(load(name)):
        for line in step.get("run", "").splitlines():
            assert not re.search(r"\bset\s+-[a-z]*x", line), "set -x would print secrets"
            for secret in PANTHER_SECRETS:
                if secret in line and "$" + secret in line:
                    # only tests of presence, e.g. [ -n "$PANTHER_API_TOKEN" ]
                    assert re.fullmatch(
                        r'\s*(if\s+)?\[ -[nz] "\$\w+" \](\s*(&&|\|\|)\s*\[ -[nz] "\$\w+" \])*(;\s*then)?\s*',
                        line,
                    ), line


@pytest.mark.parametrize("name", all_workflows())
def test_pinned_actions_permissions_concurrency(name: str) -> None:
    workflow = load(name)
    for job_id, _, step in steps(workflow):
        uses = step.get("uses")
        if uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", uses), (
                f"{job_id}: {uses}"
            )
    permissions = workflow.get("permissions")
    assert isinstance(permissions, dict) and permissions, "top-level permissions must be explicit"
    assert set(permissions.values()) <= {"read", "none"}, permissions
    for job_id, job in workflow["jobs"].items():
        assert set((job.get("permissions") or {}).values()) <= {"read", "none"}, job_id
        assert job.get("timeout-minutes"), f"{job_id}: timeout-minutes"
    assert workflow.get("concurrency", {}).get("group")
