"""The audit rule's global (``tracebit_audit``) and the watched-item table it reads.

Item by item of the pack's audit feature: the watched ids come from the pack and cannot drift; a
change is tampering or drift, CRITICAL or MEDIUM by who made it; unknown shapes that touch a
``Tracebit.`` id still alert; bad input never raises.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml
from panther_core.enriched_event import PantherEvent

import tracebit_audit as audit
import tracebit_watched_items as watched_items
from tracebit_pack.pack import watched

REPO_ROOT = Path(__file__).resolve().parent.parent
RULE_YAML = REPO_ROOT / "rules" / "tracebit_audit_rules" / "tracebit_pack_changed.yml"
USER = {
    "attributes": {"email": "homer@springfield.gov", "emailVerified": True, "roleId": "1111"},
    "id": "PantherSSO_homer@springfield.gov",
    "name": "homer@springfield.gov",
    "type": "USER",
}
PIPELINE = {"id": "6b8c1f0e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "tracebit-pack-upload", "type": "TOKEN"}


def event(action: str, params, actor=None, result: str = "SUCCEEDED") -> PantherEvent:
    raw = {
        "actionName": action,
        "actionParams": params,
        "actionResult": result,
        "actor": copy.deepcopy(actor or USER),
        "pantherVersion": "1.34.0",
        "sourceIP": "1.2.3.4",
        "timestamp": "2022-04-28 15:30:22.42",
        "p_log_type": "Panther.Audit",
    }
    return PantherEvent(raw, None)


def deleted(*ids: str) -> dict:
    return {"dynamic": {"input": {"detections": [{"id": i} for i in ids]}}}


def updated(**fields) -> dict:
    return {"dynamic": {"input": fields}, "static": {}}


# --------------------------------------------------------------------------- the watched ids


def test_watched_items_are_the_packs_own_items():
    """The global's table is what the pack and its YAMLs say: a new or changed item cannot drift."""
    assert watched.expected_items(REPO_ROOT) == watched_items.PACK_ITEMS, (
        "global_helpers/tracebit_watched_items.py is out of date: run "
        ".venv/bin/python -m tracebit_pack.pack.watched"
    )


def test_every_pack_id_is_found_by_the_pivots_pattern():
    """The pivot finds changes by 'tracebit' in actionParams: every watched id must contain it."""
    assert all("tracebit" in item_id.lower() for item_id in watched_items.PACK_ITEMS)
    assert {"Tracebit.Canaries", "tracebit_helpers", "Standard.Tracebit.Alert"} <= set(
        watched_items.PACK_ITEMS
    )


