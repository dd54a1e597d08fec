"""The GitHub Actions workflows, checked here so a broken workflow fails locally, not on GitHub.

1. Every ``.github/workflows/*.yml`` validates against GitHub's workflow schema (vendored by
   check-jsonschema: ``check-jsonschema --builtin-schema vendor.github-workflows``).
2. The invariants that matter: the pull-request workflow installs the way the README does and
   runs the README's test command; the review report comes from the base branch's tool; uploads
   run only after the tests pass; Panther secrets reach steps only through ``env``, are guarded
   (a notice, not a failure, when missing) and are never echoed; permissions are read-only.
3. The token stays away from branch code (:func:`token_problems`): actions pinned by full commit
   SHA with the tag in a comment, every checkout with ``persist-credentials: false``, every job
   that references PANTHER_API_TOKEN in an ``environment``, restoring no cache and installing
   nothing from a checkout of an unmerged branch. Mutated copies of the real workflows prove that
   the check catches each of those.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
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
SHA_PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
# In the file text: `uses: owner/action@<40 hex> # vX.Y.Z`
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)
TAG_COMMENT = re.compile(r"\s+#\s*v\d+(\.\d+){0,2}\s*")
INSTALL = re.compile(r"\bmake\b[^;&|\n]*\binstall\b|\bpip\s+install\b")
DEFAULT_BRANCH_REF = "${{ github.event.repository.default_branch }}"
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


def test_zizmor_finds_nothing_but_the_annotated_trigger(tmp_path: Path) -> None:
    """zizmor (as `make lint` runs it) is clean, and only because of the one reviewed annotation."""
    exe = Path(sys.executable).parent / "zizmor"
    assert exe.exists(), "zizmor is not installed (make install)"
    command = [str(exe), "--offline", "--quiet", "--no-progress", "--format", "json"]
    clean = subprocess.run([*command, str(WORKFLOWS)], capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    copy_dir = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, copy_dir)
    validate = copy_dir / "panther-validate.yml"
    validate.write_text(validate.read_text().replace(" # zizmor: ignore[dangerous-triggers]", ""))
    files = sorted(str(p) for p in copy_dir.glob("*.yml"))
    bare = subprocess.run([*command, *files], capture_output=True, text=True, check=False)
    assert bare.returncode != 0
    assert [f["ident"] for f in json.loads(bare.stdout)] == ["dangerous-triggers"]


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
    assert "pull_request_target" not in triggers(workflow)
    jobs = workflow["jobs"]
    commands = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert commands.index("make install") < commands.index("make test")
    cache = next(s for s in jobs["test"]["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".venv"
    key = cache["with"]["key"]
    assert key.startswith("venv-pr-") and "steps.python.outputs.python-version" in key
    assert "hashFiles('requirements.lock', 'requirements-uv.lock', 'pyproject.toml')" in key
    # The review report: the base branch's tool, installed from the base branch's lock.
    review = jobs["review"]
    checkouts = {
        s["with"]["path"]: s["with"]
        for s in review["steps"]
        if s.get("uses", "").startswith("actions/checkout@")
    }
    assert checkouts["base"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert checkouts["pr"]["fetch-depth"] == 0
    run = runs(review)
    assert "make -C base install" in run.splitlines()
    assert 'base/.venv/bin/tracebit-pack review --repo pr --base "$BASE_SHA"' in run
    assert "$GITHUB_STEP_SUMMARY" in run
    assert not any(s.get("uses", "").startswith("actions/cache@") for s in review["steps"])


def test_validate_is_requested_by_an_approval_and_runs_from_the_default_branch() -> None:
    request = load("panther-validate-request.yml")
    assert triggers(request)["pull_request_review"] == {"types": ["submitted"]}
    assert request["concurrency"]["cancel-in-progress"] is False
    (job,) = request["jobs"].values()
    assert job["if"] == "github.event.review.state == 'approved'"
    assert "actions/checkout" not in str(job) and not SECRET.search(str(request))

    workflow = load("panther-validate.yml")
    on = triggers(workflow)
    assert set(on) == {"workflow_run", "workflow_dispatch"}
    assert on["workflow_run"]["workflows"] == [request["name"]]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    approved, validate = workflow["jobs"]["approved"], workflow["jobs"]["validate"]
    check = runs(approved)
    for word in ('\\"APPROVED\\"', '.commit_id == \\"$head\\"', "OWNER", "MEMBER", "COLLABORATOR"):
        assert word in check, word
    assert "environment" not in approved and not SECRET.search(str(approved))
    assert validate["needs"] == "approved" and validate["environment"] == "panther"
    checkouts = [s for s in validate["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    refs = [c["with"]["ref"] for c in checkouts]
    assert refs == [DEFAULT_BRANCH_REF, "${{ needs.approved.outputs.commit }}"]
    assert "make -C tools install" in runs(validate).splitlines()
    # pat reads only the pull request's files: check-paths first, then pat from an empty folder
    # (from tools/ it would add the default branch's global_helpers/ and data_models/).
    names = [s.get("run", "") for s in validate["steps"]]
    check = next(i for i, run in enumerate(names) if "tools/.venv/bin/tracebit-pack check-paths pr" in run)
    pat_index = next(i for i, run in enumerate(names) if "panther_analysis_tool" in run)
    assert check < pat_index and "exit 1" in names[check]
    pat = validate["steps"][pat_index]
    assert pat["run"].endswith("validate --path ../pr")
    folder = pat["working-directory"]
    assert folder not in ("tools", "pr", ".") and f"mkdir {folder}" in names[:pat_index]


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
    permissions = workflow.get("permissions")
    assert isinstance(permissions, dict) and permissions, "top-level permissions must be explicit"
    assert set(permissions.values()) <= {"read", "none"}, permissions
    for job_id, job in workflow["jobs"].items():
        assert set((job.get("permissions") or {}).values()) <= {"read", "none"}, job_id
        assert job.get("timeout-minutes"), f"{job_id}: timeout-minutes"
    assert workflow.get("concurrency", {}).get("group")


# ------------------------------------------------------------------ the token and branch code
def _checkout_dir(step: dict) -> str:
    return (step.get("with") or {}).get("path") or "."


def _is_default_branch_only(workflow: dict) -> bool:
    """Triggered only by pushes to the default branch: every checkout is merged code."""
    on = triggers(workflow)
    return set(on) == {"push"} and (on["push"] or {}).get("branches") == ["main"]


def _install_dirs(step: dict) -> list[str]:
    """The folders an install command of ``step`` runs in (``make -C X`` or working-directory)."""
    found = []
    base = step.get("working-directory") or "."
    for line in step.get("run", "").splitlines():
        if not INSTALL.search(line):
            continue
        words = shlex.split(line, comments=True)
        directory = words[words.index("-C") + 1] if "make" in words and "-C" in words else base
        found.append(directory.rstrip("/") or ".")
    return found


def token_problems(workflow: dict, text: str) -> list[str]:
    """Everything that would let branch code near the Panther token, or run unpinned actions."""
    problems = []
    for uses, rest in USES_LINE.findall(text):
        if not SHA_PINNED.fullmatch(uses):
            problems.append(f"{uses}: not pinned by full commit SHA")
        elif not TAG_COMMENT.fullmatch(rest):
            problems.append(f"{uses}: no `# vX.Y.Z` comment naming the pinned tag")
    for job_id, job in workflow["jobs"].items():
        job_steps = job.get("steps") or []
        for step in job_steps:
            checkout = step.get("uses", "").startswith("actions/checkout@")
            if checkout and (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"{job_id}: checkout without persist-credentials: false")
        if "PANTHER_API_TOKEN" not in str(job):
            continue
        if not job.get("environment"):
            problems.append(f"{job_id}: references PANTHER_API_TOKEN outside a GitHub Environment")
        if any(s.get("uses", "").startswith("actions/cache@") for s in job_steps):
            problems.append(f"{job_id}: restores a cache next to PANTHER_API_TOKEN")
        trusted = _is_default_branch_only(workflow)
        checkouts = {
            _checkout_dir(s): trusted or (s.get("with") or {}).get("ref") == DEFAULT_BRANCH_REF
            for s in job_steps
            if s.get("uses", "").startswith("actions/checkout@")
        }
        for step in job_steps:
            for directory in _install_dirs(step):
                if not checkouts.get(directory, False):
                    problems.append(f"{job_id}: installs from {directory!r}, not a default-branch checkout")
    return problems


@pytest.mark.parametrize("name", all_workflows())
def test_token_never_meets_branch_code(name: str) -> None:
    assert token_problems(load(name), (WORKFLOWS / name).read_text(encoding="utf-8")) == []


def _validate_job(workflow: dict) -> dict:
    return workflow["jobs"]["validate"]


def _step(job: dict, needle: str) -> dict:
    return next(s for s in job["steps"] if needle in str(s))


def _tools_checkout(workflow: dict) -> dict:
    return _step(_validate_job(workflow), "'path': 'tools'")["with"]


MUTATIONS = {
    "tag-pinned action": lambda w, t: t.replace(
        "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0", "actions/checkout@v4", 1
    ),
    "SHA without its tag comment": lambda w, t: t.replace(" # v5.6.0", "", 1),
    "checkout keeping credentials": lambda w, t: _tools_checkout(w).pop("persist-credentials"),
    "token job without environment": lambda w, t: _validate_job(w).pop("environment"),
    "token job installing the branch": lambda w, t: _step(_validate_job(w), "make -C tools install").update(
        run="make -C pr install"
    ),
    "token job pip-installing the branch": lambda w, t: _validate_job(w)["steps"].append(
        {"name": "x", "working-directory": "pr", "run": "python -m pip install -e ."}
    ),
    "token job installing the branch from the root": lambda w, t: _validate_job(w)["steps"].append(
        {"name": "x", "run": "make install"}
    ),
    "tools checked out from the pull request": lambda w, t: _tools_checkout(w).update(
        ref="${{ needs.approved.outputs.commit }}"
    ),
    "cache restored into the token job": lambda w, t: _validate_job(w)["steps"].insert(
        0, {"uses": "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830", "with": {"path": ".venv"}}
    ),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_token_check_catches(mutation: str) -> None:
    name = "panther-validate.yml"
    workflow, text = copy.deepcopy(load(name)), (WORKFLOWS / name).read_text(encoding="utf-8")
    changed = MUTATIONS[mutation](workflow, text)
    problems = token_problems(workflow, changed if isinstance(changed, str) else text)
    assert problems, f"{mutation} went unnoticed"
