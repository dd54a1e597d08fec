"""How a canary credential's placement reads in a title (``tracebit_credential.placement_phrase``):
a CI/CD run id comes from a label, so it is cut to 40 characters like every log value in a title.
"""

from __future__ import annotations

import pytest
import tracebit_credential as tc


@pytest.mark.parametrize(
    "run_id, shown",
    [
        ("9876543210", " run 9876543210"),
        ("4" * 40, " run " + "4" * 40),
        ("4" * 41, " run " + "4" * 39 + "\u2026"),
        (None, ""),
    ],
)
def test_a_ci_cd_placement_names_the_repository_and_the_run(run_id, shown):
    placement = {"kind": "ci/cd", "repository": "acme/payments-api", "run_id": run_id}
    assert tc.placement_phrase(placement) == ", planted in CI/CD acme/payments-api" + shown


@pytest.mark.parametrize(
    "placement, phrase",
    [
        (
            {"kind": "endpoint", "host": "us-sf01-596", "owner": "john.smith"},
            ", planted on host us-sf01-596 (owner john.smith)",
        ),
        ({"kind": "endpoint", "host": "us-sf01-596", "owner": None}, ", planted on host us-sf01-596"),
        ({"kind": "endpoint", "host": None, "owner": "john.smith"}, ", planted on (owner john.smith)"),
        ({"kind": "ci/cd", "repository": None, "run_id": None}, ", planted in CI/CD an unknown repository"),
        ({"kind": None, "host": None, "owner": None}, ""),
        (None, ""),
    ],
)
def test_placement_phrases(placement, phrase):
    assert tc.placement_phrase(placement) == phrase