def test_the_table_follows_the_pack(tmp_path):
    """Change the pack and the expected table changes with it (the check above is not a snapshot)."""
    root = tmp_path / "repo"
    for folder in ("rules", "queries", "correlation_rules", "data_models", "global_helpers", "packs"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    rule = root / "rules" / "tracebit_rules" / "tracebit_canary_resource_accessed.yml"
    rule.write_text(rule.read_text().replace("Severity: High", "Severity: Low"))
    pack = root / "packs" / "tracebit.yml"
    pack.write_text(pack.read_text().replace("    - Tracebit.Pivot.PackChangesBeforeAlert\n", ""))
    table = watched.expected_items(root)
    assert table["Tracebit.CanaryResourceAccessed"]["severity"] == "Low"
    assert "Tracebit.Pivot.PackChangesBeforeAlert" not in table
    assert table["Tracebit.Query.IntegrationSilent"]["schedule"] == {"rate_minutes": 60, "timeout_minutes": 5}
    assert (
        table["Tracebit.Correlation.PackChanged.IntegrationSilent"]["schedule"]["lookback_window_minutes"]
        == 360
    )


def test_a_pack_listing_an_undefined_id_is_a_one_line_error(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "packs", root / "packs")
    with pytest.raises(Exception, match="no item defines") as err:
        watched.expected_items(root)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- item 1: tampering


def test_a_console_deletion_is_critical_tampering_naming_actor_item_and_change():
    verdict = audit.assess(event("DELETE_DETECTION", deleted("Tracebit.CanaryResourceAccessed")))
    assert verdict == {
        "kind": "tampering",
        "severity": "CRITICAL",
        "changes": {"Tracebit.CanaryResourceAccessed": ["deleted"]},
        "pipeline": False,
    }
    title = audit.audit_title(event("DELETE_DETECTION", deleted("Tracebit.CanaryResourceAccessed")))
    assert title == (
        "Tracebit pack tampering: USER homer@springfield.gov DELETE_DETECTION "
        "Tracebit.CanaryResourceAccessed (deleted)"
    )


def test_other_detections_and_non_changes_raise_nothing():
    assert audit.assess(event("DELETE_DETECTION", deleted("GitHub.Team.Modified"))) is None
    assert (
        audit.assess(event("DELETE_DETECTION", deleted("Tracebit.CanaryResourceAccessed"), result="FAILED"))
        is None
    )
    assert audit.assess(event("GET_RULE", updated(id="Tracebit.CanaryResourceAccessed"))) is None
    assert (
        audit.assess(event("UPDATE_ALERT_STATUS", updated(ruleId="Tracebit.CanaryResourceAccessed"))) is None
    )
    # Panther's managed rule Tracebit.Alert, which the README says to disable, is not the pack's
    assert audit.assess(event("UPDATE_DETECTION_STATE", updated(id="Tracebit.Alert", enabled=False))) is None


@pytest.mark.parametrize("result", ["SUCCEEDED", "PARTIALLY_FAILED", None])
def test_only_a_failed_action_is_ignored(result):
    verdict = audit.assess(event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent"), result=result))
    assert verdict is not None and verdict["severity"] == "CRITICAL"


def test_every_kind_of_pack_item_is_watched():
    """Globals, data models, queries and the pack itself, not only detections."""
    for item_id in ("tracebit_helpers", "Standard.Tracebit.Alert", "Tracebit.Query.IntegrationSilent"):
        verdict = audit.assess(event("DELETE_GLOBAL_HELPER", {"input": {"ids": [item_id]}}))
        assert verdict["changes"] == {item_id: ["deleted"]}, item_id
    state = audit.assess(event("UPDATE_DETECTION_PACK_STATE", updated(id="Tracebit.Canaries", enabled=False)))
    assert state["changes"] == {"Tracebit.Canaries": ["disabled"]}


@pytest.mark.parametrize(
    ("fields", "change"),
    [
        ({"severity": "LOW"}, "severity lowered CRITICAL -> LOW"),
        ({"severity": "Critical"}, None),
        ({"dedupPeriodMinutes": 5}, "dedup 1440 -> 5"),
        ({"dedupPeriodInMinutes": "1440"}, None),
        ({"threshold": 100}, "threshold 1 -> 100"),
        ({"enabled": "false"}, "disabled"),
        ({"disabled": True}, "disabled"),
        ({"enabled": True}, None),
        ({"disabled": "false"}, None),
        ({"disabled": " True "}, "disabled"),
        ({"severity": "urgent"}, "severity set to URGENT"),
    ],
)
def test_settings_are_compared_with_main(fields, change):
    changes = audit.item_changes(event("UPDATE_RULE", updated(id="Tracebit.CanaryCredentialUsed", **fields)))
    assert changes == {"Tracebit.CanaryCredentialUsed": [change] if change else ["edited"]}


def test_a_raised_severity_and_a_schedule_are_named():
    raised = audit.item_changes(
        event("UPDATE_RULE", updated(id="Tracebit.HealthCheck.Unhealthy", severity="HIGH"))
    )
    assert raised == {"Tracebit.HealthCheck.Unhealthy": ["severity raised MEDIUM -> HIGH"]}
    query = updated(
        name="Tracebit.Query.IntegrationSilent", schedule={"rateMinutes": 60, "timeoutMinutes": 30}
    )
    assert audit.item_changes(event("UPDATE_SAVED_DATA_LAKE_QUERY", query)) == {
        "Tracebit.Query.IntegrationSilent": ["schedule timeout_minutes 5 -> 30"]
    }
    off = updated(name="Tracebit.Query.IntegrationSilent", schedule={"disabled": True})
    assert audit.item_changes(event("UPDATE_SAVED_DATA_LAKE_QUERY", off)) == {
        "Tracebit.Query.IntegrationSilent": ["disabled"]
    }


def test_the_pipeline_token_by_id_or_name():
    by_name = audit.assess(event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent"), actor=PIPELINE))
    assert (by_name["severity"], by_name["pipeline"]) == ("MEDIUM", True)
    by_id = {"id": audit.PIPELINE_TOKEN, "type": "TOKEN"}
    assert audit.assess(event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent"), actor=by_id))[
        "pipeline"
    ]
    # a user (or another token) that merely bears the name is not the pipeline
    impostor = {**USER, "name": audit.PIPELINE_TOKEN}
    assert (
        audit.assess(event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent"), actor=impostor))[
            "severity"
        ]
        == "CRITICAL"
    )


def test_the_setting_is_one_constant(monkeypatch):
    monkeypatch.setattr(audit, "PIPELINE_TOKEN", "ci-token-7")
    ours = {"id": "x", "name": "ci-token-7", "type": "TOKEN"}
    assert audit.is_pipeline(event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent"), actor=ours))
    assert not audit.is_pipeline(
        event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent"), actor=PIPELINE)
    )


def test_the_pipelines_own_uploads_and_edits_are_its_job():
    upload = updated(analysisIds=["Tracebit.CanaryResourceAccessed", "tracebit_helpers"])
    assert audit.assess(event("UPLOAD_DETECTION_ENTITIES", upload, actor=PIPELINE)) is None
    lowered = updated(id="Tracebit.CanaryCredentialUsed", severity="LOW")
    assert audit.assess(event("UPDATE_RULE", lowered, actor=PIPELINE)) is None
    disabled = updated(id="Tracebit.CanaryCredentialUsed", enabled=False)
    assert audit.assess(event("UPDATE_DETECTION_STATE", disabled, actor=PIPELINE))["severity"] == "MEDIUM"


# --------------------------------------------------------------------------- fail safe


@pytest.mark.parametrize(
    "params",
    [
        {"whatever": {"nested": [{"deep": ["Tracebit.CanaryResourceAccessed"]}]}},
        {"static": {"expression": "p_rule_id == 'Tracebit.CanaryResourceAccessed'"}},
        ["Tracebit.CanaryResourceAccessed"],
    ],
)
def test_an_id_anywhere_in_an_unknown_shape_is_found(params):
    changes = audit.item_changes(event("ARCHIVE_DETECTIONS", params))
    assert changes == {"Tracebit.CanaryResourceAccessed": ["unknown action ARCHIVE_DETECTIONS"]}


def test_an_unknown_tracebit_id_still_alerts_but_log_types_do_not():
    verdict = audit.assess(event("DELETE_DETECTION", deleted("Tracebit.SomethingRenamed.")))
    assert verdict["changes"] == {"Tracebit.SomethingRenamed": ["deleted"]}
    assert audit.audit_context(event("DELETE_DETECTION", deleted("tracebit.lowercase")))["item_kinds"] == {
        "tracebit.lowercase": "unknown"
    }
    assert audit.item_changes(event("UPDATE_LOG_SOURCE", updated(logTypes=list(audit.LOG_TYPE_IDS)))) == {}
    # the data model's id contains a log type's name; it is found whole, not as Tracebit.Alert
    assert audit.item_changes(event("DELETE_DATA_MODEL", deleted("Standard.Tracebit.Alert"))) == {
        "Standard.Tracebit.Alert": ["deleted"]
    }


def test_a_detection_filter_is_tampering():
    verdict = audit.assess(
        event("CREATE_DETECTION_FILTER", updated(detectionIds=["Tracebit.CanaryCredentialUsed"]))
    )
    assert verdict["kind"] == "tampering" and verdict["severity"] == "CRITICAL"


# --------------------------------------------------------------------------- item 2: drift


def test_a_console_edit_is_drift_with_the_remedy():
    edit = event("UPDATE_RULE", updated(id="Tracebit.CanaryResourceAccessed", severity="HIGH", runbook="x"))
    verdict = audit.assess(edit)
    assert (verdict["kind"], verdict["severity"]) == ("drift", "MEDIUM")
    context = audit.audit_context(edit)
    assert context["change_kind"] == "drift"
    assert "re-run the upload" in context["remedy"] and "pull request" in context["remedy"]
    assert audit.audit_title(edit).startswith("Tracebit pack drift from main: USER homer@springfield.gov")
    enabled = audit.item_changes(
        event("UPDATE_DETECTION_STATE", updated(id="Tracebit.IntegrationSilent", enabled=True))
    )
    assert enabled == {"Tracebit.IntegrationSilent": ["enabled"]}


def test_context_dedup_and_severity_functions():
    changed = event(
        "DELETE_DETECTION", deleted("Tracebit.IntegrationSilent", "Tracebit.CanaryCredentialUsed")
    )
    context = audit.audit_context(changed)
    assert context["items"] == ["Tracebit.CanaryCredentialUsed", "Tracebit.IntegrationSilent"]
    assert context["actor_is_pipeline"] is False and context["documented_shape"] is True
    assert context["pipeline_token"] == audit.PIPELINE_TOKEN
    assert audit.audit_dedup(changed) == (
        "tracebit-audit:PantherSSO_homer@springfield.gov:DELETE_DETECTION:"
        "Tracebit.CanaryCredentialUsed,Tracebit.IntegrationSilent"
    )
    assert audit.audit_severity(changed) == "CRITICAL"
    quiet = event("GET_RULE", updated(id="Tracebit.IntegrationSilent"))
    assert audit.audit_severity(quiet) == "INFO" and audit.audit_title(quiet) == "Tracebit pack: no change"


def test_a_long_list_of_items_is_summarised_in_the_title():
    ids = sorted(i for i in watched_items.PACK_ITEMS if i.startswith("Tracebit.Pivot."))
    assert len(ids) >= 4
    three = audit.audit_title(event("DELETE_SAVED_DATA_LAKE_QUERY", deleted(*ids[:3])))
    assert all(f"{i} (deleted)" in three for i in ids[:3]) and "more" not in three
    four = audit.audit_title(event("DELETE_SAVED_DATA_LAKE_QUERY", deleted(*ids[:4])))
    assert all(f"{i} (deleted)" in four for i in ids[:3]) and ids[3] not in four
    assert four.endswith("(deleted); +1 more")


def test_titles_and_dedup_strings_fit_panthers_limit():
    many = [f"Tracebit.Item{n:03d}" + "x" * 150 for n in range(12)]
    long_actor = {"id": "u" * 2000, "name": "n" * 300, "type": "USER"}
    long_values = updated(
        id="Tracebit.CanaryResourceAccessed",
        severity="s" * 300,
        threshold="t" * 300,
        dedupPeriodMinutes="d" * 300,
    )
    title = audit.audit_title(event("X" * 300, long_values, actor=long_actor))
    assert len(title) == 999 and title.endswith("\u2026")  # Panther keeps 1,000 characters
    dedup = audit.audit_dedup(event("DELETE_DETECTION", deleted(*many), actor=long_actor))
    assert len(dedup) == 999 and dedup.startswith("tracebit-audit:uuu")
    short = audit.audit_dedup(event("DELETE_DETECTION", deleted("Tracebit.IntegrationSilent")))
    assert len(short) < 999 and not short.endswith("\u2026")


def test_the_actor_is_named_by_email_then_name_then_id():
    assert audit.actor_label(event("X", None)) == "USER homer@springfield.gov"
    named = {"id": "PantherSSO_x", "name": "Homer Simpson", "type": "USER"}
    assert audit.actor_label(event("X", None, actor=named)) == "USER Homer Simpson"
    only_id = {"id": "scim", "type": "TOKEN"}
    assert audit.actor_label(event("X", None, actor=only_id)) == "TOKEN scim"
    assert audit.actor_label(event("X", None, actor={"type": "TOKEN"})) == "TOKEN (no id)"
    assert audit.actor_label(event("X", None, actor={"id": ""})) == "unknown actor (no id)"


def test_an_unnamed_action_touching_an_id_is_unknown():
    raw = {"actionParams": deleted("Tracebit.IntegrationSilent"), "actor": USER, "actionResult": "SUCCEEDED"}
    assert audit.item_changes(raw) == {"Tracebit.IntegrationSilent": ["unknown action (none)"]}
    assert audit.audit_context(raw)["action"] is None
    assert audit.audit_context(event("DELETE_DETECTION", deleted("x")))["action"] == "DELETE_DETECTION"


# --------------------------------------------------------------------------- bad input


BAD_PARAMS = [
    None,
    7,
    "Tracebit.CanaryResourceAccessed",
    [],
    {"dynamic": None},
    {"input": {"detections": [None, 3]}},
]


@pytest.mark.parametrize("params", BAD_PARAMS)
@pytest.mark.parametrize("actor", [None, {}, {"type": None}, {"id": 5, "type": ["TOKEN"]}])
def test_bad_input_never_raises(params, actor):
    raw = {"actionName": "DELETE_DETECTION", "actionParams": params, "actor": actor, "actionResult": None}
    for value in (PantherEvent(raw, None), raw, {}):
        audit.assess(value)
        json.dumps(audit.audit_context(value))
        assert isinstance(audit.audit_title(value), str) and isinstance(audit.audit_dedup(value), str)


def nested(levels: int) -> object:
    value: object = "Tracebit.CanaryResourceAccessed"
    for _ in range(levels):
        value = {"x": value}
    return value


def test_deep_or_huge_params_are_bounded():
    found = {"Tracebit.CanaryResourceAccessed": ["unknown action ARCHIVE"]}
    # depth: an id inside 12 mappings (MAX_DEPTH) is read, one level deeper is not
    assert audit.item_changes(event("ARCHIVE", nested(12))) == found
    assert audit.item_changes(event("ARCHIVE", nested(13))) == {}
    # nodes: 2,000 values (MAX_NODES) are read: the root, the list and 1,998 strings, and no more
    last = 1998
    reached = {"ids": ["noise"] * (last - 1) + ["Tracebit.CanaryResourceAccessed"]}
    assert audit.item_changes(event("ARCHIVE", reached)) == found
    beyond = {"ids": ["noise"] * last + ["Tracebit.CanaryResourceAccessed"]}
    assert audit.item_changes(event("ARCHIVE", beyond)) == {}
    lists: object = ["Tracebit.CanaryResourceAccessed"]
    for _ in range(50):
        lists = [lists]
    assert audit.item_changes(event("ARCHIVE", lists)) == found  # lists add no depth, only nodes


def test_the_rule_yaml_tests_use_panthers_own_shapes():
    """DELETE_DETECTION tests carry the ids where panther-analysis's test events do."""
    tests = yaml.safe_load(RULE_YAML.read_text())["Tests"]
    deletes = [t["Log"] for t in tests if t["Log"]["actionName"] == "DELETE_DETECTION"]
    assert deletes
    for log in deletes:
        params = log["actionParams"]
        detections = (params.get("dynamic") or params)["input"]["detections"]
        assert all(set(d) == {"id"} for d in detections)


def test_every_item_a_deletion_or_a_filter_names_is_reported():
    """Several pack ids in one deletion or one detection-filter change: each is listed."""
    ids = ("Tracebit.CanaryResourceAccessed", "Tracebit.CanaryCredentialUsed")
    assert audit.item_changes(event("DELETE_DETECTION", deleted(*ids))) == {i: ["deleted"] for i in ids}
    changed = audit.item_changes(event("UPDATE_DETECTION_FILTER", deleted(*ids)))
    assert changed == {i: ["filter added or changed (detection filter)"] for i in ids}


def test_a_setting_is_read_whatever_the_case_of_its_key():
    """actionParams keys in another case (``Enabled``, ``SEVERITY``) are read as Panther reads
    fields; an exact key wins over another spelling of it."""
    off = updated(id="Tracebit.CanaryCredentialUsed", Enabled=False, SEVERITY="LOW")
    assert audit.item_changes(event("UPDATE_RULE", off)) == {
        "Tracebit.CanaryCredentialUsed": ["disabled", "severity lowered CRITICAL -> LOW"]
    }
    both = updated(id="Tracebit.CanaryCredentialUsed", Enabled=False, enabled=True)
    assert audit.item_changes(event("UPDATE_RULE", both)) == {"Tracebit.CanaryCredentialUsed": ["edited"]}


def test_the_pipeline_disabling_any_item_of_an_upload_is_reported():
    """The pipeline's own upload is read for removals item by item: the second one disabled counts."""
    params = {
        "dynamic": {
            "input": {
                "rules": [
                    {"id": "Tracebit.CanaryResourceAccessed", "enabled": True},
                    {"id": "Tracebit.CanaryCredentialUsed", "enabled": False},
                ]
            }
        }
    }
    verdict = audit.assess(event("UPLOAD_DETECTION_ENTITIES", params, actor=PIPELINE))
    assert verdict is not None and verdict["severity"] == "MEDIUM" and verdict["pipeline"]
    assert verdict["changes"]["Tracebit.CanaryCredentialUsed"] == ["disabled"]
