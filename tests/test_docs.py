"""The docs stay true to the tools: README.md, CONTRIBUTING.md and docs/*.md.

Markers (HTML comments, invisible on GitHub) tie the text to the commands it describes:

* ``<!-- docs-test: run -->`` before a fenced block: every command in it is run on the bundled
  data from the repository root and must exit 0. Only ``.venv/bin/tracebit-pack`` commands may
  be marked (fast, offline, no secret).
* ``<!-- docs-test: output-of CMD -->`` before a fenced block: CMD is run, and every line of the
  block (but ``...`` lines) is found in its output, in order.
* ``<!-- docs-test: quotes "fragment" ... from CMD -->`` next to prose: each fragment (a number
  quoted from the output, with its words) is found in CMD's output.

Each command runs once however many docs name it. Without any marker the checks still hold for
every doc: each file path, ``tracebit_pack`` module, Makefile target and ``tracebit-pack``
command named in backticks exists.
"""

from __future__ import annotations

import functools
import importlib
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- docs-test: (run|output-of|quotes)\b[ ]*([^\n]*?)[ ]*-->[ ]*\n")
FENCE = re.compile(r"```[\w-]*\n(.*?)```", re.S)
RUNNABLE = ".venv/bin/tracebit-pack "
# Paths the docs name on purpose although they do not exist here: a file the reader is shown how
# to create, and files of other repositories (cited with their repository).
NOT_HERE = {
    "rules/tracebit_rules/tracebit_canary_object_downloaded.py",  # CONTRIBUTING's worked example
    "rules/tracebit_rules/tracebit_canary_object_downloaded.yml",
    "global_helpers/panther_base_helpers.py",  # panther-analysis
    "rules/okta_rules/okta_support_reset",  # panther-analysis, compared with the MFA event lists
    "rules/aws_cloudtrail_rules/aws_cloudtrail_loginprofilecreatedormodified",
    "rules/aws_cloudtrail_rules/aws_iam_user_key_created",
    "queries/okta_queries/okta_mfa_password_reset_audit",
    "rules/panther_audit_rules",  # panther-analysis: the Panther.Audit test events
    "rules/tracebit_rules/tracebit_alert.yml",  # panther-analysis: Panther's own Tracebit rule and samples
    "sigma/backends/panther/helpers/pantherflow_helper.py",  # pySigma's Panther backend
    "panther_analysis_tool/detection_schemas/analysis_config_schema.json",  # panther_analysis_tool
}
TOP_LEVEL = {p.name for p in REPO.iterdir()}


def words(text: str) -> list[str] | None:
    """The words of ``text`` as the shell splits them; None when it does not split (an unclosed
    quote), for the test to fail on with the doc named, not the collection."""
    try:
        return shlex.split(text)
    except ValueError:
        return None


def normalised(command: str) -> str:
    """One spelling of a command however a doc quotes or wraps it (the text itself if it does not
    split), so that each command runs once."""
    split = words(command)
    return command if split is None else shlex.join(split)


