"""Secret hygiene: no token in the pat settings, and the secret scanner works.

The scan of the whole repository runs once per ``make test``, in ``make lint`` (detect-secrets over
``git ls-files`` against the audited ``.secrets.baseline``); these tests check that the scanner and
the settings check catch what they must.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tracebit_pack.dev.secrets_check import BASELINE, main, new_secrets

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS = REPO_ROOT / ".panther_settings.yml"

SECRET_KEY = re.compile(r"(?i)(api[-_]?token|token|secret|password|passwd|api[-_]?key|credential|host)")
# A value that looks like a token: a long run of token characters with letters and digits mixed.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-+/=.]{20,}")
FAKE_AWS_KEY = "AKIA" + "Q7XK2M4N6P8R3T5V"  # split so this file does not itself look like a key


def _walk(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, str(key)), key, item
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))


def settings_problems(path: Path) -> list[str]:
    """Keys that name a secret or the API host, and values that look like a token or a URL."""
    problems = []
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for where, key, value in _walk(settings):
        name = ".".join(where)
        if SECRET_KEY.search(str(key)):
            problems.append(f"{name}: must come from the environment (PANTHER_API_TOKEN / PANTHER_API_HOST)")
        if isinstance(value, str) and TOKEN_LIKE.fullmatch(value.strip()):
            problems.append(f"{name}: looks like a token")
        if isinstance(value, str) and "://" in value:
            problems.append(f"{name}: is a URL (the API host?)")
    return problems


def test_panther_settings_hold_no_token_or_host():
    assert settings_problems(SETTINGS) == []


def test_settings_check_catches_a_planted_token(tmp_path):
    # detect-secrets' keyword plugin does not know ``api_token:``, hence this check of its own.
    planted = tmp_path / ".panther_settings.yml"
    planted.write_text(
        "path: .\napi_token: pat_9f8e7d6c5b4a39281706f5e4d3c2b1a0\napi_host: https://api.acme.runpanther.net\n",
        encoding="utf-8",
    )
    problems = settings_problems(planted)
    assert any(p.startswith("api_token:") for p in problems)
    assert any(p.startswith("api_host:") for p in problems)


def test_panther_settings_pass_the_scanner():
    assert new_secrets([str(SETTINGS)]) == []


def test_scanner_flags_a_planted_key(tmp_path):
    planted = tmp_path / "deploy.py"
    planted.write_text(f'aws_access_key_id = "{FAKE_AWS_KEY}"\n', encoding="utf-8")
    found = new_secrets([str(planted)])
    assert (str(planted), 1, "AWS Access Key") in found
    assert main([str(planted)]) == 1


def test_scanner_flags_a_token_in_the_settings_file(tmp_path):
    settings = tmp_path / ".panther_settings.yml"
    token = "Xq7PzK2mN9vR4tY8wB3cF6hJ1kL5sD0gA"  # pragma: allowlist secret (fake, planted)
    settings.write_text(f'path: .\napi_token: "{token}"\n', encoding="utf-8")
    assert new_secrets([str(settings)]), "a token in the settings file must be reported"


def test_scanner_passes_a_clean_file(tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text("x = 1\n", encoding="utf-8")
    assert main([str(clean)]) == 0


def test_baseline_is_audited():
    """Every baselined finding was audited as a false positive (fixture and example values only)."""
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    entries = [(name, s) for name, items in baseline["results"].items() for s in items]
    assert entries, "empty baseline: regenerate it with the command in tracebit_pack/dev/secrets_check.py"
    for name, secret in entries:
        assert secret.get("is_secret") is False, f"{name}:{secret['line_number']} not audited"
    excluded = {p for f in baseline["filters_used"] for p in f.get("pattern", [])}
    assert r"^\.venv/" in excluded
