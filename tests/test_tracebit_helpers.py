"""Unit tests for the Tracebit globals: tracebit_helpers (the rule-facing API) and the topic globals
it re-exports, tracebit_base, tracebit_principal, tracebit_canary, tracebit_alert and
tracebit_mfa_cache (every public and private helper).

Events come from the rules' own test Logs (rules/tracebit_rules/*.yml), so the examples here are
the same realistic, schema-conforming events that `pat test` runs; odd shapes are built inline.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from panther_core.enriched_event import PantherEvent
from panther_core.immutable import ImmutableCaseInsensitiveDict, ImmutableList

import tracebit_alert as alert
import tracebit_base as base
import tracebit_canary as canary
import tracebit_helpers as tb
import tracebit_mfa_cache as mfa_cache
import tracebit_principal as principal

RULES = Path(__file__).resolve().parent.parent / "rules" / "tracebit_rules"
BLOG_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
MFA_JSON = (
    '{"event_type": "user.mfa.factor.deactivate", "event_time": "2024-12-13T09:41:07.512Z", '
    '"actor": "helpdesk.tier1@acme.com", "uuid": "8d1f0c2e"}'
)


def test_log(rule_file: str, name: str) -> dict:
    spec = yaml.safe_load((RULES / rule_file).read_text())
    for test in spec["Tests"]:
        if test["Name"] == name:
            return test["Log"]
    raise KeyError(name)


test_log.__test__ = False  # not a pytest test

RESOURCE = "tracebit_canary_resource_accessed.yml"
CREDENTIAL = "tracebit_canary_credential_used.yml"
SUMMARY = "tracebit_alert_summary_not_benign.yml"
HEALTH = "tracebit_health_check_unhealthy.yml"


@pytest.fixture
def blog():
    return PantherEvent(
        test_log(RESOURCE, "AWS assumed-role (Okta federated) GetObject on a canary S3 bucket")
    )


@pytest.fixture
def credential():
    return PantherEvent(
        test_log(
            CREDENTIAL,
            "Panther's sample, AWS temporary credentials planted on a laptop, pivots on the owner and the IP",
        )
    )


@pytest.fixture
def summary():
    return PantherEvent(test_log(SUMMARY, "Unclassified summary of the blog incident alerts"))


def getter(value):
    return mock.MagicMock(return_value=value)


# ---------------------------------------------------------------------------------------------
# Safe access and conversion
# ---------------------------------------------------------------------------------------------


def test_is_list():
    assert base._is_list([1])
    assert base._is_list((1,))
    assert base._is_list(ImmutableList([1]))
    assert not base._is_list("abc")
    assert not base._is_list(b"abc")
    assert not base._is_list({"a": 1})
    assert not base._is_list(ImmutableCaseInsensitiveDict({"a": 1}))
    assert not base._is_list(None)
    assert not base._is_list(5)


def test_safe_get():
    event = PantherEvent({"a": {"B": {"c": 1}}, "s": "str", "n": None})
    assert tb.safe_get(event, "a", "b", "C") == 1
    assert tb.safe_get(event, "s", "x", default="d") == "d"
    assert tb.safe_get(event, "n", default="d") == "d"
    assert tb.safe_get(event, "missing") is None
    assert tb.safe_get(None, "a") is None
    assert tb.safe_get(["a"], 0) is None

    class Broken(dict):
        def get(self, key, default=None):
            raise RuntimeError("boom")

    assert tb.safe_get(Broken(a=1), "a", default="x") == "x"


def test_as_str():
    assert tb.as_str("  x  ") == "x"
    assert tb.as_str("") is None
    assert tb.as_str("   ") is None
    assert tb.as_str(None) is None
    assert tb.as_str(True) is None
    assert tb.as_str({"a": 1}) is None
    assert tb.as_str(12) == "12"
    assert tb.as_str(1.5) == "1.5"
    assert tb.as_str(float("nan")) is None
    assert tb.as_str(float("inf")) is None
    assert tb.as_str([None, "", "first", "second"]) == "first"
    assert tb.as_str(ImmutableList([{"a": 1}, 7])) == "7"
    assert tb.as_str([None]) is None
    assert tb.as_str(object()) is None
    assert tb.as_str("abcdef", limit=3) == "abc"


def test_as_list_and_as_mapping():
    assert tb.as_list(None) == []
    assert tb.as_list([1, 2]) == [1, 2]
    assert tb.as_list(ImmutableList([1])) == [1]
    assert tb.as_list("x") == ["x"]
    assert tb.as_list({"a": 1}) == [{"a": 1}]
    assert tb.as_mapping({"a": 1}) == {"a": 1}
    assert tb.as_mapping("x") == {}
    assert tb.as_mapping(None) == {}


def _nest(levels, leaf):
    value = leaf
    for _ in range(levels):
        value = {"n": value}
    return value


def _walk(value, levels):
    for _ in range(levels):
        value = value["n"]
    return value


def test_to_plain():
    event = PantherEvent({"a": {"b": [1, {"c": float("nan")}]}, "f": 1.5, "s": {"x"}, "o": object})
    plain = tb.to_plain(event)
    assert plain["a"] == {"b": [1, {"c": None}]}
    assert plain["f"] == 1.5
    assert plain["s"] == ["x"]
    assert isinstance(plain["o"], str)
    json.dumps(plain)
    # Nesting is cut below depth 20: a value 20 levels down is kept, one 21 levels down is not.
    assert _walk(tb.to_plain(_nest(20, "leaf")), 20) == "leaf"
    assert _walk(tb.to_plain(_nest(21, "leaf")), 21) is None
    json.dumps(tb.to_plain(_nest(500, "leaf")))  # far deeper than the limit: still serialisable
    assert tb.to_plain(list(range(200))) == list(range(50))  # lists are capped at 50 entries


def test_normalise_token_and_dedupe():
    assert tb.normalise_token("Benign_Positive") == "benignpositive"
    assert tb.normalise_token("  Canary-Resource Accessed ") == "canaryresourceaccessed"
    assert tb.normalise_token(None) == ""
    assert tb.normalise_token(5) == ""
    assert base.dedupe(["a", None, "b", "a"]) == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# Log type and subtype
# ---------------------------------------------------------------------------------------------


def test_tracebit_log_type(blog, summary):
    assert tb.tracebit_log_type(blog) == "alert"
    assert tb.tracebit_log_type(summary) == "alert_summary"
    assert tb.tracebit_log_type({"p_log_type": "Tracebit.HealthCheck"}) == "health_check"
    assert tb.tracebit_log_type({"discriminator": {"type": "tracebit_alert_summary"}}) == "alert_summary"
    assert tb.tracebit_log_type({"discriminator": {"type": "health_check"}}) == "health_check"
    assert tb.tracebit_log_type({"is_healthy": False}) == "health_check"
    assert tb.tracebit_log_type({"classification": "x"}) == "alert_summary"
    assert tb.tracebit_log_type({"canaries_accessed": []}) == "alert_summary"
    assert tb.tracebit_log_type({}) == "alert"
    assert tb.tracebit_log_type({"p_log_type": ["odd"], "discriminator": "odd"}) == "alert"


def test_subtype_and_subtype_key(blog, credential):
    assert tb.subtype(blog) == "canary_resource_accessed"
    assert tb.subtype_key(blog) == tb.SUBTYPE_RESOURCE
    assert tb.subtype_key(credential) == tb.SUBTYPE_CREDENTIAL
    assert tb.subtype_key({"discriminator": {"subtype": "CANARY_CREDENTIAL_USED"}}) == tb.SUBTYPE_CREDENTIAL
    assert tb.subtype_key({"discriminator": {"subtype": "Canary Resource Accessed"}}) == tb.SUBTYPE_RESOURCE
    for odd in ({}, {"discriminator": None}, {"discriminator": "x"}, {"discriminator": {"subtype": 7}}):
        assert tb.subtype_key(odd) is None
        assert tb.has_unknown_subtype(odd)
    assert tb.has_unknown_subtype({"discriminator": {"subtype": "canary_token_triggered"}})
    assert not tb.has_unknown_subtype(blog)


# ---------------------------------------------------------------------------------------------
# Principal and identities
# ---------------------------------------------------------------------------------------------


def test_is_email_and_is_username():
    assert tb.is_email("sue.johnson@acme.com")
    assert not tb.is_email("sue.johnson")
    assert not tb.is_email("a@b")
    assert not tb.is_email(None)
    assert tb.is_username("svc-backup-reader")
    assert tb.is_username("sue.johnson@acme.com")
    for generated in ("i-0abc123def4567890", "botocore-session-1702476131", "aws-go-sdk-1702476131", "12345"):
        assert not tb.is_username(generated)
    assert not tb.is_username("has space")
    assert not tb.is_username(None)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            BLOG_ARN,
            {
                "account_id": "693260565127",
                "kind": "assumed-role",
                "role": "Okta-OIDC-Engineer",
                "name": "sue.johnson@acme.com",
            },
        ),
        (
            "arn:aws:sts::123456789012:federated-user/bob",
            {"account_id": "123456789012", "kind": "federated-user", "role": None, "name": "bob"},
        ),
        (
            "arn:aws:iam::123456789012:user/path/to/alice",
            {"account_id": "123456789012", "kind": "user", "role": None, "name": "alice"},
        ),
        (
            "arn:aws:iam::123456789012:role/service-role/Deploy",
            {"account_id": "123456789012", "kind": "role", "role": "Deploy", "name": None},
        ),
        (
            "arn:aws:iam::123456789012:root",
            {"account_id": "123456789012", "kind": "root", "role": None, "name": None},
        ),
        ("arn:aws:s3:::bucket", {"account_id": None, "kind": "bucket", "role": None, "name": None}),
        ("arn:aws:sts", {"account_id": None, "kind": None, "role": None, "name": None}),
        ("arn:aws:iam::123456789012", {"account_id": None, "kind": None, "role": None, "name": None}),
        (
            "arn:aws:sts::123456789012:assumed-role/Role",
            {"account_id": "123456789012", "kind": "assumed-role", "role": None, "name": None},
        ),
        (
            "arn:aws:iam::123456789012:role/Deploy",
            {"account_id": "123456789012", "kind": "role", "role": "Deploy", "name": None},
        ),
        ("arn:aws:s3:::bucket/key", {"account_id": None, "kind": "bucket", "role": None, "name": None}),
        (
            "arn:aws:iam::123456789012:role",
            {"account_id": "123456789012", "kind": "role", "role": None, "name": None},
        ),
        (
            "arn:aws:iam::123456789012:user",
            {"account_id": "123456789012", "kind": "user", "role": None, "name": None},
        ),
        (  # a colon inside the resource belongs to the resource
            "arn:aws:iam::123456789012:user/ops:admin",
            {"account_id": "123456789012", "kind": "user", "role": None, "name": "ops:admin"},
        ),
        ("not-an-arn", {"account_id": None, "kind": None, "role": None, "name": None}),
        (None, {"account_id": None, "kind": None, "role": None, "name": None}),
        (
            ["arn:aws:iam::123456789012:user/x"],
            {"account_id": "123456789012", "kind": "user", "role": None, "name": "x"},
        ),
    ],
)
def test_parse_aws_arn(arn, expected):
    assert tb.parse_aws_arn(arn) == expected


def test_get_principal():
    assert tb.get_principal({"principal": {"id": "x"}}) == {"id": "x"}
    assert tb.get_principal({"principal": "sue@acme.com"}) == {"id": "sue@acme.com"}
    assert tb.get_principal({"principal": None}) == {}
    assert tb.get_principal({"principal": 5}) == {"id": "5"}
    assert tb.get_principal({}) == {}


def test_principal_provider():
    assert tb.principal_provider({"aws": {"arn": BLOG_ARN}}) == "aws"
    assert tb.principal_provider({"okta": {"alternate_id": "a@b.co"}}) == "okta"
    assert tb.principal_provider({"azure": {"app_id": "x"}}) == "azure"
    assert tb.principal_provider({"google_cloud": {"federated_identity_subject": "s"}}) == "google_cloud"
    assert tb.principal_provider({"aws": {"arn": None}, "okta": {"id": "00u1"}}) == "okta"
    assert tb.principal_provider({"okta": "00u1"}) == "okta"
    assert tb.principal_provider({"id": "arn:aws:iam::1:user/x"}) == "aws"
    assert tb.principal_provider({"id": "x"}) == "unknown"
    assert tb.principal_provider({}) == "unknown"


def test_principal_arn_and_id_email():
    assert principal._principal_arn({"aws": {"arn": BLOG_ARN}}) == BLOG_ARN
    assert principal._principal_arn({"id": BLOG_ARN}) == BLOG_ARN
    assert principal._principal_arn({"id": "AROA:x"}) is None
    assert principal._principal_id_email("sue@acme.com") == "sue@acme.com"
    assert principal._principal_id_email("AROA2EXAMPLE:sue@acme.com") == "sue@acme.com"
    assert principal._principal_id_email(BLOG_ARN) is None
    assert principal._principal_id_email("AROA2EXAMPLE:i-0abc") is None
    assert principal._principal_id_email(None) is None


def test_identities_every_source(blog):
    assert tb.identities(blog) == ["sue.johnson@acme.com"]
    event = {
        "principal": {
            "id": "Sue.Johnson@Acme.com",
            "aws": {"username": "sjohnson", "arn": "arn:aws:sts::1:federated-user/SJohnson"},
            "okta": {"alternate_id": "sue.johnson@acme.com"},
            "google_cloud": {"federated_identity_subject": "SUE@acme.io"},
        }
    }
    assert tb.identities(event) == ["sue.johnson@acme.com", "sjohnson", "sue@acme.io"]
    assert tb.identities({"principal": {"okta": {"alternate_id": "dave"}}}) == ["dave"]
    # Generated session names and non-email subjects/ids are not identities.
    generated = {
        "principal": {
            "id": "00u7f3k9pQ2rS4tU6v8w",
            "aws": {"arn": "arn:aws:sts::1:assumed-role/Ec2Role/i-0abc123def4567890"},
            "google_cloud": {"federated_identity_subject": "repo:acme/infra:ref:refs/heads/main"},
        }
    }
    assert tb.identities(generated) == []
    assert tb.identities({}) == []
    assert tb.identities({"principal": "Sue@Acme.com"}) == ["sue@acme.com"]


def test_principal_details(blog):
    details = tb.principal_details(blog)
    assert details["principal_provider"] == "aws"
    assert details["principal_arn"] == BLOG_ARN
    assert details["principal_type"] == "AssumedRole"
    assert details["principal_account_id"] == "693260565127"
    assert details["principal_username"] == "sue.johnson@acme.com"
    assert details["principal"]["aws"]["arn"] == BLOG_ARN
    # Derived values when the AWS block only has an ARN.
    derived = tb.principal_details({"principal": {"aws": {"arn": "arn:aws:iam::210987654321:user/deploy"}}})
    assert derived["principal_type"] == "IAMUser"
    assert derived["principal_account_id"] == "210987654321"
    assert derived["principal_username"] == "deploy"
    azure = tb.principal_details({"principal": {"azure": {"tenant_id": "t-1", "app_id": "a-1"}}})
    assert azure["principal_account_id"] == "t-1"
    assert azure["principal_provider"] == "azure"
    empty = tb.principal_details({})
    assert empty["principal"] is None
    assert empty["principal_provider"] == "unknown"


def test_principal_label(blog):
    assert tb.principal_label(blog) == "sue.johnson@acme.com (role Okta-OIDC-Engineer)"
    assert tb.principal_label({"principal": {"okta": {"alternate_id": "dave@acme.com"}}}) == "dave@acme.com"
    assert tb.principal_label({"principal": {"id": "x-1", "azure": {"app_id": "app-1"}}}) == "Azure app app-1"
    assert tb.principal_label({"principal": {"id": "x-1"}}) == "x-1"
    role_arn = "arn:aws:iam::1:role/Deploy"
    assert tb.principal_label({"principal": {"aws": {"arn": role_arn}}}) == role_arn
    assert tb.principal_label({}) == "an unknown principal"


# ---------------------------------------------------------------------------------------------
# Canaries, credential, request details
# ---------------------------------------------------------------------------------------------


def test_normalise_canary_every_provider():
    aws = tb.normalise_canary(
        {
            "name": "b",
            "aws": {
                "account_id": "1",
                "account_name": "prod",
                "arn": "arn:aws:s3:::b",
                "region": "us-east-1",
            },
        }
    )
    assert aws == {
        "name": "b",
        "type": None,
        "tracebit_id": None,
        "provider_id": None,
        "provider_account_id": "1",
        "account_name": "prod",
        "arn": "arn:aws:s3:::b",
        "resource_id": "arn:aws:s3:::b",
        "region": "us-east-1",
        "deployed_at": None,
        "provider": "aws",
    }
    azure = tb.normalise_canary(
        {
            "name": "s",
            "azure": {
                "subscription_id": "sub",
                "subscription_name": "fin",
                "resource_id": "/subscriptions/sub/x",
            },
        }
    )
    assert (azure["provider"], azure["provider_account_id"], azure["account_name"], azure["resource_id"]) == (
        "azure",
        "sub",
        "fin",
        "/subscriptions/sub/x",
    )
    okta = tb.normalise_canary({"name": "app", "okta": {"domain": "acme.okta.com", "organization_id": "00o"}})
    assert (okta["provider"], okta["provider_account_id"], okta["account_name"]) == (
        "okta",
        "00o",
        "acme.okta.com",
    )
    gcp = tb.normalise_canary({"name": "g", "provider_id": "projects/_/buckets/g"}, "Google_Cloud")
    assert gcp["provider"] == "google_cloud"
    assert gcp["resource_id"] == "projects/_/buckets/g"
    assert tb.normalise_canary("just-a-name")["name"] == "just-a-name"
    assert tb.normalise_canary(None) is None
    assert tb.normalise_canary(5)["name"] == "5"


def test_canaries_alert_and_summary_same_shape(blog, summary):
    alert = tb.canaries(blog)
    summ = tb.canaries(summary)
    assert len(alert) == len(summ) == 1
    assert set(alert[0]) == set(summ[0])
    assert summ[0]["region"] == "us-east-1"
    assert alert[0]["name"] == summ[0]["name"] == "acme-prod-customer-exports"
    assert tb.canaries({"canary": None}) == []
    assert tb.canaries({"canary": {}}) == []
    assert tb.canaries({"canaries_accessed": "odd-name"})[0]["name"] == "odd-name"
    many = {"canaries_accessed": [{"name": f"c{i}"} for i in range(80)]}
    assert len(tb.canaries(many)) == tb.MAX_LIST


def test_canary_label():
    assert tb.canary_label({"name": "b", "type": "AWS::S3::Bucket"}) == "AWS::S3::Bucket b"
    assert tb.canary_label({"name": None, "arn": "arn:aws:s3:::b", "type": None}) == "arn:aws:s3:::b"
    assert tb.canary_label({"tracebit_id": "cnry_1"}) == "cnry_1"
    assert tb.canary_label({}) == "an unknown canary"
    assert tb.canary_label({"type": "t"}) == "t unnamed"


def test_canary_credential(credential):
    cred = tb.canary_credential(credential)
    assert cred == {  # Panther's own sample
        "name": "john.smith@us-sf01-596",
        "type": "aws_temporary_security_credentials",
        "access_key_id": "ASIAWMAFDUWHGG4P5FYU",  # pragma: allowlist secret
        "labels": {"source": "kandji", "source_type": "endpoint"},
        "issued_at": "2024-09-03T15:08:17.513903Z",
        "expires_at": "2024-09-05T03:08:17Z",
    }
    assert tb.canary_credential({}) is None
    assert tb.canary_credential({"canary_credential": None}) is None
    assert tb.canary_credential({"canary_credential": "key-name"})["name"] == "key-name"
    odd = tb.canary_credential({"canary_credential": {"labels": ["x", {"value": "v"}, {"name": "n"}]}})
    assert odd["labels"] == {"n": None}
    many = {"canary_credential": {"labels": [{"name": f"l{i}", "value": "v"} for i in range(80)]}}
    assert len(tb.canary_credential(many)["labels"]) == tb.MAX_LIST


def test_credential_label():
    assert tb.credential_label({"name": "k", "type": "aws_access_key"}) == "aws_access_key k"
    assert tb.credential_label({"access_key_id": "AKIA1"}) == "AKIA1"
    assert tb.credential_label({"type": None}) == "unnamed"
    assert tb.credential_label(None) == "an unknown canary credential"


def test_source_ips_resources_indicators(blog, summary):
    assert tb.source_ips(blog) == ["185.220.101.34"]
    assert tb.source_ips(summary) == ["185.220.101.34"]
    assert tb.source_ips({"ip_addresses": ["1.1.1.1", "1.1.1.1", None, 5]}) == ["1.1.1.1", "5"]
    assert tb.source_ips({"ip_addresses": "2.2.2.2"}) == ["2.2.2.2"]
    assert tb.resources(blog)[1]["type"] == "AWS::S3::Object"
    assert tb.resources({"event": {"resources": ["arn:x", {"id": None}, {"type": "T"}]}}) == [
        {"id": "arn:x", "type": None},
        {"id": None, "type": "T"},
    ]
    assert tb.resources({"event": "odd"}) == []
    inds = tb.indicators(summary)
    assert inds[0] == {
        "id": "ind_list_then_get",
        "name": "Enumeration followed by download",
        "description": "The principal listed several prefixes and then downloaded an object.",
    }
    assert tb.indicators({"indicators": ["tor", {}, None]}) == [
        {"id": None, "name": "tor", "description": None}
    ]


# ---------------------------------------------------------------------------------------------
# Health checks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "state"),
    [
        (True, True, "healthy"),
        (False, False, "unhealthy"),
        ("false", False, "unhealthy"),
        ("TRUE", True, "healthy"),
        ("Unhealthy", False, "unhealthy"),
        (0, False, "unhealthy"),
        (1, True, "healthy"),
        (2, None, "unknown"),
        (None, None, "unknown"),
        ("maybe", None, "unknown"),
        ({"v": True}, None, "unknown"),
        (["false"], False, "unhealthy"),
    ],
)
def test_is_healthy_and_health_state(value, expected, state):
    event = {"discriminator": {"type": "health_check", "subtype": "x"}, "is_healthy": value}
    assert tb.is_healthy(event) is expected
    assert tb.health_state(event) == state


def test_is_healthy_missing():
    assert tb.is_healthy({}) is None
    assert tb.health_state({}) == tb.HEALTH_UNKNOWN


# ---------------------------------------------------------------------------------------------
# Alert context
# ---------------------------------------------------------------------------------------------


def test_alert_context_keys_same_for_alert_and_summary(blog, summary):
    alert = tb.alert_context(blog)
    summ = tb.alert_context(summary)
    assert tuple(alert) == tb.CONTEXT_KEYS
    assert tuple(summ) == tb.CONTEXT_KEYS
    assert "pivots" not in alert
    json.dumps(alert, allow_nan=False)
    json.dumps(summ, allow_nan=False)


def test_alert_context_blog_values(blog):
    ctx = tb.alert_context(blog)
    assert ctx["tracebit_log_type"] == "alert"
    assert ctx["alert_id"] == "b0c4e5a2-6a3f-4d0e-9a57-3c2f1e8d7b41"
    assert ctx["principal_arn"] == BLOG_ARN
    assert ctx["identities"] == ["sue.johnson@acme.com"]
    assert ctx["canary_names"] == ["acme-prod-customer-exports"]
    assert ctx["source_ips"] == ["185.220.101.34"]
    assert ctx["user_agent_label"] == "AWS CLI"
    assert ctx["event_operation"] == "GetObject"
    assert ctx["canary_credential"] is None
    assert ctx["classification"] is None
    assert ctx["indicators"] == []


def test_alert_context_summary_values(summary):
    ctx = tb.alert_context(summary)
    assert ctx["tracebit_log_type"] == "alert_summary"
    assert ctx["classification"] == "Unclassified"
    assert ctx["first_seen"] == "2024-12-13T13:58:42Z"
    assert ctx["last_seen"] == "2024-12-13T14:02:11Z"
    assert ctx["message"] is None
    assert ctx["resources"] == []
    assert len(ctx["indicators"]) == 2


def test_alert_context_empty_event_has_every_key():
    ctx = tb.alert_context({})
    assert tuple(ctx) == tb.CONTEXT_KEYS
    assert ctx["identities"] == [] and ctx["canaries"] == [] and ctx["principal"] is None


def test_health_alert_context():
    event = PantherEvent(test_log(HEALTH, "Unhealthy integration alerts"))
    ctx = tb.alert_context(event)
    assert tuple(ctx) == tb.HEALTH_CONTEXT_KEYS
    assert ctx == {
        "tracebit_log_type": "health_check",
        "subtype": "panther_integration",
        "alert_time": "2024-12-13T15:00:00Z",
        "is_healthy": False,
    }
    assert tb.health_alert_context({}) == {
        "tracebit_log_type": "health_check",
        "subtype": None,
        "alert_time": None,
        "is_healthy": None,
    }


def test_fit_shrinks_oversized_context():
    big = "x" * 1000
    event = {
        "canaries_accessed": [
            {"name": f"{i}{big}", "type": big, "tracebit_id": big, "provider_id": big} for i in range(50)
        ],
        "indicators": [{"id": big, "name": big, "description": big} for _ in range(50)],
        "principal": {"id": big},
    }
    ctx = tb.alert_context(event)
    assert len(json.dumps(ctx)) <= tb.MAX_CONTEXT_CHARS
    assert 1 <= len(ctx["canaries"]) < 50


def test_fit_edge_cases():
    assert alert._fit({"a": [1]}) == {"a": [1]}
    huge = {"principal": {"id": "x" * 200_000}, "message": None}
    assert alert._fit(huge)["principal"] is None
    unshrinkable = {"blob": "x" * 200_000}
    assert alert._fit(unshrinkable) is unshrinkable
    assert alert._fit({"bad": {1, 2}, "big": ["y" * 200_000]}) is not None  # not serialisable: returned as is


# ---------------------------------------------------------------------------------------------
# Severity, reference, dedup, titles
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("low", "LOW"),
        ("Medium", "MEDIUM"),
        ("HIGH", "HIGH"),
        ("critical", "CRITICAL"),
        ("info", "INFO"),
        ("Informational", "INFO"),
        ("moderate", "MEDIUM"),
        ("warning", "MEDIUM"),
        ("severe", "HIGH"),
        ("crit", "CRITICAL"),
        ("SEVERITY_HIGH", "HIGH"),
        ("sev-low", "LOW"),
        (" high ", "HIGH"),
        ("bogus", "DEFAULT"),
        ("", "DEFAULT"),
        (None, "DEFAULT"),
        (3, "DEFAULT"),
        (["High"], "HIGH"),
    ],
)
def test_map_severity(value, expected):
    assert tb.map_severity(value) == expected


def test_severity_at_least():
    assert tb.severity_at_least("LOW", "HIGH") == "HIGH"
    assert tb.severity_at_least("CRITICAL", "HIGH") == "CRITICAL"
    assert tb.severity_at_least("DEFAULT", "HIGH") == "DEFAULT"
    assert tb.severity_at_least("LOW", "bogus") == "LOW"


def test_reference():
    assert tb.reference({"tracebit_portal_url": "https://acme.tracebit.com/alerts/1"}) == (
        "https://acme.tracebit.com/alerts/1"
    )
    assert tb.reference({"tracebit_portal_url": "javascript:alert(1)"}) == tb.TRACEBIT_SITE
    assert tb.reference({}) == tb.TRACEBIT_SITE
    assert tb.reference({"tracebit_portal_url": 5}) == tb.TRACEBIT_SITE


def test_dedup(blog):
    assert tb.dedup(blog) == "b0c4e5a2-6a3f-4d0e-9a57-3c2f1e8d7b41"
    assert tb.dedup({"id": "log-1"}) == "no-alert-id:log-1"
    fallback = tb.dedup({"principal": {"id": "sue@acme.com"}, "canary": {"name": "bkt"}})
    assert fallback == "no-alert-id:sue@acme.com:bkt"
    assert tb.dedup({}) == "no-alert-id:an unknown principal:unknown-canary"


def test_health_dedup():
    assert tb.health_dedup({"discriminator": {"subtype": "Panther_Integration"}}) == (
        "tracebit-health:panther_integration"
    )
    assert tb.health_dedup({}) == "tracebit-health:unknown"


def test_mfa_suffix_and_canaries_phrase():
    assert mfa_cache.mfa_title_suffix(None) == ""
    suffix = mfa_cache.mfa_title_suffix({"identity": "a@b.co", "event_time": "t"})
    assert suffix == " after an MFA reset for a@b.co at t"
    assert mfa_cache.mfa_title_suffix({"event_time": None}) == " after an MFA reset for the principal"
    assert mfa_cache.mfa_title_suffix({"event_type": "user.mfa.factor.reset_all", "identity": "a@b.co"}) == (
        " after Okta user.mfa.factor.reset_all for a@b.co"
    )
    assert alert._canaries_phrase([]) == "an unknown canary"
    assert alert._canaries_phrase([{"name": "a"}]) == "canary a"
    five = [{"name": str(i)} for i in range(5)]
    assert alert._canaries_phrase(five) == "5 canaries: 0, 1, 2 +2 more"
    assert alert._canaries_phrase(five[:2]) == "2 canaries: 0, 1"


def test_titles(blog, credential, summary):
    ctx = tb.alert_context(blog)
    assert tb.title_resource_accessed(blog, ctx) == (
        "Tracebit: sue.johnson@acme.com (role Okta-OIDC-Engineer) accessed canary AWS::S3::Bucket "
        "acme-prod-customer-exports"
    )
    cctx = tb.alert_context(credential)
    assert tb.title_credential_used(credential, cctx) == (
        "Tracebit: canary credential AWS temporary credentials john.smith@us-sf01-596 used from "
        "212.36.35.20, planted on host us-sf01-596 (owner john.smith)"
    )
    # a customer principal (a hand-made context) is named instead of the IP
    customer = dict(cctx, principal_scope="customer", identities=["sue.johnson@acme.com"])
    assert " used by sue.johnson@acme.com, planted on" in tb.title_credential_used(credential, customer)
    assert tb.title_unknown_subtype(blog, dict(ctx, subtype=None)).startswith("Tracebit alert (no subtype)")
    assert "on aws_temporary_security_credentials" in tb.title_unknown_subtype(credential, cctx)
    assert tb.title_unknown_subtype({}, tb.alert_context({})).endswith("on an unknown canary")
    sctx = tb.alert_context(summary)
    assert tb.title_summary(summary, sctx).startswith("Tracebit alert summary [Unclassified]: sue.johnson")
    assert "[no classification]" in tb.title_summary({}, tb.alert_context({}))


def test_title_health():
    assert tb.title_health({"discriminator": {"subtype": "aws"}, "is_healthy": False}) == (
        "Tracebit integration unhealthy: aws"
    )
    assert "health unknown" in tb.title_health({})


# ---------------------------------------------------------------------------------------------
# KV cache
# ---------------------------------------------------------------------------------------------


def test_mfa_reset_key():
    assert tb.mfa_reset_key(" Sue.Johnson@Acme.com ") == "tracebit:mfa_reset:sue.johnson@acme.com"


def test_parse_record():
    assert mfa_cache._parse_record("") is None
    assert mfa_cache._parse_record("   ") is None
    assert mfa_cache._parse_record({}) is None
    assert mfa_cache._parse_record(None) is None
    assert mfa_cache._parse_record("[1]") is None
    assert mfa_cache._parse_record('{"a": 1}') == {"a": 1}
    assert mfa_cache._parse_record(b'{"a": 1}') == {"a": 1}
    assert mfa_cache._parse_record(ImmutableCaseInsensitiveDict({"a": [1]})) == {"a": [1]}


def test_recent_mfa_reset_json_string_mock():
    get = getter(MFA_JSON)
    record = tb.recent_mfa_reset(["Sue.Johnson@acme.com"], get)
    assert record["event_type"] == "user.mfa.factor.deactivate"
    assert record["identity"] == "sue.johnson@acme.com"
    assert record["key"] == "tracebit:mfa_reset:sue.johnson@acme.com"
    get.assert_called_once_with("tracebit:mfa_reset:sue.johnson@acme.com", force_ttl_check=True)


def test_recent_mfa_reset_dict_and_order():
    store = {"tracebit:mfa_reset:second@acme.com": {"event_type": "user.mfa.factor.reset_all"}}
    record = tb.recent_mfa_reset(
        ["first@acme.com", "", 5, "second@acme.com"], lambda k, **_: store.get(k, {})
    )
    assert record["identity"] == "second@acme.com"


@pytest.mark.parametrize("value", ["", {}, None, "not json", "[]", 0])
def test_recent_mfa_reset_empty_or_bad_values(value):
    assert tb.recent_mfa_reset(["a@b.co"], getter(value)) is None


def test_recent_mfa_reset_never_raises():
    assert tb.recent_mfa_reset(["a@b.co"], mock.MagicMock(side_effect=RuntimeError("no AWS"))) is None
    assert tb.recent_mfa_reset(["a@b.co"], None) is None
    assert tb.recent_mfa_reset(None, getter(MFA_JSON)) is None
    assert tb.recent_mfa_reset("a@b.co", getter(MFA_JSON))["identity"] == "a@b.co"


def test_recent_mfa_reset_caps_lookups():
    get = getter("")
    tb.recent_mfa_reset([f"u{i}@acme.com" for i in range(20)], get)
    assert get.call_count == 5  # five identities at most


def test_mfa_record_for_event_memoised(blog):
    get = getter(MFA_JSON)
    first = tb.mfa_record_for_event(blog, get)
    second = tb.mfa_record_for_event(blog, get)
    assert first is second and get.call_count == 1
    other = getter("")
    assert tb.mfa_record_for_event(blog, other) is None  # a different getter is a new lookup
    with mock.patch.object(tb, "recent_mfa_reset", side_effect=RuntimeError("boom")):
        assert tb.mfa_record_for_event(PantherEvent({}), get) is None  # the lookup failing: no escalation


def test_rule_alert_context(blog):
    ctx = tb.rule_alert_context(blog, getter(MFA_JSON))
    assert ctx["recent_mfa_reset"]["actor"] == "helpdesk.tier1@acme.com"
    assert "recent_mfa_reset" not in tb.rule_alert_context(PantherEvent(dict(blog)), getter(""))
    assert "recent_mfa_reset" not in tb.rule_alert_context(blog)
    health = tb.rule_alert_context({"p_log_type": "Tracebit.HealthCheck"}, getter(MFA_JSON))
    assert "recent_mfa_reset" not in health


def test_rule_severity(blog):
    assert tb.rule_severity(blog, getter(MFA_JSON)) == "CRITICAL"
    fresh = PantherEvent(dict(blog))
    assert tb.rule_severity(fresh, getter("")) == "HIGH"
    assert tb.rule_severity({"severity": "low"}, floor="HIGH") == "HIGH"
    assert tb.rule_severity({"severity": "nonsense"}, floor="HIGH") == "DEFAULT"
    assert tb.rule_severity({"severity": "low"}) == "LOW"


def test_rule_title(blog):
    assert tb.rule_title(blog, "resource", getter(MFA_JSON)).endswith(
        "after Okta user.mfa.factor.deactivate for sue.johnson@acme.com at 2024-12-13T09:41:07.512Z"
    )
    fresh = PantherEvent(dict(blog))
    assert tb.rule_title(fresh, "credential").startswith("Tracebit: canary credential an unknown")
    assert tb.rule_title(fresh, "summary").startswith("Tracebit alert summary")
    assert tb.rule_title(fresh, "unknown").startswith("Tracebit alert (canary_resource_accessed)")
    assert tb.rule_title(fresh, "nonsense").startswith("Tracebit alert (")


# ---------------------------------------------------------------------------------------------
# Classification and data-model helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "benign", "true_positive"),
    [
        ("BenignPositive", True, False),
        ("benign_positive", True, False),
        ("FALSE POSITIVE", True, False),
        ("Benign", True, False),
        ("TruePositive", False, True),
        ("Malicious", False, True),
        ("Unclassified", False, False),
        ("NeedsReview", False, False),
        (None, False, False),
        (["BenignPositive"], False, False),
        (1, False, False),
    ],
)
def test_classifications(value, benign, true_positive):
    assert tb.is_benign_classification(value) is benign
    assert tb.is_true_positive_classification(value) is true_positive


def test_actor_user():
    assert tb.actor_user({"principal": {"aws": {"arn": BLOG_ARN}}}) == "sue.johnson@acme.com"
    assert tb.actor_user({"principal": {"id": "AROA1:sue@acme.com"}}) == "sue@acme.com"
    assert tb.actor_user({"principal": {"id": "00u1"}}) == "00u1"
    assert tb.actor_user({"principal": {"aws": {"arn": "arn:aws:iam::1:role/R"}}}) == "arn:aws:iam::1:role/R"
    assert tb.actor_user({"principal": {"azure": {"app_id": "app"}}}) == "app"
    assert tb.actor_user({}) is None


def test_first_source_ip_and_event_types():
    assert tb.first_source_ip({"ip_addresses": ["1.2.3.4", "5.6.7.8"]}) == "1.2.3.4"
    assert tb.first_source_ip({}) is None
    assert tb.alert_event_type({"discriminator": {"subtype": "canary_resource_accessed"}}) == (
        "CANARY_RESOURCE_ACCESSED"
    )
    assert (
        tb.alert_event_type({"discriminator": {"subtype": "Canary_Credential_Used"}})
        == "CANARY_CREDENTIAL_USED"
    )
    assert tb.alert_event_type({}) == "TRACEBIT_ALERT_UNKNOWN_SUBTYPE"
    assert tb.health_event_type({"is_healthy": True}) == "TRACEBIT_INTEGRATION_HEALTHY"
    assert tb.health_event_type({"is_healthy": False}) == "TRACEBIT_INTEGRATION_UNHEALTHY"
    assert tb.health_event_type({}) == "TRACEBIT_INTEGRATION_HEALTH_UNKNOWN"


def test_fit_gives_up_after_bounded_passes(monkeypatch):
    monkeypatch.setattr(alert, "MAX_CONTEXT_CHARS", 0)
    context = {f"k{i}": [1, 2] for i in range(40)}
    assert alert._fit(context) is context  # bounded work even when nothing can fit
    assert sum(len(value) == 1 for value in context.values()) == 30  # 30 passes, one list each


# ----------------------------------------------------------------------------------------------
# Pivots in the rule alert context, and one context build per event
# ----------------------------------------------------------------------------------------------


def test_rule_alert_context_renders_pivots_with_this_alerts_values(blog):
    context = tb.rule_alert_context(blog)
    pivots = context["pivots"]
    assert set(pivots) == {
        "Tracebit.Pivot.PrincipalGetObjectHistory",
        "Tracebit.Pivot.IdentityOktaMFAResets",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        "Tracebit.Pivot.PrincipalAWSCredentialChanges",
        "Tracebit.Pivot.PackChangesBeforeAlert",
    }
    arn_pivot = pivots["Tracebit.Pivot.PrincipalGetObjectHistory"]
    assert f"'{context['principal_arn']}' AS principal_arn" in arn_pivot["sql"]
    assert f"strings.ilike(userIdentity.arn, '{context['principal_arn']}')" in arn_pivot["pantherflow"]
    okta_pivot = pivots["Tracebit.Pivot.IdentityOktaMFAResets"]
    assert "'sue.johnson@acme.com'" in okta_pivot["sql"]
    json.dumps(context, allow_nan=False)


def test_rule_alert_context_has_no_pivots_for_health_checks():
    event = {
        "p_log_type": "Tracebit.HealthCheck",
        "discriminator": {"type": "health_check", "subtype": "panther"},
        "timestamp": "2024-12-13T16:00:00Z",
        "is_healthy": False,
    }
    assert "pivots" not in tb.rule_alert_context(event)


def test_title_and_context_share_one_context_build(blog, monkeypatch):
    calls = []
    original = tb.alert_context

    def counting(event):
        calls.append(event)
        return original(event)

    monkeypatch.setattr(alert, "alert_context", counting)
    event = dict(blog)  # a new object, so the memo starts cold
    tb.rule_title(event, "resource")
    tb.rule_alert_context(event)
    tb.dedup(event)
    assert len(calls) == 1
    tb.rule_alert_context(dict(blog))  # another event object builds its own context
    assert len(calls) == 2


def test_rule_alert_context_does_not_mutate_the_shared_context(blog):
    event = dict(blog)
    first = tb.rule_alert_context(event, lambda key, force_ttl_check=False: '{"event_type": "x"}')
    assert "recent_mfa_reset" in first
    assert "recent_mfa_reset" not in tb.event_context(event)
    assert "pivots" not in tb.event_context(event)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        ("2.5", 2.5),
        (" 7 ", 7.0),
        (True, None),
        (None, None),
        ("x", None),
        (float("nan"), None),
        ("inf", None),
        ([1], None),
        ({}, None),
        ("1e400", None),
        (10**400, 10**400),
    ],
)
def test_as_number(value, expected):
    assert tb.as_number(value) == expected
    assert type(tb.as_number(value)) is type(expected)


# Regressions found by the fuzzer (tracebit_pack.dev.fuzz): titles built from 1,024-character log
# values went over Panther's 1,000-character title limit.
LONG = "x" * 1024


@pytest.mark.parametrize("kind", ["resource", "credential", "unknown", "summary"])
def test_titles_stay_under_the_limit_with_long_values(kind):
    event = {
        "p_log_type": "Tracebit.Alert" if kind != "summary" else "Tracebit.AlertSummary",
        "alert_id": LONG,
        "discriminator": {"type": "tracebit_alert_log", "subtype": LONG},
        "classification": LONG,
        "principal": {"id": LONG + "@example.com", "aws": {"arn": "arn:aws:iam::1:user/" + LONG}},
        "canary": {"name": LONG, "type": LONG},
        "canaries_accessed": [{"name": LONG, "type": LONG}] * 5,
        "canary_credential": {"name": LONG, "type": LONG},
    }
    record = {"identity": LONG, "event_type": LONG, "event_time": LONG}
    title = tb.rule_title(event, kind, lambda key, force_ttl_check=False: json.dumps(record))
    assert len(title) <= 999  # Panther cuts titles at 1,000 characters
    assert title.startswith("Tracebit")


def test_health_title_stays_under_the_limit():
    event = {"discriminator": {"type": "health_check", "subtype": LONG}, "is_healthy": False}
    assert len(tb.title_health(event)) < 1000


def test_clip_keeps_short_values_and_marks_cut_ones():
    assert tb.clip("abc") == "abc"
    assert tb.clip(None) == ""
    cut = tb.clip("y" * 500, 10)
    assert len(cut) == 10 and cut.endswith("\u2026")


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("canary_resource_accessed", "canary_resource_accessed"),
        ("Canary-Credential-Used", "canary_credential_used"),
        ("CANARY RESOURCE ACCESSED", "canary_resource_accessed"),
        ("canary", None),
        ("", None),
        ("canary_resource_accessed_v2", None),
        (["canary_resource_accessed"], "canary_resource_accessed"),
    ],
)
def test_subtype_key_fast_and_normalised_paths_agree(sent, expected):
    assert tb.subtype_key({"discriminator": {"subtype": sent}}) == expected


@pytest.mark.parametrize("event", [None, ["canary_resource_accessed"], "canary_resource_accessed", 7])
def test_subtype_key_of_an_event_that_is_not_a_mapping_is_none(event):
    """The fast path reads a plain dict only; anything else is no subtype, never an exception."""
    assert tb.subtype_key(event) is None


def test_subtype_key_fast_path_and_case_insensitive_walk_agree():
    exact = {"discriminator": {"subtype": "canary_credential_used"}}
    other_case = {"Discriminator": {"SubType": "canary_credential_used"}}
    assert tb.subtype_key(PantherEvent(exact)) == tb.subtype_key(other_case) == "canary_credential_used"


@pytest.mark.parametrize(
    ("classification", "benign"),
    [
        ("BenignPositive", True),
        ("benignpositive", True),
        ("Benign_Positive", True),
        ("FALSE-POSITIVE", True),
        ("Unclassified", False),
        ("truepositive", False),
        ("Benign Positive?", True),
        ("", False),
        (None, False),
    ],
)
def test_benign_classification_fast_and_normalised_paths_agree(classification, benign):
    assert tb.is_benign_classification(classification) is benign


@pytest.mark.parametrize(
    "event",
    [
        {"classification": "BenignPositive"},
        {"classification": "benign_positive"},
        {"Classification": "FalsePositive"},  # another case of the key: read as safe_get reads it
        {"classification": None, "CLASSIFICATION": "Benign"},  # the exact key, null, wins
        {"classification": ["Benign"]},
        {"classification": 3},
        {},
    ],
)
def test_classified_benign_reads_the_classification_as_safe_get_does(event):
    expected = tb.is_benign_classification(tb.safe_get(event, "classification"))
    assert tb.classified_benign(event) is tb.classified_benign(PantherEvent(event)) is expected


# Keys that make a mapping too large to be scanned, so that its key map is built and cached.
_MORE_KEYS = {f"filler{n}": n for n in range(4)}


def test_small_mappings_are_scanned_and_larger_ones_mapped_once():
    assert base._SCANNED_KEYS == 4
    base._LOWER_KEYS.clear()
    four = {"A": 1, "b": 2, 3: "int key", "B": 4}
    assert tb.safe_get(four, "a") == 1
    assert tb.safe_get(four, "B") == 4  # exact key first
    assert tb.safe_get(four, "c") is None
    assert base.get_case_insensitive(four, "b") == 4  # in any case, the last equal key wins
    assert base.get_case_insensitive(four, 3) is None  # only str keys are matched
    assert base._LOWER_KEYS == {}  # four keys: scanned, nothing cached
    five = {**four, "e": 5}
    assert base.get_case_insensitive(five, "b") == 4  # the same answer from the key map
    assert id(five) in base._LOWER_KEYS


@pytest.mark.parametrize(
    ("discriminator", "expected"),
    [
        ({"type": "tracebit_alert_log", "SubType": "Canary-Credential-Used"}, "canary_credential_used"),
        ({"type": "tracebit_alert_log", "subtype": None, "SUBTYPE": "canary_credential_used"}, None),
        ({"type": "tracebit_alert_log"}, None),
        ({"type": "tracebit_alert_log", "subtype": ["canary_resource_accessed"]}, "canary_resource_accessed"),
        ({"type": "tracebit_alert_log", "subtype": 7}, None),
    ],
)
def test_subtype_key_reads_the_discriminator_as_safe_get_does(discriminator, expected):
    event = {"discriminator": discriminator}
    assert tb.subtype_key(event) == tb.subtype_key(PantherEvent(event)) == expected
    sent = tb.safe_get(event, "discriminator", "subtype")
    assert expected == (tb.subtype_key({"discriminator": {"subtype": sent}}) if sent is not None else None)


def test_case_insensitive_lookup_on_raw_data_and_its_cache_bound():
    event = PantherEvent({"Discriminator": {"SubType": "canary_credential_used"}})
    assert tb.subtype_key(event) == "canary_credential_used"
    for index in range(base._LOWER_KEYS_MAX + 10):  # the key-map cache never grows past its bound
        tb.safe_get({f"K{index}": index, **_MORE_KEYS}, f"k{index}")
    assert len(base._LOWER_KEYS) <= 256
    base._LOWER_KEYS.clear()
    mappings = [{f"K{index}": index, **_MORE_KEYS} for index in range(100)]
    for index, mapping in enumerate(mappings):
        assert tb.safe_get(mapping, f"k{index}") == index
    assert len(base._LOWER_KEYS) == 100  # below the bound every key map is kept
    assert tb.safe_get({"Abc": 1}, "aBC") == 1


def test_spelling_memo_gives_the_same_answers_and_stays_bounded():
    for _ in range(2):  # the second pass answers from the memo
        assert (
            tb.subtype_key({"discriminator": {"subtype": "CANARY-RESOURCE-ACCESSED"}})
            == "canary_resource_accessed"
        )
        assert tb.is_benign_classification("Benign_Positive") is True
        assert tb.is_benign_classification("Unclassified") is False
    for index in range(canary._SPELLINGS_MAX + 10):
        tb.is_benign_classification(f"spelling-{index}")
        tb.subtype_key({"discriminator": {"subtype": f"spelling-{index}"}})
    assert len(canary._BENIGN_SPELLINGS) <= canary._SPELLINGS_MAX
    assert len(canary._SUBTYPE_SPELLINGS) <= canary._SPELLINGS_MAX


# --- Boundaries: each limit tested at the limit, against the number itself (not the constant) ------


@pytest.mark.parametrize("kind", ["resource", "credential", "unknown", "summary"])
def test_rule_title_is_cut_to_999_characters(kind, monkeypatch):
    builder = {
        "resource": "title_resource_accessed",
        "credential": "title_credential_used",
        "unknown": "title_unknown_subtype",
        "summary": "title_summary",
    }[kind]
    monkeypatch.setattr(tb, builder, lambda event, context, record=None: "T" * 5000)
    title = tb.rule_title({}, kind)
    assert len(title) == 999 and title == "T" * 998 + "\u2026"
    monkeypatch.setattr(tb, builder, lambda event, context, record=None: "T" * 999)
    assert tb.rule_title({}, kind) == "T" * 999


def test_clip_boundary():
    assert tb.clip("y" * 160) == "y" * 160  # exactly the limit: whole
    assert tb.clip("y" * 161) == "y" * 159 + "\u2026"
    assert tb.clip("abcd", 4) == "abcd"
    assert tb.clip("abcde", 4) == "abc\u2026"


def test_dedup_caps():
    assert tb.dedup({"alert_id": "a" * 1000}) == "a" * 256
    assert tb.dedup({"id": "i" * 1000}) == "no-alert-id:" + "i" * 256
    no_ids = {"principal": {"id": LONG}, "canaries_accessed": [{"name": LONG}] * 3}
    dedup = tb.dedup(no_ids)
    assert len(dedup) == 900 and dedup.startswith("no-alert-id:")
    assert (
        tb.health_dedup({"discriminator": {"subtype": "S" * 1000}}) == ("tracebit-health:" + "s" * 1000)[:256]
    )
    assert len(tb.health_dedup({"discriminator": {"subtype": "S" * 1000}})) == 256
    assert tb.health_dedup({}) == "tracebit-health:unknown"


def test_principal_type_of_a_root_arn():
    details = tb.principal_details({"principal": {"aws": {"arn": "arn:aws:iam::123456789012:root"}}})
    assert details["principal_type"] == "Root"
    assert details["principal_account_id"] == "123456789012"
    assert details["principal_provider"] == "aws"


def test_health_titles_without_a_subtype():
    assert tb.title_health({"is_healthy": False}) == "Tracebit integration unhealthy: unknown integration"
    assert tb.title_health({}) == (
        "Tracebit integration health unknown (is_healthy missing or unreadable): unknown integration"
    )


def test_safe_get_exact_case_null_wins_over_another_case():
    event = {"Key": None, "key": "other"}
    assert tb.safe_get(event, "Key") is None  # present and null: not the differently cased copy
    assert tb.safe_get(event, "Key", default="d") == "d"
    assert tb.safe_get({"Key": "v"}, "key") == "v"  # absent in this case: case-insensitive


def _context_of_size(size):
    context = {"a": ["", "y"]}
    overhead = len(json.dumps(context))
    context["a"][0] = "x" * (size - overhead)
    assert len(json.dumps(context)) == size
    return context


def test_fit_keeps_a_context_of_exactly_the_limit():
    at_limit = _context_of_size(150_000)
    assert alert._fit(copy.deepcopy(at_limit)) == at_limit
    over = alert._fit(_context_of_size(150_001))
    assert over["a"] == [over["a"][0]] and len(json.dumps(over)) <= 150_000


def test_canaries_phrase_counts_only_the_canaries_left_out():
    three = [{"name": name} for name in ("a", "b", "c")]
    assert alert._canaries_phrase(three) == "3 canaries: a, b, c"
    assert alert._canaries_phrase([*three, {"name": "d"}]) == "4 canaries: a, b, c +1 more"


def test_canary_label_falls_back_through_every_id():
    assert tb.canary_label({"provider_id": "pid"}) == "pid"
    assert tb.canary_label({"tracebit_id": "cnry_1"}) == "cnry_1"
    assert tb.canary_label({"resource_id": "rid", "provider_id": "pid"}) == "rid"
    assert tb.canary_label({"type": "aws_s3_bucket"}) == "aws_s3_bucket unnamed"
    assert tb.canary_label({}) == "an unknown canary"


def test_string_caps_in_the_alert_context():
    long = "v" * 5000
    event = {
        "p_log_type": "Tracebit.AlertSummary",
        "alert_id": long,
        "message": long,
        "classification_reason": long,
        "tracebit_portal_url": long,
        "event": {"request": {"user_agent": {"raw": long, "label": long}, "ip": "1" * 100}},
    }
    context = tb.alert_context(event)
    assert len(context["alert_id"]) == 1024  # any log string
    assert len(context["user_agent_label"]) == 1024
    assert len(context["message"]) == 4096
    assert len(context["classification_reason"]) == 4096
    assert len(context["portal_url"]) == 2048
    assert len(context["user_agent"]) == 2048
    assert context["source_ips"] == ["1" * 64]
    assert tb.as_str("s" * 2000) == "s" * 1024


def test_input_lists_are_read_up_to_100_entries():
    """Up to 100 raw entries are read (duplicates and junk included) to fill at most 50 values."""
    ips = ["10.0.0.1"] * 60 + [f"10.0.1.{n}" for n in range(60)]
    assert tb.source_ips({"ip_addresses": ips}) == ["10.0.0.1"] + [f"10.0.1.{n}" for n in range(40)]
    resources = [{}] * 60 + [{"id": f"r{n}"} for n in range(60)]
    found = tb.resources({"event": {"resources": resources}})
    assert [r["id"] for r in found] == [f"r{n}" for n in range(40)]
    indicators = [{}] * 60 + [{"id": f"i{n}"} for n in range(60)]
    assert [i["id"] for i in tb.indicators({"indicators": indicators})] == [f"i{n}" for n in range(40)]
    canaries = [{}] * 60 + [{"name": f"c{n}"} for n in range(60)]
    assert [c["name"] for c in tb.canaries({"canaries_accessed": canaries})] == [f"c{n}" for n in range(40)]
    labels = [{"name": f"l{n}", "value": "v"} for n in range(60)]
    assert len(tb.canary_credential({"canary_credential": {"labels": labels}})["labels"]) == 50


def test_dedup_without_ids_names_the_first_three_canaries():
    event = {"canaries_accessed": [{"name": n} for n in ("a", "b", "c", "d")]}
    assert tb.dedup(event) == "no-alert-id:an unknown principal:a,b,c"


def _nest_lists(levels):
    value = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def _unwrap(value, levels):
    for _ in range(levels):
        value = value[0]
    return value


def test_to_plain_nesting_limit_counts_lists_too():
    assert _unwrap(tb.to_plain(_nest_lists(20)), 20) == "leaf"
    assert _unwrap(tb.to_plain(_nest_lists(21)), 21) is None


def test_mfa_suffix_caps_the_event_type_and_time():
    record = {"identity": "a@b.co", "event_type": "e" * 300, "event_time": "t" * 300}
    suffix = mfa_cache.mfa_title_suffix(record)
    assert f"Okta {'e' * 128} for a@b.co at {'t' * 39}\u2026" in suffix
    assert "e" * 129 not in suffix


def test_subtype_of_the_shortest_known_length_is_still_matched():
    assert tb.subtype_key({"discriminator": {"subtype": "CanaryCredentialUsed"}}) == "canary_credential_used"
    assert tb.subtype_key({"discriminator": {"subtype": "canarycredentialuse"}}) is None


def test_canary_provider_is_the_first_block_present():
    canary = {"name": "c", "aws": {"account_id": "1"}, "okta": {"domain": "acme.okta.com"}}
    assert tb.normalise_canary(canary)["provider"] == "aws"
    assert tb.normalise_canary({"name": "c"}, "AWS")["provider"] == "aws"


def test_identities_from_the_aws_username_alone():
    assert tb.identities({"principal": {"aws": {"username": "alice"}}}) == ["alice"]
    assert tb.identities({"principal": {"aws": {"username": "i-0123456789abcdef0"}}}) == []


def test_key_map_and_spelling_caches_are_reused():
    mapping = {"Alpha": 1, **_MORE_KEYS}
    assert tb.safe_get(mapping, "alpha") == 1
    entry = base._LOWER_KEYS[id(mapping)]
    assert tb.safe_get(mapping, "ALPHA") == 1
    assert base._LOWER_KEYS[id(mapping)] is entry  # built once per mapping
    canary._SUBTYPE_SPELLINGS.clear()
    for index in range(20):
        tb.subtype_key({"discriminator": {"subtype": f"Canary-Resource-Accessed-{index:02d}"}})
    assert len(canary._SUBTYPE_SPELLINGS) == 20  # below the bound every spelling is remembered


def test_fit_returns_a_context_it_cannot_measure():
    odd_keys = {(1, 2): "tuple key"}
    assert alert._fit(odd_keys) is odd_keys  # json: keys must be str (TypeError)
    circular = {"a": []}
    circular["a"].append(circular)
    assert alert._fit(circular) is circular  # json: circular reference (ValueError)


def test_fit_drops_text_before_emptying_one_element_lists(monkeypatch):
    monkeypatch.setattr(alert, "MAX_CONTEXT_CHARS", 1000)
    context = {"canaries": ["c"], "source_ips": ["1.2.3.4"], "message": "m" * 5000}
    fitted = alert._fit(context)
    assert fitted["canaries"] == ["c"] and fitted["source_ips"] == ["1.2.3.4"]
    assert fitted["message"] is None


def test_reference_keeps_portal_urls_up_to_2048_characters():
    url = "https://acme.tracebit.com/alerts/" + "a" * (2048 - 33)
    assert len(url) == 2048
    assert tb.reference({"tracebit_portal_url": url}) == url
    assert tb.reference({"tracebit_portal_url": url + "bc"}) == url  # cut to 2,048 characters


def test_principal_label_names_the_first_identity():
    context = {"identities": ["first@acme.com", "second"], "principal_arn": None}
    assert tb.principal_label({}, context) == "first@acme.com"
    context["principal_arn"] = "arn:aws:sts::123456789012:assumed-role/Engineer/first@acme.com"
    assert tb.principal_label({}, context) == "first@acme.com (role Engineer)"


def test_caches_never_hold_more_than_their_bound():
    base._LOWER_KEYS.clear()
    mappings = [{f"K{index}": index, **_MORE_KEYS} for index in range(257)]
    for index, mapping in enumerate(mappings):
        tb.safe_get(mapping, f"k{index}")
    assert len(base._LOWER_KEYS) <= 256
    canary._SUBTYPE_SPELLINGS.clear()
    for index in range(513):
        tb.subtype_key({"discriminator": {"subtype": f"Canary-Resource-Accessed-{index:03d}"}})
    assert len(canary._SUBTYPE_SPELLINGS) <= 512


def test_fit_drops_one_text_field_at_a_time_until_it_fits(monkeypatch):
    monkeypatch.setattr(alert, "MAX_CONTEXT_CHARS", 1000)
    fitted = alert._fit({"principal": "p" * 5000, "message": "short"})
    assert fitted == {"principal": None, "message": "short"}  # the first one was enough
    fitted = alert._fit({"principal": "p" * 5000, "message": "m" * 5000, "classification_reason": "r"})
    assert fitted == {"principal": None, "message": None, "classification_reason": "r"}


def test_classification_in_a_str_subclass_takes_the_normalised_path():
    class Text(str):
        pass

    assert tb.is_benign_classification(Text("benign_positive")) is True
    assert tb.is_benign_classification(Text("TruePositive")) is False
    assert tb.is_benign_classification(["BenignPositive"]) is False


def test_okta_alternate_id_that_is_neither_email_nor_username_is_no_identity():
    assert tb.identities({"principal": {"okta": {"alternate_id": "not an identity"}}}) == []
    assert tb.identities({"principal": {"okta": {"alternate_id": "Dave.Smith@acme.com"}}}) == [
        "dave.smith@acme.com"
    ]


# --- The KV record of an MFA / password reset and the rows of the scheduled MFA rules ------------


def test_mfa_reset_record_caps_each_field_at_its_length():
    record = tb.mfa_reset_record("S" * 70, "E" * 130, "T" * 70, "actor", "U" * 130, event_source="iam")
    assert record == {
        "source": "S" * 64,
        "event_type": "E" * 128,
        "event_time": "T" * 64,
        "actor": "actor",
        "uuid": "U" * 128,
        "event_source": "iam",
    }


def test_mfa_reset_phrase_keeps_a_64_character_source_whole():
    assert tb.mfa_reset_phrase("S" * 64, "Deactivate") == "S" * 64 + " Deactivate"
    assert tb.mfa_reset_phrase("S" * 70, "Deactivate") == "S" * 64 + " Deactivate"
    assert tb.mfa_reset_phrase(None, "x") == "Okta x"


def test_remember_mfa_reset_counts_its_writes_and_skips_blank_identities():
    written = []

    def put(key, value, epoch_seconds=None):
        if key.endswith("boom"):
            raise RuntimeError("throttled")
        written.append((key, epoch_seconds))

    identities = ["", 7, "  ", "boom", "a", *(f"u{n}" for n in range(20))]
    count = tb.remember_mfa_reset(put, {"not": "an event"}, identities, {"source": "AWS"})
    # the first 10 entries are read: 3 unusable, one failed write, 6 written
    assert count == 6 == len(written)
    assert [key for key, _ in written] == [tb.mfa_reset_key(i) for i in ["a", "u0", "u1", "u2", "u3", "u4"]]
    assert {expires for _, expires in written} == {
        tb.MFA_RESET_TTL_SECONDS
    }  # a plain dict: "7 days from now"
    assert tb.remember_mfa_reset(put, {}, [f"v{n}" for n in range(12)], {}) == 10
    assert tb.remember_mfa_reset(None, {}, ["a"], {}) == 0


def test_row_text_reads_only_non_empty_strings():
    assert tb.row_text({"k": "text"}, "k") == "text"
    for value in (7, ["text"], {"a": 1}, True, "", None):
        assert tb.row_text({"k": value}, "k") is None


def test_mfa_row_dedup_is_capped_at_900_characters():
    row = {"alert_id": "a" * 897, "identity": "bc"}
    assert tb.mfa_row_dedup(row) == "a" * 897 + ":bc"  # exactly 900
    long = tb.mfa_row_dedup(dict(row, identity="bcd"))
    assert len(long) == 900 and long.endswith("\u2026")


def test_mfa_row_reference_takes_only_an_https_portal_url():
    assert tb.mfa_row_reference({"tracebit_portal_url": "https://acme.tracebit.com/a/1"}) == (
        "https://acme.tracebit.com/a/1"
    )
    assert tb.mfa_row_reference({"tracebit_portal_url": "http://acme.tracebit.com/a/1"}) == tb.TRACEBIT_SITE
    assert tb.mfa_row_reference({}) == tb.TRACEBIT_SITE


def test_mfa_row_matches_needs_an_alert_an_identity_and_the_reset_column():
    row = {"alert_id": "a1", "identity": "sue@acme.com", "reset_event_type": "user.mfa.factor.deactivate"}
    assert tb.mfa_row_matches(row, "reset_event_type") is True
    for key in row:
        assert tb.mfa_row_matches(dict(row, **{key: ""}), "reset_event_type") is False
        assert tb.mfa_row_matches(dict(row, **{key: 7}), "reset_event_type") is False
    assert tb.mfa_row_matches(row, "change_event_name") is False


def test_mfa_row_context_reads_each_section_key_from_its_column():
    row = {
        "identity": "sue@acme.com",
        "alert_id": "a1",
        "reset_time": "t",
        "minutes": "12",
        "mfa_lookback_days": 7,
    }
    context = tb.mfa_row_context(
        row, "okta_reset", {"event_time": "reset_time", "actor": "reset_actor"}, "minutes"
    )
    keys = ["identities", "tracebit", "okta_reset", "minutes", "mfa_lookback_days", "pivots"]
    assert list(context) == keys
    assert context["pivots"] == {}  # no alert time in the row: no pivot window
    assert context["identities"] == ["sue@acme.com"]
    assert context["tracebit"]["alert_id"] == "a1"
    assert context["okta_reset"] == {"event_time": "t", "actor": None}
    assert (context["minutes"], context["mfa_lookback_days"]) == (12.0, 7)
    assert tb.mfa_row_context({}, "s", {}, "m") == {
        "identities": [],
        "tracebit": tb.mfa_row_tracebit({}),
        "s": {},
        "m": None,
        "mfa_lookback_days": None,
        "pivots": {},
    }


def test_scheduled_pivots_are_the_alert_pivots_of_the_tracebit_side():
    arn = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
    when = "2024-12-13 16:20:00.000"
    expected = tb.tracebit_pivots.render_pivots(
        {"principal_arn": arn, "identities": ["sue.johnson@acme.com"], "alert_time": when}
    )
    # the four principal pivots, and the Panther.Audit pivot every Tracebit alert carries
    assert sorted(expected) == [
        "Tracebit.Pivot.IdentityOktaMFAResets",
        "Tracebit.Pivot.PackChangesBeforeAlert",
        "Tracebit.Pivot.PrincipalAWSCredentialChanges",
        "Tracebit.Pivot.PrincipalActivityAroundAlert",
        "Tracebit.Pivot.PrincipalGetObjectHistory",
    ]
    assert tb.scheduled_pivots(arn, ["sue.johnson@acme.com"], when) == expected
    assert tb.scheduled_pivots(arn, [], when) == expected  # the session name is the identity
    only_okta = tb.scheduled_pivots(None, ["sue.johnson@acme.com"], when)
    # without an ARN no principal pivot runs; the pack-changes pivot needs only the alert time
    assert sorted(only_okta) == [
        "Tracebit.Pivot.IdentityOktaMFAResets",
        "Tracebit.Pivot.PackChangesBeforeAlert",
    ]
    for bad in (None, 7, "", "not-an-arn"):
        assert tb.scheduled_pivots(bad, bad, bad) == {}


# ------------------------------------------------------------------------------ event time, fast path

_TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 30))


@settings(max_examples=300)
@given(
    when=_TIMES,
    separator=st.sampled_from((" ", "T")),
    fraction=st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True)),
    odd=st.sampled_from(("", " UTC", "Z", "+01:00", "x")),
)
def test_the_event_epoch_is_panther_cores_for_every_time_text(when, separator, fraction, odd):
    """Panther's p_event_time form is read without dateutil; the answer is panther_core's own."""
    text = when.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + fraction + odd
    event = PantherEvent({"p_event_time": text})
    try:
        expected = int(event.event_time_epoch())
    except Exception:  # noqa: BLE001 - what the helper then answers
        expected = 0
    assert tb._event_epoch(event) == expected


@pytest.mark.parametrize(
    "text", ["2024-02-30 10:00:00", "2024-12-13 24:00:00", "1969-12-31 23:59:59.5", None, 5]
)
def test_the_event_epoch_of_odd_times_is_panther_cores(text):
    event = PantherEvent({"p_event_time": text})
    try:
        expected = int(event.event_time_epoch())
    except Exception:  # noqa: BLE001
        expected = 0
    assert tb._event_epoch(event) == expected