def commands_of(block: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, a quote left open continued on the
    next line (as the shell reads it), comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    commands, pending = [], ""
    for raw in joined.splitlines():
        line = raw if pending else raw.split(" # ")[0].strip()
        if not pending and (not line or line.startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if words(pending) is None:
            continue  # an open quote: the command goes on
        commands.append(normalised(pending))
        pending = ""
    return commands + ([pending] if pending else [])


def markers() -> list[tuple[Path, str, str, str]]:
    """``(doc, kind, argument, block)`` of every marker (block: the fenced text after it, if any)."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in MARKER.finditer(text):
            fence = FENCE.match(text, match.end())
            found.append((doc, match[1], match[2].strip(), fence[1] if fence else ""))
    return found


def checks_by_command() -> dict[str, list[tuple[str, str, object]]]:
    """``{command: [(doc, kind, expected)]}``: what each command's run must show."""
    checks: dict[str, list[tuple[str, str, object]]] = {}
    for doc, kind, argument, block in markers():
        where = doc.relative_to(REPO).as_posix()
        if kind == "run":
            for command in commands_of(block) or [""]:
                checks.setdefault(command, []).append((where, "run", None))
        elif kind == "output-of":
            lines = [line.rstrip() for line in block.splitlines() if line.strip() and line.strip() != "..."]
            checks.setdefault(normalised(argument), []).append((where, "output", lines))
        else:
            fragments, _, command = argument.partition(" from ")
            checks.setdefault(normalised(command), []).append((where, "quotes", fragments))
    return checks


CHECKS = checks_by_command()


@functools.cache
def run(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        shlex.split(command), cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_docs_mark_runnable_commands():
    assert len(CHECKS) >= 5, sorted(CHECKS)
    assert any(kind == "quotes" for checks in CHECKS.values() for _, kind, _ in checks)


@pytest.mark.parametrize("command", sorted(CHECKS))
def test_documented_command_runs_and_shows_what_the_docs_quote(command):
    docs = sorted({where for where, _, _ in CHECKS[command]})
    assert command.startswith(RUNNABLE), f"{docs}: only tracebit-pack commands are runnable: {command!r}"
    assert words(command) is not None, f"{docs}: not a shell command (an unclosed quote?): {command!r}"
    done = run(command)
    assert done.returncode == 0, f"{docs}: {command} exited {done.returncode}: {done.stderr.strip()[-300:]}"
    output = done.stdout + done.stderr
    out_lines = [line.rstrip() for line in output.splitlines()]
    for where, kind, expected in CHECKS[command]:
        if kind == "output":
            at = 0
            for line in expected:
                hits = [n for n in range(at, len(out_lines)) if line.strip() in out_lines[n]]
                assert hits, f"{where}: not in the output of {command} (in order): {line!r}"
                at = hits[0] + 1
        elif kind == "quotes":
            flat = " ".join(output.split())
            fragments = words(expected)
            assert fragments is not None, (
                f"{where}: the fragments do not split (an unclosed quote?): {expected!r}"
            )
            for fragment in fragments:
                assert " ".join(fragment.split()) in flat, (
                    f"{where}: {fragment!r} not in the output of {command}"
                )


def _named(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    text = FENCE.sub("", text)  # code blocks hold commands and output, not names
    return [m.strip() for m in re.findall(r"`([^`\n]+)`", text)]


def _module_exists(name: str) -> bool:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        try:
            for attribute in parts[end:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


MAKE_TARGETS = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))
TRACKED = subprocess.run(
    ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
).stdout.split()
FILES_BY_NAME = {Path(p).name for p in TRACKED}


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(REPO).as_posix())
def test_every_file_module_target_and_command_named_exists(doc):
    from tracebit_pack.cli.main import COMMANDS

    problems = []
    for name in _named(doc):
        path = name.rstrip("/")
        if re.fullmatch(r"[\w.\-]+(/[\w.\-]+)+", path) and path.split("/")[0] in TOP_LEVEL | {
            "docs",
            "tests",
        }:
            if not (REPO / path).exists() and path not in NOT_HERE:
                problems.append(f"no file {path}")
        elif re.fullmatch(r"[\w\-]+\.(py|yml|jsonl|md)", path) and path not in FILES_BY_NAME:
            problems.append(f"no file named {path}")
        if re.fullmatch(r"tracebit_pack(\.\w+)+", name) and not _module_exists(name):
            problems.append(f"no module or attribute {name}")
        for target in re.findall(r"^make ([a-z][\w-]*)", name):
            if target not in MAKE_TARGETS:
                problems.append(f"no make target {target}")
        for command in re.findall(r"tracebit-pack ([a-z][\w-]*)", name):
            if command not in COMMANDS:
                problems.append(f"no tracebit-pack command {command}")
    assert not problems, f"{doc.relative_to(REPO)}: " + "; ".join(sorted(set(problems)))


def test_make_help_and_generated_queries_name_the_templates_file():
    """``make help``, the generated queries' header and the docs name the file that holds the
    pivot templates (where ``PIVOTS`` is defined), not the renderer."""
    (home,) = [
        p for p in (REPO / "global_helpers").glob("*.py") if re.search(r"^PIVOTS\s*=", p.read_text(), re.M)
    ]
    source = home.relative_to(REPO).as_posix()
    help_line = next(
        line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("queries:")
    )
    assert source in help_line
    for query in sorted((REPO / "queries").glob("tracebit_pivot_*.yml")):
        assert source in query.read_text().split("\nAnalysisType")[0], query.name
    assert source in (REPO / "docs" / "pivots-and-correlation.md").read_text()
