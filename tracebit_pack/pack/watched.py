"""The items the audit rule watches, computed from the pack itself (``packs/tracebit.yml`` and the YAMLs).

The Panther global ``tracebit_watched_items`` holds the same table as a literal (a global can read no
files inside Panther). ``expected_items(root)`` computes it from the repository, and
``render_global(root)`` writes the global's source; ``tests/test_audit_pack_items.py`` fails when the
two differ (the values, not the text: the file is formatted by ruff), so a new or changed item cannot
be left unwatched. Regenerate with ``.venv/bin/python -m tracebit_pack.pack.watched``.
"""

from __future__ import annotations

import pprint
import subprocess
import sys
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.pack.items import REPO_ROOT, AnalysisItem, items_of, load_items

GLOBAL_FILE = Path("global_helpers") / "tracebit_watched_items.py"

# AnalysisType -> the short kind the audit rule reports.
KINDS = {
    "rule": "rule",
    "scheduled_rule": "scheduled rule",
    "correlation_rule": "correlation rule",
    "saved_query": "saved query",
    "scheduled_query": "scheduled query",
    "datamodel": "data model",
    "global": "global helper",
    "pack": "pack",
    "policy": "policy",
    "lookup_table": "lookup table",
}

_HEADER = '''\
"""The items of this pack and the settings main deploys for them (GlobalID ``tracebit_watched_items``).

GENERATED from packs/tracebit.yml and the items' YAML by ``.venv/bin/python -m
tracebit_pack.pack.watched``; tests/test_audit_pack_items.py fails when it differs from the pack.
The audit rule (``tracebit_audit``) reads it to tell a change of a Tracebit item from any other,
and to say what changed: "enabled", "severity", "dedup" (DedupPeriodMinutes), "threshold" and
"schedule" (RateMinutes / CronExpression / TimeoutMinutes / LookbackWindowMinutes) are the values
of main; an item without a setting has no such key.
"""

'''


def _schedule(spec: dict) -> dict:
    """The schedule of a scheduled query or correlation rule, as the audit rule compares it."""
    source = spec.get("Schedule")
    detection = spec.get("Detection")
    lookback = None
    if isinstance(detection, list) and detection and isinstance(detection[0], dict):
        source = detection[0].get("Schedule")
        lookback = detection[0].get("LookbackWindowMinutes")
    out = {}
    if isinstance(source, dict):
        for key, name in (
            ("RateMinutes", "rate_minutes"),
            ("CronExpression", "cron_expression"),
            ("TimeoutMinutes", "timeout_minutes"),
        ):
            if source.get(key) is not None:
                out[name] = source[key]
    if lookback is not None:
        out["lookback_window_minutes"] = lookback
    return out


def item_settings(item: AnalysisItem) -> dict:
    """The settings of one item that the audit rule compares with an audited change."""
    spec = item.spec
    out: dict = {"kind": KINDS.get(item.kind, item.kind)}
    if "Enabled" in spec:
        out["enabled"] = bool(spec["Enabled"])
    if item.kind in ("rule", "scheduled_rule", "correlation_rule", "policy"):
        out["severity"] = str(spec.get("Severity"))
    if item.kind in ("rule", "scheduled_rule"):
        out["dedup"] = int(spec.get("DedupPeriodMinutes", 60))  # Panther's default period
        out["threshold"] = int(spec.get("Threshold", 1))
    schedule = _schedule(spec)
    if schedule:
        out["schedule"] = schedule
    return out


def expected_items(root: Path = REPO_ROOT) -> dict[str, dict]:
    """``{item id: settings}`` for the pack's own ID and every ID in its ``PackDefinition``."""
    items = load_items(root)
    by_id = {item.id: item for item in items}
    packs = items_of(items, "pack")
    if len(packs) != 1:
        raise UserError(f"{root}: expected exactly one pack, found {len(packs)}")
    pack = packs[0]
    ids = list((pack.spec.get("PackDefinition") or {}).get("IDs") or [])
    out = {pack.id: item_settings(pack)}
    for item_id in sorted(ids):
        if item_id not in by_id:
            raise UserError(f"{pack.path}: the pack lists {item_id!r}, which no item defines")
        out[item_id] = item_settings(by_id[item_id])
    return out


def render_global(root: Path = REPO_ROOT) -> str:
    """The source of ``global_helpers/tracebit_watched_items.py`` for the pack in ``root``."""
    table = pprint.pformat(expected_items(root), width=100, compact=True, sort_dicts=True)
    return f"{_HEADER}PACK_ITEMS = {table}\n"


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else REPO_ROOT
    target = root / GLOBAL_FILE
    target.write_text(render_global(root), encoding="utf-8")
    ruff = Path(sys.executable).parent / "ruff"  # the repository's formatter, when installed
    if ruff.is_file():
        subprocess.run([str(ruff), "format", "--quiet", str(target)], check=False)  # noqa: S603
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
