# ruff: noqa: E501 - event data: long literal lines
"""Regenerate the Panther audit logs of the bundled scenarios (deterministic): ``python scenarios/generate_audit.py``.

Writes ``scenarios/detection_tampering/*.jsonl`` (a console session blinds the canaries, then a
canary is touched) and ``scenarios/benign_baseline/Panther.Audit.jsonl`` (the pipeline's upload and
ordinary console use, which raise nothing). The stories are in the scenarios' README.md; what they
must raise is in their expected.yml.

Event shapes follow Panther's documentation and panther-analysis's test events: ``DELETE_DETECTION``
carries ``actionParams.dynamic.input.detections[].id``. The ``actionParams`` of the other actions
are undocumented; these events put the item's id and settings in ``dynamic.input`` the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PANTHER_VERSION = "1.108.4"
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PAT_UA = "panther_analysis_tool/0.60.0"
PIPELINE = {"id": "6b8c1f0e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "tracebit-pack-upload", "type": "TOKEN"}
RUNNER_IP = "20.57.44.101"  # a GitHub-hosted runner


def user(email: str, role: str, role_id: str) -> dict:
    return {
        "attributes": {"email": email, "emailVerified": True, "roleId": role_id, "roleName": role},
        "id": f"PantherSSO_{email}",
        "name": email,
        "type": "USER",
    }


ANALYST = user("priya.nair@acme.com", "Analyst", "5d2f8c1a-7b3e-4f60-9a1d-2c4e6f8a0b13")
INTRUDER = user("contractor.lee@acme.com", "Admin", "0e9a4b7c-3d21-4f8e-b6a5-9c8d7e6f5a41")
ADMIN = user("maria.garcia@acme.com", "Admin", "0e9a4b7c-3d21-4f8e-b6a5-9c8d7e6f5a41")


def panther_time(moment: datetime) -> str:
    """Panther's stored form, milliseconds: ``2025-04-07 09:01:27.118``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


DESCRIPTIONS = {
    "DELETE_DETECTION": "Deletes detections",
    "EXECUTE_DATA_LAKE_QUERY": "Executes a data lake query",
    "GET_RULE": "Gets a rule",
    "LIST_DETECTIONS": "Lists detections",
    "SIGN_IN": "Signs a user in",
    "UPDATE_DETECTION_STATE": "Enables or disables detections",
    "UPDATE_RULE": "Updates a rule",
    "UPLOAD_DETECTION_ENTITIES": "Bulk uploads detections, queries, data models and globals",
}


def audit(
    when: datetime, action: str, actor: dict, where: tuple[str, str], params: dict | None = None, **extra
) -> dict:
    """One audit log; ``where`` is (source IP, user agent), ``extra`` overrides fields (actionResult)."""
    ip, agent = where
    return {
        "XForwardedFor": [ip, "10.0.12.7"],
        "actionDescription": DESCRIPTIONS[action],
        "actionName": action,
        "actionParams": {"dynamic": {"input": params}, "static": {}} if params is not None else {},
        "actionResult": "SUCCEEDED",
        "actor": actor,
        "errors": None,
        "pantherVersion": PANTHER_VERSION,
        "sourceIP": ip,
        "timestamp": panther_time(when),
        "userAgent": agent,
        **extra,
    }


def upload(when: datetime, ids: list[str]) -> dict:
    return audit(
        when,
        "UPLOAD_DETECTION_ENTITIES",
        PIPELINE,
        (RUNNER_IP, PAT_UA),
        {"analysisIds": ids},
    )


def health_checks(start: datetime, end: datetime) -> list[dict]:
    out = []
    while start <= end:
        out.append(
            {
                "discriminator": {"type": "health_check", "subtype": "panther"},
                "timestamp": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "is_healthy": True,
            }
        )
        start += timedelta(hours=1)
    return out


def write(folder: Path, log_type: str, events: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{log_type}.jsonl").open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")


PACK_UPLOAD = [
    "Tracebit.Canaries",
    "Tracebit.CanaryResourceAccessed",
    "Tracebit.CanaryCredentialUsed",
    "tracebit_helpers",
]


