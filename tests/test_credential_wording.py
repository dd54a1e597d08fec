"""How a canary credential's placement reads in a title (``tracebit_credential.placement_phrase``):
a CI/CD run id comes from a label, so it is cut to 40 characters like every log value in a title.
"""

from __future__ import annotations

import pytest
import tracebit_alert_cache as cache
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


def test_a_placement_without_owner_or_host_has_no_kind():
    assert tc.credential_placement({"type": "aws_temporary_security_credentials"})["kind"] is None
    assert tc.credential_placement({"name": "john.smith@us-sf01-596"})["kind"] == "endpoint"
    assert tc.credential_placement({"labels": {"owner": "john.smith"}})["kind"] == "endpoint"


def test_an_unknown_credential_type_is_shown_as_sent_up_to_128_characters():
    assert tc.credential_type_name("vendor_token") == "vendor_token"
    assert tc.credential_type_name("t" * 200) == "t" * 128


def test_owner_overrides_skip_values_that_are_not_identities(monkeypatch):
    monkeypatch.setattr(tc, "OWNER_IDENTITIES", {"jsmith": ("John.Smith@acme.com", None, 7, " ", "jsmith")})
    assert tc.owner_identities("JSmith") == ["john.smith@acme.com", "jsmith"]


def test_no_alert_state_is_written_without_an_alert_id():
    written = []
    assert (
        cache.remember_alert_log(lambda key, values, epoch_seconds=None: written.append(key), 0, None)
        is False
    )
    assert cache.remember_alert_log(None, 0, "fba46ed3-a454-4e85-a71a-9a89a257b150") is False
    assert written == []
