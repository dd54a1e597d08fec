"""The GetObject surge on both sides of the canary alert, executed on the embedded lake.

Five AWS principals each touch a canary at the same moment. Four have a quiet baseline (2 reads on
each working day for 35 days) and one burst of 150 reads in an hour: 2 h, 13 h and 40 h before the
alert, and 6 h after it. The fifth is busy every day (200 reads a day across two buckets) and must
stay quiet. Each surge raises exactly one row (one alert) naming its principal; the scheduled rule
fires on it.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import test_queries_exec
from test_queries_exec import assert_rule_fires_on, run, scheduled_rule

from tracebit_pack.lake.embedded import Lake

items = test_queries_exec.items  # the pack's queries (a pytest fixture)
SURGE = "Tracebit.Query.CanaryPrincipalGetObjectSurge"
ACCOUNT = "693260565127"
ALERT = dt.datetime(2025, 3, 12, 15, 30, tzinfo=dt.UTC)
SURGE_OFFSETS = {"before-2h": -2, "before-13h": -13, "before-40h": -40, "after-6h": 6}
BUCKETS = ("acme-prod-customer-exports", "acme-prod-analytics-curated")
_ids = itertools.count(1)


def arn(name: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/DataAnalyst/{name}@acme.com"


def get_object(principal: str, when: dt.datetime, bucket: str) -> dict:
    n = next(_ids)
    key = f"reports/{when:%Y/%m/%d}/part-{n:06d}.parquet"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA2C6F4QW7DATAANLST:{principal}@acme.com",
            "arn": arn(principal),
            "accountId": ACCOUNT,
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "[aws-cli/2.15.30]",
        "requestParameters": {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
            "key": key,
        },
        "additionalEventData": {"bytesTransferredOut": 65536},
        "requestID": f"R{n:015d}",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
    }


def baseline(principal: str, per_day: int) -> list[dict]:
    events = []
    for day in range(1, 36):
        base = (ALERT - dt.timedelta(days=day)).replace(hour=9, minute=0, second=0)
        if per_day < 10 and base.weekday() >= 5:
            continue
        for n in range(per_day):
            when = base + dt.timedelta(seconds=n * (8 * 3600 // per_day))
            events.append(get_object(principal, when, BUCKETS[n % 2]))
    return events


def burst(principal: str, hours: int, count: int = 150) -> list[dict]:
    start = ALERT + dt.timedelta(hours=hours) - dt.timedelta(minutes=30)
    return [get_object(principal, start + dt.timedelta(seconds=20 * n), BUCKETS[0]) for n in range(count)]


def canary_alert(principal: str) -> dict:
    return {
        "discriminator": {"type": "tracebit_alert_log", "subtype": "canary_resource_accessed"},
        "id": f"log-{principal}",
        "alert_id": f"alert-{principal}",
        "timestamp": ALERT.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provider": "aws",
        "severity": "high",
        "canary": {"name": "acme-finance-payroll-archive", "type": "AWS::S3::Bucket"},
        "principal": {"aws": {"arn": arn(principal), "type": "AssumedRole"}},
    }


@pytest.fixture(scope="module")
def lake():
    trail, alerts = [], []
    for name, hours in SURGE_OFFSETS.items():
        trail += baseline(name, 2) + burst(name, hours)
        alerts.append(canary_alert(name))
    trail += baseline("busy-normal", 200)
    trail += [
        get_object("busy-normal", ALERT - dt.timedelta(hours=3, seconds=n * 60), BUCKETS[n % 2])
        for n in range(90)
    ]
    alerts.append(canary_alert("busy-normal"))
    lake = Lake()
    lake.load_events("AWS.CloudTrail", trail)
    lake.load_events("Tracebit.Alert", alerts)
    yield lake
    lake.close()


def surge_rows(lake, items, now):
    return {row["alert_id"].removeprefix("alert-"): row for row in run(lake, items, SURGE, now=now)}


def test_each_surge_position_raises_exactly_one_alert_and_the_busy_principal_none(lake, items):
    rows = run(
        lake, items, SURGE, now=ALERT + dt.timedelta(hours=22)
    )  # the alert is selected for 23 hours after it arrives
    assert sorted(row["alert_id"] for row in rows) == sorted(f"alert-{name}" for name in SURGE_OFFSETS)
    module = scheduled_rule(SURGE)
    for row in rows:
        name = row["alert_id"].removeprefix("alert-")
        assert row["principal_arn"] == arn(name)
        assert row["window_requests"] >= 150
        assert row["surge_bucket"] is None  # the all-buckets peak surges
        # the busiest hour of the peak 24 h is the burst's (it starts 30 minutes before the offset)
        assert row["surge_hours_from_alert"] in {SURGE_OFFSETS[name], SURGE_OFFSETS[name] - 1}, row
        assert row["baseline_daily_avg"] < 2
        assert arn(name) in module.title(row)
    assert_rule_fires_on(SURGE, rows)


def test_a_surge_after_the_alert_is_raised_once_it_has_happened(lake, items):
    assert "after-6h" not in surge_rows(lake, items, ALERT + dt.timedelta(hours=1))
    assert "after-6h" in surge_rows(lake, items, ALERT + dt.timedelta(hours=7))


def test_the_old_twelve_hour_window_would_have_missed_the_early_surges(lake, items):
    narrow = run(
        lake, items, SURGE, now=ALERT + dt.timedelta(hours=12), params={"hours_before": 12, "hours_after": 12}
    )
    assert sorted(row["alert_id"] for row in narrow) == ["alert-after-6h", "alert-before-2h"]


def test_the_busy_principal_surges_only_against_a_lower_multiple(lake, items):
    # 200 reads a day, 90 more before the alert: quiet at 10x its baseline, raised at 0.5x
    now = ALERT + dt.timedelta(hours=22)
    assert "busy-normal" not in surge_rows(lake, items, now)
    rows = run(lake, items, SURGE, now=now, params={"surge_multiple": 0.5})
    busy = [row for row in rows if row["alert_id"] == "alert-busy-normal"]
    assert len(busy) == 1
    assert busy[0]["window_requests"] >= 200 and busy[0]["baseline_daily_avg"] == 200
