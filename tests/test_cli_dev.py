"""``tracebit-pack dev TOOL``: every argument reaches the tool's own ``main``, its exit code comes back,
and without the dev extra the command prints one line naming ``.[dev]`` and exits 2."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tracebit_pack.cli import dev as dev_cli
from tracebit_pack.cli.main import main

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(dev_cli.DEV_TOOLS))
def test_each_tool_gets_every_argument_and_returns_its_exit_code(name, monkeypatch):
    module = importlib.import_module(dev_cli.DEV_TOOLS[name].module)
    seen: list[list[str]] = []

    def fake_main(argv):
        seen.append(argv)
        return 3

    monkeypatch.setattr(module, "main", fake_main)
    argv = ["--help", "-x", "--out", "a b.md", "--", "--version"]
    assert main(["dev", name, *argv]) == 3
    assert seen == [argv]


def test_tool_options_are_the_tools_own(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["dev", "secrets", "--help"])
    assert exit_.value.code == 0
    assert "--baseline" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(dev_cli.DEV_TOOLS))
def test_missing_dev_extra_is_one_line_and_exit_2(name, monkeypatch, capsys):
    needs = dev_cli.DEV_TOOLS[name].needs
    if not needs:
        pytest.skip(f"dev {name} needs nothing beyond the base install")
    monkeypatch.setitem(sys.modules, needs[0], None)  # what an environment without it looks like
    assert main(["dev", name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".[dev]" in err[0] and needs[0] in err[0], err


def _import_raising(monkeypatch, missing: str) -> None:
    """Importing a tool fails on the module ``missing`` (only as the dev command imports it)."""

    def import_module(_name):
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    fake = types.SimpleNamespace(import_module=import_module, util=importlib.util)
    monkeypatch.setattr(dev_cli, "importlib", fake)


def test_import_error_of_a_tool_is_the_same_one_line(monkeypatch, capsys):
    _import_raising(monkeypatch, "detect_secrets")
    assert main(["dev", "secrets"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "detect_secrets" in err[0] and ".[dev]" in err[0], err


def test_import_error_while_a_tool_runs_is_the_same_one_line(monkeypatch, capsys):
    def lazy_import(_argv):
        import tracebit_missing_dev_module  # noqa: F401

    monkeypatch.setattr(importlib.import_module("tracebit_pack.dev.secrets_check"), "main", lazy_import)
    assert main(["dev", "secrets"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tracebit_missing_dev_module" in err[0] and ".[dev]" in err[0], err


def test_a_broken_pack_module_is_not_blamed_on_the_extra(monkeypatch):
    _import_raising(monkeypatch, "tracebit_pack.gone")
    with pytest.raises(ModuleNotFoundError):
        main(["dev", "secrets"])


def test_dev_without_a_tool_is_a_usage_error(capsys):
    assert main(["dev"]) == 2
    assert "fuzz|bench|bench-scale|mutate|secrets" in capsys.readouterr().err


def test_the_console_script_and_python_m_both_run_a_tool():
    readme = "README.md"
    script = Path(sys.executable).parent / "tracebit-pack"
    for command in (
        [str(script), "dev", "secrets", readme],
        [sys.executable, "-m", "tracebit_pack.dev.secrets_check", readme],
    ):
        done = subprocess.run(
            command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "1 files, no secrets outside the baseline" in done.stdout
