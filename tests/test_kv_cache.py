"""The Okta MFA-reset signal rule writes Panther's KV cache; read back with the real boto3 calls.

Runs against moto's DynamoDB with the table ``panther_detection_helpers.caching`` uses
(``panther-kv-store``, hash key ``key``), so ``put_dictionary`` / ``get_dictionary`` run unmodified.
Also checks the other side of the contract (docs/DESIGN.md): a Tracebit rule reading the same table
escalates to CRITICAL with ``recent_mfa_reset``, and a cache failure never loses the signal.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from panther_core.enriched_event import PantherEvent
from panther_detection_helpers import caching

REPO_ROOT = Path(__file__).resolve().parent.parent
SIGNAL_RULE = REPO_ROOT / "rules" / "tracebit_signal_rules" / "tracebit_okta_mfa_reset_signal.py"
TRACEBIT_RULE = REPO_ROOT / "rules" / "tracebit_rules" / "tracebit_canary_resource_accessed.py"
SUE_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
SEVEN_DAYS = 7 * 24 * 3600


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def signal():
    return load_module(SIGNAL_RULE, "_test_okta_mfa_reset_signal")


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("KV_STORE_TABLE_NAME", raising=False)


@pytest.fixture
def kv_table(aws_env):
    with mock_aws():
        caching._KV_TABLE = None
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="panther-kv-store",
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield table
        caching._KV_TABLE = None


@pytest.fixture
def no_table(aws_env):
    """DynamoDB reachable but the table missing: every cache call raises."""
    with mock_aws():
        caching._KV_TABLE = None
        yield
        caching._KV_TABLE = None


def okta_event(
    published: dt.datetime, event_type="user.mfa.factor.deactivate", targets=None, result="SUCCESS"
):
    raw = {
        "uuid": "5b8a1f0e-9c6a-11ef-8e1b-2f4d3b6a7c01",
        "published": published.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "p_event_time": published.strftime("%Y-%m-%d %H:%M:%S.000"),
        "p_log_type": "Okta.SystemLog",
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "actor": {"id": "00u1helpdesk", "type": "User", "alternateId": "helpdesk.agent@acme.com"},
        "outcome": {"result": result, "reason": "User reset OKTA_VERIFY_PUSH factor"},
        "target": targets
        if targets is not None
        else [{"id": "00u1sue", "type": "User", "alternateId": "Sue.Johnson@acme.com"}],
    }
    return PantherEvent(raw)


def recent():
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)


def test_signal_writes_the_contract_record_and_get_dictionary_reads_it(kv_table, signal):
    published = recent()
    event = okta_event(published)
    assert signal.rule(event) is True
    record = caching.get_dictionary("tracebit:mfa_reset:sue.johnson@acme.com", force_ttl_check=True)
    assert record == {
        "source": "Okta",
        "event_type": "user.mfa.factor.deactivate",
        "event_time": published.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "actor": "helpdesk.agent@acme.com",
        "uuid": "5b8a1f0e-9c6a-11ef-8e1b-2f4d3b6a7c01",
    }
    item = kv_table.get_item(Key={"key": "tracebit:mfa_reset:sue.johnson@acme.com"})["Item"]
    assert int(item["expiresAt"]) == int(published.timestamp()) + SEVEN_DAYS  # TTL from the event time
    assert json.loads(item["dictionary"]) == record


def test_every_user_target_is_recorded_lower_cased(kv_table, signal):
    targets = [
        {"id": "0oa1", "type": "AppInstance", "alternateId": "Okta Admin Console"},
        {"id": "00u1", "type": "User", "alternateId": "Bob@Acme.com"},
        {"id": "00u2", "type": "User", "alternateId": "carol@acme.com"},
    ]
    assert signal.rule(okta_event(recent(), "system.mfa.factor.deactivate", targets)) is True
    keys = sorted(item["key"] for item in kv_table.scan()["Items"])
    assert keys == ["tracebit:mfa_reset:bob@acme.com", "tracebit:mfa_reset:carol@acme.com"]


def test_old_reset_is_expired_for_readers(kv_table, signal):
    published = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=8)
    assert signal.rule(okta_event(published)) is True
    # the item exists (DynamoDB deletes expired items lazily) but readers with force_ttl_check ignore it
    assert kv_table.get_item(Key={"key": "tracebit:mfa_reset:sue.johnson@acme.com"}).get("Item")
    assert caching.get_dictionary("tracebit:mfa_reset:sue.johnson@acme.com", force_ttl_check=True) == {}


@pytest.mark.parametrize(
    ("event_type", "result", "targets"),
    [
        ("user.session.start", "SUCCESS", None),
        ("user.mfa.factor.reset_all", "FAILURE", None),
        ("user.mfa.factor.suspend", "SUCCESS", [{"id": "0oa1", "type": "AppInstance", "alternateId": "App"}]),
    ],
)
def test_non_matching_events_write_nothing(kv_table, signal, event_type, result, targets):
    assert signal.rule(okta_event(recent(), event_type, targets, result)) is False
    assert kv_table.scan()["Items"] == []


def test_missing_table_never_loses_the_signal(no_table, signal):
    event = okta_event(recent())
    assert signal.rule(event) is True
    assert signal.alert_context(event)["identities"] == ["sue.johnson@acme.com"]


def test_put_dictionary_exception_never_loses_the_signal(signal, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("DynamoDB throttled")

    monkeypatch.setattr(signal, "put_dictionary", boom)
    assert signal.rule(okta_event(recent())) is True


def test_unparseable_event_time_falls_back_to_seven_days_from_now(kv_table, signal):
    event = PantherEvent(
        {
            "uuid": "u-1",
            "published": "garbage",
            "p_event_time": "garbage",
            "eventType": "user.mfa.factor.reset_all",
            "target": [{"id": "00u1", "type": "User", "alternateId": "sue.johnson@acme.com"}],
        }
    )
    assert signal.rule(event) is True
    item = kv_table.get_item(Key={"key": "tracebit:mfa_reset:sue.johnson@acme.com"})["Item"]
    now = int(dt.datetime.now(dt.UTC).timestamp())
    assert abs(int(item["expiresAt"]) - (now + SEVEN_DAYS)) < 120


def test_tracebit_rule_escalates_from_the_record_the_signal_wrote(kv_table, signal):
    """End to end through DynamoDB: signal rule write -> Tracebit rule read (both real caching calls)."""
    if not TRACEBIT_RULE.is_file():
        pytest.skip("Tracebit rules not in this checkout")
    tracebit_rule = load_module(TRACEBIT_RULE, "_test_tracebit_canary_resource_accessed")
    alert_time = recent() + dt.timedelta(minutes=30)
    alert = PantherEvent(
        {
            "p_log_type": "Tracebit.Alert",
            "p_event_time": alert_time.strftime("%Y-%m-%d %H:%M:%S.000"),
            "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
            "id": "log-1",
            "alert_id": "alert-1",
            "timestamp": alert_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "severity": "low",
            "canary": {"name": "acme-prod-customer-exports", "type": "AWS::S3::Bucket"},
            "principal": {
                "id": "AROA3XFRBF535PLBIFPI4:sue.johnson@acme.com",
                "aws": {
                    "arn": "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"
                },
            },
        }
    )
    assert tracebit_rule.rule(alert) is True
    before = tracebit_rule.severity(alert)
    assert "recent_mfa_reset" not in tracebit_rule.alert_context(alert)

    assert signal.rule(okta_event(recent())) is True
    alert = PantherEvent(dict(alert.to_dict()) if hasattr(alert, "to_dict") else dict(alert))
    assert tracebit_rule.severity(alert) == "CRITICAL"
    assert before != "CRITICAL"
    context = tracebit_rule.alert_context(alert)
    assert context["recent_mfa_reset"]["event_type"] == "user.mfa.factor.deactivate"


@pytest.mark.parametrize("event_type", [["user.mfa.factor.deactivate"], {"a": 1}, 7, None])
def test_signal_rule_ignores_non_string_event_types(signal, event_type):
    # Regression found by the fuzzer: a list eventType made `in frozenset` raise TypeError.
    from panther_core.enriched_event import PantherEvent

    assert signal.rule(PantherEvent({"eventType": event_type, "p_log_type": "Okta.SystemLog"})) is False
