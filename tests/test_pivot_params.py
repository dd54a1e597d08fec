"""``tracebit_pivots.pivot_params`` for a canary credential (a principal that is not the customer's):
the IAM user searched is the owner's first user name among the first 50 identities, and the source
IP searched is the alert's first address.

The context is what ``tracebit_helpers.event_context`` gives for Panther's credential sample (owner
john.smith, planted on host us-sf01-596), with the lists changed.
"""

from __future__ import annotations

import pytest

import tracebit_pivots as tp


def credential_context(**changes) -> dict:
    context = {
        "principal_scope": "tracebit_issued",
        "principal_arn": "arn:aws:sts::519571432283:federated-user/15a1cfdf4eee48d78d9as66446dbcf43",
        "identities": ["john.smith@acme.com", "john.smith"],
        "source_ips": ["212.36.35.20"],
        "alert_time": "2024-09-03T15:49:28Z",
    }
    context.update(changes)
    return context


def test_the_first_source_address_is_searched_and_never_the_tracebit_principal():
    params = tp.pivot_params(credential_context(source_ips=["212.36.35.20", "198.51.100.7"]))
    assert params["source_ip"] == "212.36.35.20"
    assert params["principal_arn"] == "arn:aws:%/john.smith@acme.com"
    assert params["principal_user"] == "john.smith"


@pytest.mark.parametrize("position, user", [(0, "jsmith"), (49, "jsmith"), (50, "john.smith@acme.com")])
def test_the_iam_user_is_the_first_user_name_among_the_first_50_identities(position, user):
    emails = [f"john.smith{i}@acme.com" for i in range(60)]
    emails[0] = "john.smith@acme.com"
    identities = emails[:position] + ["JSmith"] + emails[position:]
    params = tp.pivot_params(credential_context(identities=identities))
    assert params["principal_user"] == user  # past the 50th, the owner's email stands in
