"""Panther.Audit as a log type of the offline tooling: schema, validation, enrichment, lake, query run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tracebit_pack.cli.main import main
from tracebit_pack.loading.folder_lake import lake_from_folder
from tracebit_pack.logs.enrich import enrich
from tracebit_pack.logs.schemas import load_schema
from tracebit_pack.logs.validate import validate_event

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIO = REPO_ROOT / "scenarios" / "detection_tampering"
# panther-analysis's "Delete 1 Detection" test event, with the pantherVersion Panther always sets
DELETE = {
    "actionName": "DELETE_DETECTION",
    "actionParams": {"dynamic": {"input": {"detections": [{"id": "GitHub.Team.Modified"}]}}},
    "actionResult": "SUCCEEDED",
    "actor": {
        "attributes": {"email": "homer@springfield.gov", "emailVerified": True, "roleId": "11111111"},
        "id": "1111111",
        "name": "Homer Simpson",
        "type": "USER",
    },
    "errors": None,
    "pantherVersion": "1.34.0",
    "sourceIP": "1.2.3.4",
    "XForwardedFor": ["1.2.3.4", "5.6.7.8"],
    "timestamp": "2022-04-28 15:30:22.42",
}


def test_the_schema_is_the_documented_one():
    schema = load_schema("Panther.Audit")
    required = {f.name for f in schema.fields if f.required}
    assert required == {"actionName", "actionResult", "actor", "timestamp", "pantherVersion"}
    assert {f.name for f in schema.fields} == required | {
        "actionDescription",
        "actionParams",
        "actionDetails",
        "errors",
        "sourceIP",
        "XForwardedFor",
        "userAgent",
    }
    assert schema.field("actionParams").type == "json"
    assert [f.name for f in schema.field("actor").fields] == ["id", "type", "name", "attributes"]
    assert schema.event_time_path == ("timestamp",)
    assert set(schema.p_any_columns) == {"p_any_actor_ids", "p_any_usernames", "p_any_ip_addresses"}


def test_panthers_timestamp_form_is_the_event_time():
    assert validate_event(DELETE, "Panther.Audit", standard_fields=False) == []
    nine_digits = {**DELETE, "timestamp": "2023-02-09 21:45:59.352910070"}
    assert validate_event(nine_digits, "Panther.Audit", standard_fields=False) == []
    enriched = enrich(DELETE, "Panther.Audit", parse_time=datetime(2022, 4, 28, 15, 31, tzinfo=UTC))
    assert enriched["p_event_time"].startswith("2022-04-28 15:30:22.42")
    assert enriched["p_any_ip_addresses"] == ["1.2.3.4", "5.6.7.8"]
    assert enriched["p_any_actor_ids"] == ["1111111"] and enriched["p_any_usernames"] == ["Homer Simpson"]
    problems = validate_event({**DELETE, "timestamp": "28/04/2022"}, "Panther.Audit", standard_fields=False)
    assert [p.path for p in problems] == ["timestamp"]
    missing = {k: v for k, v in DELETE.items() if k != "actor"}
    assert [p.path for p in validate_event(missing, "Panther.Audit", standard_fields=False)] == ["actor"]


def test_the_lake_table_is_panther_audit(tmp_path):
    (tmp_path / "Panther.Audit.jsonl").write_text(json.dumps(DELETE) + "\n")
    lake = lake_from_folder(tmp_path)
    try:
        rows = lake.run(
            "SELECT p_event_time, actor:name::string AS actor_name, actionName "
            "FROM panther_logs.panther_audit WHERE p_occurs_since('1 day')",
            now=datetime(2022, 4, 29, tzinfo=UTC),
        )
    finally:
        lake.close()
    assert rows == [
        {
            "p_event_time": "2022-04-28 15:30:22.420000",
            "actor_name": "Homer Simpson",
            "actionName": "DELETE_DETECTION",
        }
    ]


def test_query_run_answers_who_changed_the_pack(capsys):
    args = ["query", "run", "Tracebit.Pivot.PackChangesBeforeAlert", "--data", str(SCENARIO)]
    assert main([*args, "--now", "2025-04-07T10:48:19Z", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["actor_name"]) for r in rows] == [
        ("UPLOAD_DETECTION_ENTITIES", "tracebit-pack-upload"),
        ("UPDATE_RULE", "contractor.lee@acme.com"),
        ("UPDATE_DETECTION_STATE", "contractor.lee@acme.com"),
        ("DELETE_DETECTION", "contractor.lee@acme.com"),
    ]
    # a week earlier: nothing had changed yet (the window is the 7 days before the alert)
    assert main([*args, "--now", "2025-03-30T00:00:00Z", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