def detection_tampering() -> None:
    folder = HERE / "detection_tampering"
    day = datetime(2025, 4, 7, tzinfo=UTC)
    ip = "203.0.113.45"

    def at(hour: int, minute: int, second: int, ms: int) -> datetime:
        return day + timedelta(hours=hour, minutes=minute, seconds=second, milliseconds=ms)

    events = [
        upload(datetime(2025, 4, 3, 14, 12, 9, 331000, tzinfo=UTC), PACK_UPLOAD),
        audit(at(8, 55, 12, 204), "SIGN_IN", INTRUDER, (ip, BROWSER_UA)),
        audit(
            at(8, 57, 40, 870),
            "LIST_DETECTIONS",
            INTRUDER,
            (ip, BROWSER_UA),
            {"nameContains": "Tracebit"},
        ),
        audit(
            at(8, 59, 3, 500),
            "GET_RULE",
            INTRUDER,
            (ip, BROWSER_UA),
            {"id": "Tracebit.CanaryResourceAccessed"},
        ),
        audit(
            at(9, 1, 27, 118),
            "UPDATE_RULE",
            INTRUDER,
            (ip, BROWSER_UA),
            {
                "id": "Tracebit.CanaryResourceAccessed",
                "displayName": "Tracebit Canary Resource Accessed",
                "enabled": True,
                "severity": "INFO",
                "dedupPeriodMinutes": 1440,
                "threshold": 1,
                "logTypes": ["Tracebit.Alert"],
            },
        ),
        audit(
            at(9, 2, 55, 604),
            "UPDATE_DETECTION_STATE",
            INTRUDER,
            (ip, BROWSER_UA),
            {"detections": [{"id": "Tracebit.CanaryPrincipalGetObjectSurge", "enabled": False}]},
        ),
        audit(
            at(9, 4, 10, 20),
            "DELETE_DETECTION",
            INTRUDER,
            (ip, BROWSER_UA),
            {"detections": [{"id": "Tracebit.Correlation.OktaMFAReset.CanaryResourceAccessed"}]},
        ),
        audit(
            at(9, 5, 33, 900),
            "DELETE_DETECTION",
            INTRUDER,
            (ip, BROWSER_UA),
            {"detections": [{"id": "AWS.CloudTrail.Stopped"}]},
        ),
    ]
    alert_id = "01JR9K3T5V7X9Z1B3D5F7H9K2M"
    canary = {
        "tracebit_id": "cnry_01JCZ7V4M9Q8H2T6R5N3K1B0XA",
        "provider_id": "acme-finance-payroll-archive",
        "provider_account_id": "693260565127",
        "name": "acme-finance-payroll-archive",
        "type": "AWS::S3::Bucket",
        "aws": {
            "account_id": "693260565127",
            "account_name": "acme-production",
            "arn": "arn:aws:s3:::acme-finance-payroll-archive",
        },
    }
    alert = {
        "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
        "id": "4f1d2a7e-9c83-4b6a-a2e5-71d0c9b8e364",
        "alert_id": alert_id,
        "tracebit_portal_url": f"https://acme.tracebit.com/alerts/{alert_id}",
        "timestamp": "2025-04-07T10:48:19Z",
        "provider": "aws",
        "message": "arn:aws:iam::693260565127:user/contractor.lee listed objects under prefix '/' in canary S3 bucket acme-finance-payroll-archive",
        "severity": "high",
        "canary": canary,
        "principal": {
            "id": "AIDA2C6F4QW7LE9KS2WNH",
            "aws": {
                "arn": "arn:aws:iam::693260565127:user/contractor.lee",
                "type": "IAMUser",
                "account_id": "693260565127",
                "username": "contractor.lee",
            },
        },
        "event": {
            "id": "c3a8e5f1-2b74-4d9e-8f06-5e1a7b3c9d20",
            "operation": "ListObjects",
            "request": {"user_agent": {"raw": BROWSER_UA, "label": "Browser"}, "ip": ip},
            "resources": [{"id": "arn:aws:s3:::acme-finance-payroll-archive", "type": "AWS::S3::Bucket"}],
        },
    }
    write(folder, "Panther.Audit", events)
    write(folder, "Tracebit.Alert", [alert])
    write(
        folder,
        "Tracebit.HealthCheck",
        health_checks(datetime(2025, 4, 5, tzinfo=UTC), datetime(2025, 4, 7, 11, tzinfo=UTC)),
    )


def benign_baseline_audit() -> None:
    """The pipeline's upload and ordinary console use during benign_baseline: nothing to report."""
    office = "198.51.100.24"
    events = [
        upload(datetime(2025, 2, 12, 10, 31, 4, 812000, tzinfo=UTC), PACK_UPLOAD),
        # Onboarding: Panther's managed rule Tracebit.Alert is disabled, as the README says.
        audit(
            datetime(2025, 2, 12, 10, 44, 51, 90000, tzinfo=UTC),
            "UPDATE_DETECTION_STATE",
            ADMIN,
            (office, BROWSER_UA),
            {"detections": [{"id": "Tracebit.Alert", "enabled": False}]},
        ),
        audit(
            datetime(2025, 2, 18, 9, 2, 37, 415000, tzinfo=UTC),
            "GET_RULE",
            ANALYST,
            (office, BROWSER_UA),
            {"id": "Tracebit.CanaryResourceAccessed"},
        ),
        audit(
            datetime(2025, 2, 18, 9, 6, 2, 3000, tzinfo=UTC),
            "EXECUTE_DATA_LAKE_QUERY",
            ANALYST,
            (office, BROWSER_UA),
            {
                "sql": "SELECT * FROM panther_rule_matches.public.tracebit_alert WHERE p_rule_id = 'Tracebit.CanaryResourceAccessed' AND p_occurs_since('7 d')"
            },
        ),
        audit(
            datetime(2025, 2, 20, 16, 40, 18, 250000, tzinfo=UTC),
            "DELETE_DETECTION",
            ADMIN,
            (office, BROWSER_UA),
            {"detections": [{"id": "Okta.Staging.Test.Rule"}]},
        ),
        audit(
            datetime(2025, 2, 24, 8, 15, 0, 500000, tzinfo=UTC),
            "UPDATE_DETECTION_STATE",
            ADMIN,
            (office, BROWSER_UA),
            {"detections": [{"id": "Tracebit.CanaryCredentialUsed", "enabled": True}]},
            actionResult="FAILED",
        ),
    ]
    write(HERE / "benign_baseline", "Panther.Audit", events)


if __name__ == "__main__":
    detection_tampering()
    benign_baseline_audit()
