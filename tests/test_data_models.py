"""Data models for the Tracebit log types, exercised through panther_core's DataModel and PantherEvent
(the classes Panther and pat use), so `event.udm(...)` resolves exactly as it does in Panther."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from panther_core.data_model import DataModel
from panther_core.enriched_event import PantherEvent

REPO = Path(__file__).resolve().parent.parent
DATA_MODELS = REPO / "data_models"
RULES = REPO / "rules" / "tracebit_rules"
BLOG_ARN = "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com"


def _specs() -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(DATA_MODELS.glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        if spec.get("AnalysisType") == "datamodel":
            out.append((path, spec))
    return out


def load_model(log_type: str) -> DataModel:
    for path, spec in _specs():
        if log_type in spec["LogTypes"]:
            mappings = [
                {key.lower(): value for key, value in mapping.items()} for mapping in spec["Mappings"]
            ]
            config = {"id": spec["DataModelID"], "versionId": "test", "mappings": mappings}
            if spec.get("Filename"):
                config["body"] = (path.parent / spec["Filename"]).read_text()
            return DataModel(config)
    raise KeyError(log_type)


def rule_log(rule_file: str, name: str) -> dict:
    spec = yaml.safe_load((RULES / rule_file).read_text())
    return next(test["Log"] for test in spec["Tests"] if test["Name"] == name)


def udm(log_type: str, log: dict, key: str):
    return PantherEvent(log, load_model(log_type)).udm(key)


def test_one_enabled_data_model_per_log_type():
    seen: dict[str, str] = {}
    for _, spec in _specs():
        assert spec["Enabled"] is True
        for log_type in spec["LogTypes"]:
            assert log_type not in seen, f"{log_type} in {seen.get(log_type)} and {spec['DataModelID']}"
            seen[log_type] = spec["DataModelID"]
    assert set(seen) == {"Tracebit.Alert", "Tracebit.AlertSummary", "Tracebit.HealthCheck"}


@pytest.mark.parametrize("log_type", ["Tracebit.Alert", "Tracebit.AlertSummary"])
def test_required_mappings_present(log_type):
    model = load_model(log_type)
    names = set(model.paths) | set(model.methods)
    assert {"actor_user", "source_ip", "user_agent", "event_type"} <= names


# --- Tracebit.Alert --------------------------------------------------------------------------

ALERT_CASES = [
    (
        "AWS assumed-role (Okta federated) GetObject on a canary S3 bucket",
        "sue.johnson@acme.com",
        "185.220.101.34",
        "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/s3.cp",
    ),
    (
        "Azure app principal lists keys of a canary storage account",
        "8d7c6b5a-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
        "20.115.44.201",
        "python/3.10.12 azsdk-python-mgmt-storage/21.1.0",
    ),
    (
        "Okta user signs in to a canary Okta application",
        "Dave.Smith@acme.com",
        "102.129.153.18",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "GCP workload-identity principal reads a canary bucket",
        "build-bot@acme.com",
        "34.141.22.87",
        "google-cloud-sdk gcloud/503.0.0 command/gcloud.storage.cp",
    ),
    ("IAM user with empty resources and no request details", "svc-backup-reader", None, None),
    ("Sparse alert log: no principal, canary or event still alerts", None, None, None),
]


@pytest.mark.parametrize(("name", "actor", "ip", "agent"), ALERT_CASES)
def test_alert_model(name, actor, ip, agent):
    log = rule_log("tracebit_canary_resource_accessed.yml", name)
    assert log["p_log_type"] == "Tracebit.Alert"
    assert udm("Tracebit.Alert", log, "actor_user") == actor
    assert udm("Tracebit.Alert", log, "source_ip") == ip
    assert udm("Tracebit.Alert", log, "user_agent") == agent  # None: the log has no user agent
    assert udm("Tracebit.Alert", log, "event_type") == "CANARY_RESOURCE_ACCESSED"


def test_alert_model_credential_and_unknown_subtype():
    log = rule_log(
        "tracebit_canary_credential_used.yml",
        "Panther's sample, AWS temporary credentials planted on a laptop, pivots on the owner and the IP",
    )
    assert udm("Tracebit.Alert", log, "event_type") == "CANARY_CREDENTIAL_USED"
    # the principal is Tracebit's federated user: the actor is the owner of the credential
    assert udm("Tracebit.Alert", log, "actor_user") == "john.smith"
    assert udm("Tracebit.Alert", log, "user_agent").startswith("aws-cli/2.15.42")
    unknown = rule_log("tracebit_alert_unknown_subtype.yml", "Alert log without a subtype alerts")
    assert udm("Tracebit.Alert", unknown, "event_type") == "TRACEBIT_ALERT_UNKNOWN_SUBTYPE"


def test_alert_model_odd_types_do_not_raise():
    log = {
        "p_log_type": "Tracebit.Alert",
        "principal": "sue.johnson@acme.com",
        "event": {"request": {"ip": ["198.51.100.7", "198.51.100.8"], "user_agent": "curl/8.4.0"}},
        "discriminator": None,
    }
    assert udm("Tracebit.Alert", log, "actor_user") == "sue.johnson@acme.com"
    assert udm("Tracebit.Alert", log, "source_ip") == "198.51.100.7"
    assert udm("Tracebit.Alert", log, "user_agent") is None
    assert udm("Tracebit.Alert", log, "event_type") == "TRACEBIT_ALERT_UNKNOWN_SUBTYPE"


# --- Tracebit.AlertSummary -------------------------------------------------------------------


def test_summary_model():
    log = rule_log(
        "tracebit_alert_summary_not_benign.yml", "Unclassified summary of the blog incident alerts"
    )
    assert log["p_log_type"] == "Tracebit.AlertSummary"
    assert log["principal"]["aws"]["arn"] == BLOG_ARN
    assert udm("Tracebit.AlertSummary", log, "actor_user") == "sue.johnson@acme.com"
    assert udm("Tracebit.AlertSummary", log, "source_ip") == "185.220.101.34"
    assert udm("Tracebit.AlertSummary", log, "user_agent") is None
    assert udm("Tracebit.AlertSummary", log, "event_type") == "CANARY_RESOURCE_ACCESSED"


def test_summary_model_okta_and_sparse():
    okta = rule_log("tracebit_alert_summary_not_benign.yml", "Okta principal with two canary applications")
    assert udm("Tracebit.AlertSummary", okta, "actor_user") == "dave.smith@acme.com"
    assert udm("Tracebit.AlertSummary", okta, "source_ip") == "102.129.153.18"
    sparse = rule_log(
        "tracebit_alert_summary_not_benign.yml",
        "Sparse summary: no principal, no subtype, empty canaries, IPs and indicators",
    )
    assert udm("Tracebit.AlertSummary", sparse, "actor_user") is None
    assert udm("Tracebit.AlertSummary", sparse, "source_ip") is None
    assert udm("Tracebit.AlertSummary", sparse, "event_type") == "TRACEBIT_ALERT_UNKNOWN_SUBTYPE"
    odd = {"p_log_type": "Tracebit.AlertSummary", "ip_addresses": "203.0.113.9", "principal": ["x"]}
    assert udm("Tracebit.AlertSummary", odd, "source_ip") == "203.0.113.9"
    assert udm("Tracebit.AlertSummary", odd, "actor_user") == "x"


# --- Tracebit.HealthCheck --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, "TRACEBIT_INTEGRATION_UNHEALTHY"),
        (True, "TRACEBIT_INTEGRATION_HEALTHY"),
        ("false", "TRACEBIT_INTEGRATION_UNHEALTHY"),
        (None, "TRACEBIT_INTEGRATION_HEALTH_UNKNOWN"),
    ],
)
def test_health_model(value, expected):
    log = dict(
        rule_log("tracebit_health_check_unhealthy.yml", "Unhealthy integration alerts"), is_healthy=value
    )
    assert udm("Tracebit.HealthCheck", log, "event_type") == expected


# What every Method gives on an empty event and on a plain dict holding only the blog ARN.
UNKNOWN_EVENT_TYPE = {
    "Tracebit.Alert": "TRACEBIT_ALERT_UNKNOWN_SUBTYPE",
    "Tracebit.AlertSummary": "TRACEBIT_ALERT_UNKNOWN_SUBTYPE",
    "Tracebit.HealthCheck": "TRACEBIT_INTEGRATION_HEALTH_UNKNOWN",
}


def test_data_model_methods_directly():
    """Every Method in every data-model module, called on a plain dict and on an empty event."""
    called = 0
    for path, spec in _specs():
        log_type = spec["LogTypes"][0]
        model = load_model(log_type)
        for mapping in spec["Mappings"]:
            if "Method" not in mapping:
                continue
            method = model.methods[mapping["Name"]]
            empty = method(PantherEvent({}))
            arn_only = method({"principal": {"aws": {"arn": BLOG_ARN}}})
            if mapping["Name"] == "event_type":
                assert empty == arn_only == UNKNOWN_EVENT_TYPE[log_type]
            elif mapping["Name"] == "actor_user":
                assert (empty, arn_only) == (None, "sue.johnson@acme.com")
            else:
                assert (empty, arn_only) == (None, None), mapping["Name"]
            called += 1
        assert path.with_suffix(".py").exists()
    assert called == 9  # four methods per alert model, one for health checks
