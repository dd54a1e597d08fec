"""Secret scan for the test command: detect-secrets over the tracked files against ``.secrets.baseline``.

    .venv/bin/tracebit-pack dev secrets            # every file tracked by git (make lint runs this)
    .venv/bin/tracebit-pack dev secrets FILE ...   # these files
    (also: python -m tracebit_pack.dev.secrets_check [FILE ...])

Exits 1 and lists ``file:line: type`` for every potential secret that is not in the baseline, 0
otherwise. It uses the baseline's plugins and filters (including its ``--exclude-files``
patterns) and compares by file, type and secret hash, so edits that only move a baselined line do
not fail the check, and it never rewrites the baseline (``detect-secrets-hook`` rewrites it when
line numbers move and then fails).

Regenerate the baseline after an audit (every entry must be a false positive, ``is_secret: false``):

    .venv/bin/detect-secrets scan --exclude-files '^\\.venv/' --exclude-files '^requirements\\.lock$' \\
        --exclude-files '^scenarios/.+\\.jsonl$' $(git ls-files) > .secrets.baseline
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from tracebit_pack.pack.items import REPO_ROOT

BASELINE = REPO_ROOT / ".secrets.baseline"


def tracked_files(root: Path = REPO_ROOT) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line and (root / line).is_file()]


def new_secrets(files: list[str], baseline_path: Path = BASELINE) -> list[tuple[str, int, str]]:
    """``(file, line, type)`` of every potential secret in ``files`` that the baseline does not hold."""
    from detect_secrets import SecretsCollection
    from detect_secrets.core import baseline
    from detect_secrets.settings import transient_settings

    loaded = baseline.load_from_file(str(baseline_path))
    known = baseline.load(loaded, str(baseline_path))  # also configures plugins and filters
    with transient_settings({"plugins_used": loaded["plugins_used"], "filters_used": loaded["filters_used"]}):
        found = SecretsCollection()
        found.scan_files(*files, num_processors=1)
    new = found - known
    skip = {str(baseline_path), baseline_path.name, str(baseline_path.resolve())}
    return sorted((name, secret.line_number, secret.type) for name, secret in new if name not in skip)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracebit-pack dev secrets", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="files to scan (default: every file tracked by git)")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    args = parser.parse_args(argv)
    files = args.files or tracked_files()
    found = new_secrets(files, args.baseline)
    for name, line, kind in found:
        print(f"{name}:{line}: potential secret not in {args.baseline.name}: {kind}")
    if found:
        print(
            f"secrets_check: {len(found)} potential secret(s). Remove them, or if they are false positives "
            "regenerate and audit the baseline (see tracebit-pack dev secrets --help)."
        )
        return 1
    print(f"secrets_check: {len(files)} files, no secrets outside the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
