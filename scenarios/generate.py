# ruff: noqa: E501, PLR0917 - event data: long literal lines, positional event builders
"""Regenerate the bundled scenarios (deterministic): ``python scenarios/generate.py``.

Writes ``scenarios/blog_incident/*.jsonl`` and ``scenarios/benign_baseline/*.jsonl``. The story of
each is in its README.md; what it must raise is in its expected.yml.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "693260565127"
ACCOUNT_NAME = "acme-production"
REGION = "us-east-1"
OKTA_ORG = "acme.okta.com"

CLI_UA = "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython"
ATTACKER_UA = "aws-cli/2.13.25 Python/3.11.5 Linux/5.15.0-1051-aws exe/x86_64.ubuntu.22 prompt/off"
BOTO_UA = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.214-202.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9"
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class Gen:
    def __init__(self, seed: int):
        self.rand = random.Random(seed)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rand.getrandbits(128), version=4))

    def hexid(self, n: int) -> str:
        return "".join(self.rand.choice("0123456789abcdef") for _ in range(n))

    def upper(self, n: int) -> str:
        return "".join(self.rand.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- identities


def role_identity(g: Gen, role: str, session: str, role_id: str, issued: datetime) -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + g.upper(16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": ts(issued), "mfaAuthenticated": "false"},
        },
    }


SUE_ROLE = ("Okta-OIDC-Engineer", "sue.johnson@acme.com", "AROA2C6F4QW7KXJ5N3LDE")
DEV_ROLE = ("Okta-OIDC-Engineer", "raj.patel@acme.com", "AROA2C6F4QW7KXJ5N3LDE")
ETL_ROLE = ("etl-nightly-export", "etl-nightly-export-1733", "AROA2C6F4QW7PL8MTW9QA")


def cloudtrail(
    g: Gen,
    when: datetime,
    identity: dict,
    name: str,
    ip: str,
    agent: str,
    bucket: str | None = None,
    key: str | None = None,
    extra: dict | None = None,
) -> dict:
    event: dict = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": ts(when),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": f"[{agent}]",
        "requestID": g.upper(16),
        "eventID": g.uid(),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{bucket}.s3.{REGION}.amazonaws.com",
        },
    }
    if name == "GetObject":
        event["requestParameters"] = {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
            "key": key,
        }
        event["additionalEventData"] = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": g.hexid(40),
            "bytesTransferredOut": g.rand.randint(12_000, 2_400_000),
        }
        event["resources"] = [
            {"type": "AWS::S3::Object", "arn": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "arn": f"arn:aws:s3:::{bucket}"},
        ]
    elif name == "ListObjects":
        event["requestParameters"] = {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
            "list-type": "2",
            "prefix": key or "",
            "delimiter": "/",
            "encoding-type": "url",
        }
        event["additionalEventData"] = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": g.hexid(40),
            "bytesTransferredOut": g.rand.randint(600, 9_000),
        }
        event["resources"] = [
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "arn": f"arn:aws:s3:::{bucket}"}
        ]
    if extra:
        event.update(extra)
    return event


def management(g: Gen, when: datetime, identity: dict, source: str, name: str, ip: str, agent: str) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": ts(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": None,
        "responseElements": None,
        "requestID": g.uid(),
        "eventID": g.uid(),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


# --------------------------------------------------------------------------- Okta

PEOPLE = {
    "sue.johnson@acme.com": ("00u8k2sue1JohnsonAcm", "Sue Johnson"),
    "raj.patel@acme.com": ("00u8k2raj4PatelAcme7", "Raj Patel"),
    "maria.garcia@acme.com": ("00u8k2mar3GarciaAcm2", "Maria Garcia"),
    "helpdesk.agent@acme.com": ("00u8k2hlp9DeskAgent1", "Help Desk Agent"),
}
OFFICE = {
    "ip": "198.51.100.23",
    "city": "Austin",
    "state": "Texas",
    "country": "United States",
    "zip": "78701",
}
HOME = {
    "ip": "203.0.113.54",
    "city": "Round Rock",
    "state": "Texas",
    "country": "United States",
    "zip": "78664",
}
ATTACKER = {
    "ip": "185.220.101.47",
    "city": "Frankfurt am Main",
    "state": "Hesse",
    "country": "Germany",
    "zip": "60313",
}


def okta(
    g: Gen,
    when: datetime,
    event_type: str,
    actor: str,
    place: dict,
    message: str,
    targets: list[dict] | None = None,
    result: str = "SUCCESS",
    reason: str | None = None,
    agent: str = BROWSER_UA,
    severity: str = "INFO",
) -> dict:
    actor_id, actor_name = PEOPLE[actor]
    event = {
        "uuid": g.uid(),
        "published": ts_ms(when),
        "eventType": event_type,
        "version": "0",
        "severity": severity,
        "legacyEventType": None,
        "displayMessage": message,
        "actor": {"id": actor_id, "type": "User", "alternateId": actor, "displayName": actor_name},
        "client": {
            "userAgent": {"rawUserAgent": agent, "os": "Mac OS X", "browser": "CHROME"},
            "zone": "null",
            "device": "Computer",
            "id": None,
            "ipAddress": place["ip"],
            "geographicalContext": {
                "city": place["city"],
                "state": place["state"],
                "country": place["country"],
                "postalCode": place["zip"],
                "geolocation": {"lat": 30.2672, "lon": -97.7431}
                if place is not ATTACKER
                else {"lat": 50.1109, "lon": 8.6821},
            },
        },
        "outcome": {"result": result, "reason": reason},
        "target": targets or [],
        "transaction": {"type": "WEB", "id": g.upper(20), "detail": {}},
        "debugContext": {
            "debugData": {"requestUri": "/idp/idx/authenticators/poll", "threatSuspected": "false"}
        },
        "authenticationContext": {
            "authenticationStep": 0,
            "externalSessionId": "102" + g.upper(22),
        },
        "securityContext": {
            "asNumber": 11404 if place is not ATTACKER else 60729,
            "asOrg": "Wave Broadband" if place is not ATTACKER else "Stiftung Erneuerbare Freiheit",
            "isp": "Wave Broadband" if place is not ATTACKER else "Zwiebelfreunde e.V.",
            "domain": "wavebroadband.com" if place is not ATTACKER else "tor-exit.example.net",
            "isProxy": place is ATTACKER,
        },
        "request": {
            "ipChain": [
                {
                    "ip": place["ip"],
                    "geographicalContext": {
                        "city": place["city"],
                        "state": place["state"],
                        "country": place["country"],
                        "postalCode": place["zip"],
                    },
                    "version": "V4",
                    "source": None,
                }
            ]
        },
    }
    event["legacyEventType"] = "core.user_auth.login_success" if event_type == "user.session.start" else None
    if event["legacyEventType"] is None:
        del event["legacyEventType"]
    if reason is None:
        del event["outcome"]["reason"]
    if event["client"]["id"] is None:
        del event["client"]["id"]
    del event["request"]["ipChain"][0]["source"]
    return event


def user_target(email: str) -> dict:
    user_id, name = PEOPLE[email]
    return {"id": user_id, "type": "User", "alternateId": email, "displayName": name}


def app_target() -> dict:
    return {
        "id": "0oa8k2awsfed7OIDCapp",
        "type": "AppInstance",
        "alternateId": "AWS IAM Identity Provider (OIDC)",
        "displayName": "AWS Account Federation",
    }


def workday_logins(g: Gen, start: datetime, days: int, people: list[str]) -> list[dict]:
    events = []
    for day in range(days):
        base = start + timedelta(days=day)
        if base.weekday() >= 5:
            continue
        for person in people:
            when = base.replace(hour=14, minute=g.rand.randint(0, 50), second=g.rand.randint(0, 59))
            place = OFFICE if g.rand.random() < 0.7 else HOME
            events.append(okta(g, when, "user.session.start", person, place, "User login to Okta"))
            sso = when + timedelta(minutes=g.rand.randint(1, 20))
            events.append(
                okta(
                    g,
                    sso,
                    "user.authentication.sso",
                    person,
                    place,
                    "User single sign on to app",
                    [app_target()],
                )
            )
    return events


# --------------------------------------------------------------------------- Tracebit

CANARY = {
    "tracebit_id": "cnry_01JCZ7V4M9Q8H2T6R5N3K1B0XA",
    "provider_id": "acme-finance-payroll-archive",
    "provider_account_id": ACCOUNT,
    "name": "acme-finance-payroll-archive",
    "type": "AWS::S3::Bucket",
    "aws": {
        "account_id": ACCOUNT,
        "account_name": ACCOUNT_NAME,
        "arn": "arn:aws:s3:::acme-finance-payroll-archive",
    },
}


def tracebit_principal(arn_role: str, session: str, role_id: str) -> dict:
    return {
        "id": f"{role_id}:{session}",
        "aws": {
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{arn_role}/{session}",
            "type": "AssumedRole",
            "account_id": ACCOUNT,
            "username": session,
        },
    }


def health_checks(start: datetime, end: datetime, every: timedelta) -> list[dict]:
    events = []
    when = start
    while when <= end:
        events.append(
            {
                "discriminator": {"type": "health_check", "subtype": "panther"},
                "timestamp": ts(when),
                "is_healthy": True,
            }
        )
        when += every
    return events


# --------------------------------------------------------------------------- scenarios

PROD_BUCKETS = ["acme-prod-customer-exports", "acme-prod-analytics-curated"]


def baseline_getobjects(
    g: Gen, start: datetime, days: int, who: tuple, ip: str, agent: str, per_day: tuple
) -> list:
    events = []
    for day in range(days):
        base = start + timedelta(days=day)
        if base.weekday() >= 5:
            continue
        for _ in range(g.rand.randint(*per_day)):
            when = base.replace(
                hour=g.rand.randint(14, 22), minute=g.rand.randint(0, 59), second=g.rand.randint(0, 59)
            )
            identity = role_identity(g, who[0], who[1], who[2], when - timedelta(minutes=30))
            bucket = g.rand.choice(PROD_BUCKETS)
            key = f"reports/{when:%Y/%m/%d}/daily-{g.hexid(6)}.parquet"
            events.append(cloudtrail(g, when, identity, "GetObject", ip, agent, bucket, key))
    return events


def etl_getobjects(g: Gen, start: datetime, days: int) -> list:
    events = []
    for day in range(days):
        base = start + timedelta(days=day)
        for n in range(6):
            when = base.replace(hour=6, minute=5 + n * 3, second=g.rand.randint(0, 59))
            identity = role_identity(g, ETL_ROLE[0], ETL_ROLE[1], ETL_ROLE[2], base.replace(hour=6))
            key = f"exports/{base:%Y-%m-%d}/part-{n:05d}.csv.gz"
            events.append(
                cloudtrail(g, when, identity, "GetObject", "10.20.4.17", BOTO_UA, PROD_BUCKETS[0], key)
            )
    return events


def canary_alert_logs(
    g: Gen, operations: list, canary_trail: list, alert_id: str, principal: dict, request: dict, delay: int
) -> list[dict]:
    """One Tracebit alert log per canary operation (``(name, key, when)``), ``delay`` seconds later."""
    canary_bucket = CANARY["name"]
    arn = principal["aws"]["arn"]
    alerts = []
    for (name, key, moment), ct in zip(operations, canary_trail, strict=True):
        resource = f"arn:aws:s3:::{canary_bucket}" + (f"/{key}" if name == "GetObject" else "")
        what = (
            f"listed objects under prefix '{key or '/'}' in"
            if name == "ListObjects"
            else f"downloaded '{key}' from"
        )
        alerts.append(
            {
                "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
                "id": g.uid(),
                "alert_id": alert_id,
                "tracebit_portal_url": f"https://acme.tracebit.com/alerts/{alert_id}",
                "timestamp": ts(moment + timedelta(seconds=delay)),
                "provider": "aws",
                "message": f"{arn} {what} canary S3 bucket {canary_bucket}",
                "severity": "high",
                "canary": CANARY,
                "principal": principal,
                "event": {
                    "id": ct["eventID"],
                    "operation": name,
                    "request": request,
                    "resources": [
                        {
                            "id": resource,
                            "type": "AWS::S3::Object" if name == "GetObject" else "AWS::S3::Bucket",
                        }
                    ],
                },
            }
        )
    return alerts


def write(folder: Path, log_type: str, events: list[dict], time_key: str) -> None:
    events = sorted(events, key=lambda e: e[time_key])
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{log_type}.jsonl").open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")


def office_background(
    g: Gen,
    start: datetime,
    days: int,
    sue_rate: tuple[int, int],
    dev_rate: tuple[int, int],
    extra_days: int,
    lister: tuple[tuple[str, str, str], dict, int, tuple[int, int]],
) -> tuple[list[dict], list[dict]]:
    """The office's ordinary life that every Okta/AWS scenario plays against: Sue's and the
    developer's GetObject baselines, the nightly ETL, one role listing buckets every few days at a
    fixed time, and workday Okta logins (ETL and logins run ``extra_days`` past the baselines).

    ``lister`` is ``(role, place, every_days, (hour, minute))``. Returns ``(cloudtrail, okta)``."""
    trail = baseline_getobjects(g, start, days, SUE_ROLE, OFFICE["ip"], CLI_UA, sue_rate)
    trail += baseline_getobjects(g, start, days, DEV_ROLE, HOME["ip"], CLI_UA, dev_rate)
    trail += etl_getobjects(g, start, days + extra_days)
    role, place, every, (hour, minute) = lister
    identity = role_identity(g, *role, start)
    for day in range(0, days, every):
        when = start + timedelta(days=day, hours=hour, minutes=minute)
        trail.append(management(g, when, identity, "s3.amazonaws.com", "ListBuckets", place["ip"], CLI_UA))
    people = ["sue.johnson@acme.com", "raj.patel@acme.com", "maria.garcia@acme.com"]
    return trail, workday_logins(g, start, days + extra_days, people)


def blog_incident() -> None:
    g = Gen(20241213)
    folder = HERE / "blog_incident"
    start = datetime(2024, 11, 12, tzinfo=UTC)
    # 30 days of modest GetObject baseline (Nov 12 - Dec 11) from Sue's federated role, plus noise.
    trail, okta_events = office_background(
        g, start, 30, (2, 4), (1, 3), extra_days=1, lister=(DEV_ROLE, HOME, 3, (15, 12))
    )
    # Dec 12 22:41 UTC: the attacker talks the help desk into resetting Sue's MFA (Identity Engine:
    # one user.mfa.factor.deactivate per factor) and her password.
    reset = datetime(2024, 12, 12, 22, 41, 7, 311000, tzinfo=UTC)
    sue = user_target("sue.johnson@acme.com")
    for n, factor in enumerate(["SIGNED_NONCE", "OKTA_VERIFY_PUSH", "OKTA_SOFT_TOKEN"]):
        okta_events.append(
            okta(
                g,
                reset + timedelta(seconds=n * 2),
                "user.mfa.factor.deactivate",
                "helpdesk.agent@acme.com",
                OFFICE,
                "Reset factor for user",
                [sue],
                reason=f"User reset {factor} factor",
            )
        )
    okta_events.append(
        okta(
            g,
            reset + timedelta(minutes=2, seconds=40),
            "user.account.reset_password",
            "helpdesk.agent@acme.com",
            OFFICE,
            "Fired when the user's Okta password is reset",
            [sue],
        )
    )
    # The attacker signs in as Sue from a Tor exit, enrolls a new factor and federates into AWS.
    login = datetime(2024, 12, 13, 13, 48, 22, tzinfo=UTC)
    okta_events.append(
        okta(
            g,
            login,
            "user.session.start",
            "sue.johnson@acme.com",
            ATTACKER,
            "User login to Okta",
            agent=BROWSER_UA,
        )
    )
    okta_events.append(
        okta(
            g,
            login + timedelta(minutes=1),
            "user.mfa.factor.activate",
            "sue.johnson@acme.com",
            ATTACKER,
            "User set up OKTA_VERIFY_PUSH factor",
            [sue],
        )
    )
    okta_events.append(
        okta(
            g,
            login + timedelta(minutes=3),
            "user.authentication.sso",
            "sue.johnson@acme.com",
            ATTACKER,
            "User single sign on to app",
            [app_target()],
        )
    )

    # Dec 13 14:05-15:55: GetObject surge on production buckets from the attacker's session.
    session_start = datetime(2024, 12, 13, 13, 52, 0, tzinfo=UTC)
    attacker = role_identity(g, *SUE_ROLE, session_start)
    when = datetime(2024, 12, 13, 14, 5, 11, tzinfo=UTC)
    for n in range(168):
        bucket = PROD_BUCKETS[n % 2]
        key = f"customers/{'eu' if n % 3 else 'us'}/export-{2024_00000 + n * 37}.csv.gz"
        trail.append(cloudtrail(g, when, attacker, "GetObject", ATTACKER["ip"], ATTACKER_UA, bucket, key))
        when += timedelta(seconds=g.rand.randint(20, 50))
    # 16:10: the canary bucket is listed under several prefixes, then one object is downloaded.
    canary_bucket = CANARY["name"]
    operations = [
        ("ListObjects", "", datetime(2024, 12, 13, 16, 10, 42, tzinfo=UTC)),
        ("ListObjects", "payroll/", datetime(2024, 12, 13, 16, 11, 5, tzinfo=UTC)),
        ("ListObjects", "payroll/2024/", datetime(2024, 12, 13, 16, 11, 31, tzinfo=UTC)),
        ("ListObjects", "exports/", datetime(2024, 12, 13, 16, 12, 2, tzinfo=UTC)),
        (
            "GetObject",
            "payroll/2024/2024-11-payroll-register.csv",
            datetime(2024, 12, 13, 16, 14, 5, tzinfo=UTC),
        ),
    ]
    canary_trail = []
    for name, key, moment in operations:
        canary_trail.append(
            cloudtrail(g, moment, attacker, name, ATTACKER["ip"], ATTACKER_UA, canary_bucket, key or None)
        )
    trail += canary_trail

    alert_id = "01JF2K7Q3V8M5X4N9T6R2B1C0D"
    portal = f"https://acme.tracebit.com/alerts/{alert_id}"
    principal = tracebit_principal(*SUE_ROLE)
    request = {"user_agent": {"raw": ATTACKER_UA, "label": "AWS CLI"}, "ip": ATTACKER["ip"]}
    alerts = canary_alert_logs(g, operations, canary_trail, alert_id, principal, request, delay=38)
    summary = {
        "discriminator": {"type": "tracebit_alert_summary", "subtype": "canary_resource_accessed"},
        "alert_id": alert_id,
        "tracebit_portal_url": portal,
        "timestamp": "2024-12-13T16:20:00Z",
        "start_time": ts(operations[0][2]),
        "end_time": ts(operations[-1][2]),
        "provider": "aws",
        "severity": "high",
        "classification": "Unclassified",
        "ip_addresses": [ATTACKER["ip"]],
        "canaries_accessed": [
            {**CANARY, "deployed_at": "2024-09-02T10:15:00Z", "aws": {**CANARY["aws"], "region": REGION}}
        ],
        "principal": principal,
        "indicators": [
            {
                "id": "ind_canary_bucket_listed",
                "name": "Canary S3 bucket listed",
                "description": "Objects were listed under 4 prefixes of a canary bucket",
                "details": {"prefixes": ["", "payroll/", "payroll/2024/", "exports/"]},
            },
            {
                "id": "ind_canary_object_downloaded",
                "name": "Canary object downloaded",
                "description": "An object was downloaded from a canary bucket",
                "details": {"key": operations[-1][1]},
            },
            {
                "id": "ind_anonymising_network",
                "name": "Request from an anonymising network",
                "description": "The source IP address is a known Tor exit node",
                "details": {"ip": ATTACKER["ip"]},
            },
        ],
    }
    checks = health_checks(
        datetime(2024, 12, 11, 0, 0, tzinfo=UTC),
        datetime(2024, 12, 13, 17, 0, tzinfo=UTC),
        timedelta(hours=1),
    )
    write(folder, "AWS.CloudTrail", trail, "eventTime")
    write(folder, "Okta.SystemLog", okta_events, "published")
    write(folder, "Tracebit.Alert", alerts, "timestamp")
    write(folder, "Tracebit.AlertSummary", [summary], "timestamp")
    write(folder, "Tracebit.HealthCheck", checks, "timestamp")


def benign_baseline() -> None:
    g = Gen(20250301)
    folder = HERE / "benign_baseline"
    start = datetime(2025, 2, 10, tzinfo=UTC)
    trail, okta_events = office_background(
        g, start, 21, (2, 5), (1, 4), extra_days=0, lister=(SUE_ROLE, OFFICE, 2, (16, 3))
    )
    # Maria enrolls a new phone (activate, not a reset) and one failed MFA deactivation attempt is denied.
    maria = user_target("maria.garcia@acme.com")
    okta_events.append(
        okta(
            g,
            datetime(2025, 2, 18, 15, 2, 10, tzinfo=UTC),
            "user.mfa.factor.activate",
            "maria.garcia@acme.com",
            OFFICE,
            "User set up OKTA_VERIFY_PUSH factor",
            [maria],
        )
    )
    okta_events.append(
        okta(
            g,
            datetime(2025, 2, 19, 9, 30, 0, tzinfo=UTC),
            "user.mfa.factor.deactivate",
            "helpdesk.agent@acme.com",
            OFFICE,
            "Reset factor for user",
            [maria],
            result="FAILURE",
            reason="INSUFFICIENT_PERMISSIONS",
            severity="WARN",
        )
    )
    # The security team's quarterly canary validation: Tracebit classified it BenignPositive.
    red_team = tracebit_principal("SecurityAudit-Validation", "canary-validation", "AROA2C6F4QW7RT5VZ8YUM")
    summary = {
        "discriminator": {"type": "tracebit_alert_summary", "subtype": "canary_resource_accessed"},
        "alert_id": "01JMB9X2W7K4P3Q8R5T6V1N0ZE",
        "tracebit_portal_url": "https://acme.tracebit.com/alerts/01JMB9X2W7K4P3Q8R5T6V1N0ZE",
        "timestamp": "2025-02-26T11:05:00Z",
        "start_time": "2025-02-26T10:58:12Z",
        "end_time": "2025-02-26T10:58:40Z",
        "provider": "aws",
        "severity": "high",
        "classification": "BenignPositive",
        "classification_reason": "Scheduled canary validation by the security team (change CHG-2291)",
        "ip_addresses": ["10.40.1.12"],
        "canaries_accessed": [
            {**CANARY, "deployed_at": "2024-09-02T10:15:00Z", "aws": {**CANARY["aws"], "region": REGION}}
        ],
        "principal": red_team,
        "indicators": [
            {
                "id": "ind_canary_bucket_listed",
                "name": "Canary S3 bucket listed",
                "description": "Objects were listed in a canary bucket",
                "details": {"prefixes": [""]},
            }
        ],
    }
    checks = health_checks(
        datetime(2025, 2, 24, 0, 0, tzinfo=UTC), datetime(2025, 3, 2, 23, 0, tzinfo=UTC), timedelta(hours=1)
    )
    write(folder, "AWS.CloudTrail", trail, "eventTime")
    write(folder, "Okta.SystemLog", okta_events, "published")
    write(folder, "Tracebit.AlertSummary", [summary], "timestamp")
    write(folder, "Tracebit.HealthCheck", checks, "timestamp")


# --------------------------------------------------------------------------- AWS MFA tampering

IAM_USERS = {
    "j.chen": "AIDA2C6F4QW7HJ2KD9RXE",
    "m.ortiz": "AIDA2C6F4QW7MT4RX8CVB",
    "ci-deployer": "AIDA2C6F4QW7CD3PL6YQZ",
    "contractor.lee": "AIDA2C6F4QW7LE9KS2WNH",
}
INTRUDER = {"ip": "203.0.113.77"}


def iam_user_identity(g: Gen, name: str) -> dict:
    return {
        "type": "IAMUser",
        "principalId": IAM_USERS[name],
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIA" + g.upper(16),
        "userName": name,
    }


def iam_call(g: Gen, when: datetime, identity: dict, name: str, params: dict, ip: str, **extra) -> dict:
    """An IAM management call as CloudTrail logs it (IAM is global: us-east-1)."""
    event = management(g, when, identity, "iam.amazonaws.com", name, ip, CLI_UA)
    event.update(requestParameters=params, readOnly=False, **extra)
    return event


def iam_calls(g: Gen, identity: dict, place: dict, calls: list[tuple[datetime, str, dict]]) -> list[dict]:
    """``(when, eventName, requestParameters)`` calls one identity makes from one place, in order."""
    return [iam_call(g, when, identity, name, params, place["ip"]) for when, name, params in calls]


def console_login(g: Gen, when: datetime, user: str, ip: str, mfa_used: str) -> dict:
    event = management(g, when, iam_user_identity(g, user), "signin.amazonaws.com", "ConsoleLogin", ip, "")
    event.update(
        userAgent=BROWSER_UA,
        readOnly=False,
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": "Success"},
        additionalEventData={
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": mfa_used,
        },
    )
    event["userIdentity"].pop("accessKeyId", None)  # a console password sign-in uses no key
    return event


def aws_mfa_tampering() -> None:
    """An intruder with a CI user's leaked access key removes IAM user j.chen's MFA, sets a password
    for it, signs in to the console as j.chen and explores a canary bucket (no Okta anywhere)."""
    g = Gen(20250120)
    folder = HERE / "aws_mfa_tampering"
    start = datetime(2025, 1, 6, tzinfo=UTC)
    trail = []
    # Two weeks of ordinary work: j.chen signs in with MFA and reads a few reports; m.ortiz enrols
    # a new MFA device (EnableMFADevice is not tampering) and changes its own password; a contractor's
    # attempt to deactivate m.ortiz's MFA is denied.
    for day in range(14):
        base = start + timedelta(days=day)
        if base.weekday() >= 5:
            continue
        login = base.replace(hour=15, minute=g.rand.randint(0, 20), second=g.rand.randint(0, 59))
        trail.append(console_login(g, login, "j.chen", OFFICE["ip"], "Yes"))
        for _ in range(g.rand.randint(1, 3)):
            when = login + timedelta(minutes=g.rand.randint(5, 240), seconds=g.rand.randint(0, 59))
            bucket = g.rand.choice(PROD_BUCKETS)
            key = f"reports/{when:%Y/%m/%d}/daily-{g.hexid(6)}.parquet"
            trail.append(
                cloudtrail(
                    g,
                    when,
                    iam_user_identity(g, "j.chen"),
                    "GetObject",
                    OFFICE["ip"],
                    BROWSER_UA,
                    bucket,
                    key,
                )
            )
    ortiz = iam_user_identity(g, "m.ortiz")
    ortiz_mfa = f"arn:aws:iam::{ACCOUNT}:mfa/m.ortiz-pixel"
    trail += iam_calls(
        g,
        ortiz,
        OFFICE,
        [
            (
                datetime(2025, 1, 9, 16, 4, 12, tzinfo=UTC),
                "EnableMFADevice",
                {"userName": "m.ortiz", "serialNumber": ortiz_mfa},
            ),
            (
                datetime(2025, 1, 9, 16, 6, 40, tzinfo=UTC),
                "UpdateLoginProfile",
                {"userName": "m.ortiz", "passwordResetRequired": False},
            ),
        ],
    )
    contractor = iam_user_identity(g, "contractor.lee")
    trail.append(
        iam_call(
            g,
            datetime(2025, 1, 14, 10, 22, 5, tzinfo=UTC),
            contractor,
            "DeactivateMFADevice",
            {"userName": "m.ortiz", "serialNumber": ortiz_mfa},
            HOME["ip"],
            errorCode="AccessDenied",
            errorMessage=(
                f"User: {contractor['arn']} is not authorized to perform: iam:DeactivateMFADevice on resource: "
                f"user m.ortiz because no identity-based policy allows the iam:DeactivateMFADevice action"
            ),
        )
    )
    # Jan 20 02:13 UTC: the intruder, with ci-deployer's leaked key, takes over j.chen.
    ci = iam_user_identity(g, "ci-deployer")
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/j.chen"
    takeover = datetime(2025, 1, 20, 2, 13, 41, tzinfo=UTC)
    trail += iam_calls(
        g,
        ci,
        INTRUDER,
        [
            (takeover, "DeactivateMFADevice", {"userName": "j.chen", "serialNumber": serial}),
            (takeover + timedelta(seconds=9), "DeleteVirtualMFADevice", {"serialNumber": serial}),
            (
                takeover + timedelta(seconds=31),
                "UpdateLoginProfile",
                {"userName": "j.chen", "passwordResetRequired": False},
            ),
        ],
    )
    signin = datetime(2025, 1, 20, 2, 19, 4, tzinfo=UTC)
    trail.append(console_login(g, signin, "j.chen", INTRUDER["ip"], "No"))
    jchen = iam_user_identity(g, "j.chen")
    canary_bucket = CANARY["name"]
    operations = [
        ("ListObjects", "", signin + timedelta(minutes=6, seconds=12)),
        ("ListObjects", "payroll/", signin + timedelta(minutes=6, seconds=40)),
        ("GetObject", "payroll/2024/2024-12-payroll-register.csv", signin + timedelta(minutes=7, seconds=3)),
    ]
    canary_trail = [
        cloudtrail(g, when, jchen, name, INTRUDER["ip"], BROWSER_UA, canary_bucket, key or None)
        for name, key, when in operations
    ]
    trail += canary_trail
    alert_id = "01JHZ4D6F8G2J5K7M9P1R3T5V7"
    principal = {
        "id": IAM_USERS["j.chen"],
        "aws": {"arn": jchen["arn"], "type": "IAMUser", "account_id": ACCOUNT, "username": "j.chen"},
    }
    request = {"user_agent": {"raw": BROWSER_UA, "label": "Browser"}, "ip": INTRUDER["ip"]}
    alerts = canary_alert_logs(g, operations, canary_trail, alert_id, principal, request, delay=41)
    checks = health_checks(
        datetime(2025, 1, 18, 0, 0, tzinfo=UTC), datetime(2025, 1, 20, 3, 0, tzinfo=UTC), timedelta(hours=1)
    )
    write(folder, "AWS.CloudTrail", trail, "eventTime")
    write(folder, "Tracebit.Alert", alerts, "timestamp")
    write(folder, "Tracebit.HealthCheck", checks, "timestamp")


if __name__ == "__main__":
    blog_incident()
    benign_baseline()
    aws_mfa_tampering()
