"""Which items of a detections repository the offline engine does not evaluate, and why.

A repository such as panther-analysis holds item types and constructs that only Panther's
backend can run (cloud-resource policies, lookup-table enrichment, rules whose Python imports a
package missing here, correlation rules using an unsupported feature). Each is listed with its
reason in the replay and review reports instead of stopping the whole run (the review renders
the list itself, escaped: ``review.render``).
"""

from __future__ import annotations

from collections.abc import Iterable

from tracebit_pack.pack.items import AnalysisItem

# Enabled items of these kinds are never run offline.
KIND_REASONS = {
    "policy": "policy: evaluates cloud resource snapshots, not log events",
    "lookup_table": "lookup table: its data and enrichment live in Panther, not in the repository",
}


def unevaluated_items(items: Iterable[AnalysisItem]) -> dict[str, str]:
    """Enabled items of a kind the offline engine never runs -> reason."""
    return {
        item.id: KIND_REASONS[item.kind]
        for item in items
        if item.kind in KIND_REASONS and item.spec.get("Enabled", True)
    }


def summary_lines(not_evaluated: dict[str, str], limit: int = 15) -> list[str]:
    """Text-report lines: one count per item kind never run offline, then ``ID: reason`` for
    the first ``limit`` other items (the JSON report lists every item)."""
    if not not_evaluated:
        return []
    lines = [f"Not evaluated offline: {len(not_evaluated)} item(s)"]
    kind_wide = set(KIND_REASONS.values())
    for reason in sorted(kind_wide):
        count = sum(1 for r in not_evaluated.values() if r == reason)
        if count:
            lines.append(f"  {count} x {reason}")
    others = sorted(i for i, r in not_evaluated.items() if r not in kind_wide)
    lines.extend(f"  {item_id}: {not_evaluated[item_id]}" for item_id in others[:limit])
    if len(others) > limit:
        lines.append(f"  ... {len(others) - limit} more (--format json lists all)")
    return lines
