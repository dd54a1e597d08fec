"""Run the pack's rules offline with Panther's own rule engine (``panther_core``).

``PackEngine.load(root)`` loads the pack the way Panther (and ``pat test``) loads it:

* every global helper (``AnalysisType: global``) is importable under its ``GlobalID``
  (``tracebit_pack.pack.globals``);
* one ``panther_core.data_model.DataModel`` per log type (enabled data models only);
* every enabled rule and scheduled rule as a ``panther_core.rule.Rule`` built from its YAML
  (``tracebit_pack.engine.loaded_rule``).

``panther_detection_helpers.caching`` functions that rule or helper modules imported (the real
module's, or an offline stand-in's when nothing imported the real one first) are replaced with
an in-memory key-value store whose clock is the time the event being processed arrived
(``p_parse_time``, else ``p_event_time``), so replay works offline and never calls AWS
(``tracebit_pack.engine.kv``).

One rule on one event: ``rule_event`` + ``run_rule`` (as the replay runs it: KV clock at the
event time, data model of its log type) and ``run_test`` (as ``pat test`` runs a rule test).
Tools (fuzz, bench, review, conformance) go through these, not through panther_core directly.

Globals are process-wide modules (as in Panther): load two versions of a pack in separate
processes. Loading another pack in the same process re-imports the helpers under their IDs.
"""

from __future__ import annotations

import contextlib
import io
import json
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, patch

from panther_core.data_model import DataModel
from panther_core.detection import DetectionResult
from panther_core.enriched_event import PantherEvent

from tracebit_pack import times
from tracebit_pack.engine.kv import MemoryKVStore, install_stand_in, patch_caching
from tracebit_pack.engine.lazy_models import LazyDataModels
from tracebit_pack.engine.loaded_rule import SEVERITIES, LoadedRule, RuleResult, default_dedup, load_rule
from tracebit_pack.engine.match_sql import Pushdown, rule_pushdown
from tracebit_pack.engine.simple_rules import NotEvaluated
from tracebit_pack.errors import UserError
from tracebit_pack.pack import globals as pack_globals
from tracebit_pack.pack.items import (
    ITEM_DIRS,
    REPO_ROOT,
    AnalysisItem,
    items_of,
    iter_item_files,
    load_items,
    load_yaml,
)
from tracebit_pack.pack.not_evaluated import unevaluated_items


def _data_model(item: AnalysisItem) -> DataModel:
    spec = item.spec
    config: dict[str, Any] = {
        "id": item.id,
        "versionId": "",
        "mappings": [{str(k).lower(): v for k, v in m.items()} for m in spec.get("Mappings") or []],
    }
    body = item.body_path
    if body is not None:
        config["body"] = body.read_text(encoding="utf-8")
    try:
        return DataModel(config)
    except Exception as err:
        raise UserError(f"{item.path}: data model {item.id!r}: {err}") from None


def _event_epoch(event: Mapping) -> float | None:
    """When Panther processes the event: its arrival (``p_parse_time``), else its event time."""
    value = event.get("p_parse_time") or event.get("p_event_time")
    if not value:
        return None
    parsed = times.parse_event_time(str(value))
    return parsed.timestamp() if parsed else None


def _load_items(root: Path, item_dirs: Iterable[str] | None) -> list[AnalysisItem]:
    if not root.is_dir():
        raise UserError(f"{root}: pack folder not found")
    if item_dirs is None or tuple(item_dirs) == ITEM_DIRS:
        return load_items(root)
    items = []
    for path in iter_item_files(root, item_dirs):
        spec = load_yaml(path)
        if isinstance(spec, dict) and "AnalysisType" in spec:
            items.append(AnalysisItem(path=path, spec=spec))
    return items


class PackEngine:
    """A pack loaded into panther_core: run events through every matching rule."""

    def __init__(self, root: Path, batch_mode: bool = True):
        self.root = Path(root)
        self.batch_mode = batch_mode
        self.kv = MemoryKVStore()
        self.items: list[AnalysisItem] = []
        self.globals: dict[str, types.ModuleType] = {}
        self.not_evaluated: dict[str, str] = {}  # item ID -> why the offline engine skips it
        self.data_models = LazyDataModels(_data_model, self.not_evaluated)  # log type -> DataModel
        self.rules: dict[str, LoadedRule] = {}
        self.scheduled_rules: dict[str, LoadedRule] = {}
        self.load_errors: dict[str, str] = {}
        self._by_log_type: dict[str, list[LoadedRule]] = {}
        self._on_demand: dict[str, LoadedRule] = {}  # rules loaded for their tests (rule_of)

    @classmethod
    def load(
        cls, root: Path = REPO_ROOT, batch_mode: bool = True, item_dirs: Iterable[str] | None = None
    ) -> PackEngine:
        """Load the pack under ``root``.

        ``item_dirs`` overrides the folders searched for items (default: the repository layout,
        ``rules/``, ``data_models/``, ``global_helpers/`` ...). Test fixture packs use other
        folder names so that ``pat test --path .`` and ``pat check-packs`` do not pick them up
        (pat loads every directory whose path contains ``rules``, ``data_models`` ...).
        """
        engine = cls(root, batch_mode)
        engine.items = _load_items(engine.root, item_dirs)
        install_stand_in()  # before any helper or rule imports the caching module
        engine.globals = pack_globals.install(items_of(engine.items, "global"))
        engine.not_evaluated.update(unevaluated_items(engine.items))
        for name, module in engine.globals.items():
            if module is not None:
                patch_caching(module, engine.kv)
            else:
                engine.not_evaluated[name] = "global helper failed to import"
        for item in items_of(engine.items, "datamodel"):
            if not item.spec.get("Enabled", False):
                continue
            for log_type in item.spec.get("LogTypes") or []:
                if log_type in engine.data_models:
                    raise UserError(
                        f"{item.path}: Conflicting Enabled LogType [{log_type}] in Data Model [{item.id}]"
                    )
                engine.data_models.declare(log_type, item)
        for item in items_of(engine.items, "rule", "scheduled_rule"):
            if not item.spec.get("Enabled", False):
                continue
            try:
                rule = load_rule(item)
            except NotEvaluated as err:
                engine.not_evaluated[item.id] = str(err)
                continue
            loaded = LoadedRule(item, rule)
            if rule.setup_exception is not None:
                engine.load_errors[item.id] = repr(rule.setup_exception)
                engine.not_evaluated[item.id] = f"Python failed to import: {rule.setup_exception!r}"[:300]
                continue
            patch_caching(rule.module, engine.kv)
            if item.kind == "rule":
                engine.rules[item.id] = loaded
                for log_type in item.spec.get("LogTypes") or []:
                    engine._by_log_type.setdefault(log_type, []).append(loaded)
            else:
                engine.scheduled_rules[item.id] = loaded
        return engine

    # ---------------------------------------------------------------- running
    def rule(self, rule_id: str) -> LoadedRule:
        found = self.rules.get(rule_id) or self.scheduled_rules.get(rule_id)
        if found is None:
            raise UserError(f"unknown rule: {rule_id!r}")
        return found

    def rule_of(self, item: AnalysisItem) -> LoadedRule:
        """The loaded rule of a rule item, enabled or not (``pat test`` tests disabled rules too).

        A rule the engine did not load (disabled, or failed to load) is loaded on first use, its
        KV cache calls pointed at ``self.kv``.
        Raises ``NotEvaluated`` when it cannot run offline; a Python import error is in
        ``rule_of(item).rule.setup_exception``.
        """
        found = self.rules.get(item.id) or self.scheduled_rules.get(item.id) or self._on_demand.get(item.id)
        if found is None:
            found = self._on_demand[item.id] = LoadedRule(item, load_rule(item))
            if found.rule.setup_exception is None and found.rule.module is not None:
                patch_caching(found.rule.module, self.kv)
        return found

    def rules_for(self, log_type: str) -> list[LoadedRule]:
        return self._by_log_type.get(log_type, [])

    def pushdown(self, log_type: str) -> Pushdown | None:
        """The SQL condition that keeps the events of ``log_type`` some rule's InlineFilters may
        pass (``match_sql``); None when a rule of it reads every event."""
        return rule_pushdown(loaded.spec.get("InlineFilters") for loaded in self.rules_for(log_type))

    def run_event(self, event: Mapping) -> list[RuleResult]:
        """Every enabled real-time rule for the event's ``p_log_type``, in load order."""
        log_type = event.get("p_log_type")
        rules = self.rules_for(str(log_type)) if log_type else []
        if not rules:
            return []
        panther_event = self.rule_event(event)
        return [self._result(loaded, self.run_rule(loaded, panther_event), event) for loaded in rules]

    def run_scheduled(self, rule_id: str, rows: Iterable[Mapping]) -> list[RuleResult]:
        """Run one scheduled rule on the rows of its scheduled query (no data model, as pat does)."""
        loaded = self.scheduled_rules.get(rule_id)
        if loaded is None:
            raise UserError(f"unknown scheduled rule: {rule_id!r}")
        return [
            self._result(loaded, self.run_rule(loaded, self.rule_event(row, scheduled=True)), row)
            for row in rows
        ]

    def rule_event(self, event: Mapping, *, scheduled: bool = False) -> PantherEvent:
        """The event as the replay hands it to rules, with the KV clock set to its time.

        The KV cache's clock becomes the event's arrival, ``p_parse_time`` (else ``p_event_time``;
        left as it is when the event has neither), and the event is wrapped with the data model
        of its ``p_log_type``, unless it is a ``scheduled`` query row (no data model, as in pat).
        One PantherEvent can be run through several rules.
        """
        epoch = _event_epoch(event)
        if epoch is not None:
            self.kv.now = epoch
        if scheduled:
            return PantherEvent(event)
        return PantherEvent(event, self.data_models.get(str(event.get("p_log_type"))))

    def run_rule(
        self, loaded: LoadedRule, event: Mapping | PantherEvent, *, batch_mode: bool | None = None
    ) -> DetectionResult:
        """Run one rule on one event as the replay does; panther_core's full result.

        ``event``: a mapping with Panther's ``p_*`` fields (set up by ``rule_event``: KV clock,
        data model of a real-time rule's log type) or a PantherEvent from ``rule_event``.
        ``batch_mode``: the engine's mode by default (True: production, where a failing
        ``title``/``dedup``... falls back to a default; False: ``pat test``, where it is an error).
        """
        if not isinstance(event, PantherEvent):
            event = self.rule_event(event, scheduled=loaded.item.kind != "rule")
        mode = self.batch_mode if batch_mode is None else batch_mode
        return loaded.rule.run(event, {}, {}, batch_mode=mode)

    def run_test(self, loaded: LoadedRule, log: Mapping, mocks: Iterable[Any] = ()) -> DetectionResult:
        """Run one rule test the way ``pat test`` does; panther_core's full result.

        Not in batch mode; the test's ``Mocks`` (``[{objectName, returnValue}]``) patched into
        the rule module; a real-time rule gets the data model of the log's ``p_log_type``; the KV
        clock is left as it is; what the rule prints is swallowed.
        """
        model = self.data_models.get(str(log.get("p_log_type"))) if loaded.item.kind == "rule" else None
        patched = {
            m["objectName"]: MagicMock(return_value=m["returnValue"])
            for m in mocks or ()
            if isinstance(m, dict) and "objectName" in m and "returnValue" in m
        }
        module = loaded.rule.module
        with contextlib.ExitStack() as stack:
            sink = io.StringIO()
            stack.enter_context(contextlib.redirect_stdout(sink))
            stack.enter_context(contextlib.redirect_stderr(sink))
            if patched and module is not None:
                stack.enter_context(patch.multiple(module, **patched))
            return loaded.rule.run(PantherEvent(log, model), {}, {}, batch_mode=False)

    def _result(self, loaded: LoadedRule, result: DetectionResult, raw: Mapping) -> RuleResult:
        out = RuleResult(
            rule_id=loaded.id,
            matched=bool(result.trigger_alert),
            create_alert=loaded.settings.create_alert,
            event_time=raw.get("p_event_time"),
            arrival_time=raw.get("p_parse_time"),
            log_type=raw.get("p_log_type"),
            event=raw,
        )
        if result.errored:
            out.error = result.short_error_message or result.error_message or "error"
        if not out.matched:
            return out
        out.title = result.title_output or loaded.display_name
        out.dedup = result.dedup_output or default_dedup(loaded.id)
        severity = (result.severity_output or "").upper()
        out.severity = severity if severity in SEVERITIES else loaded.settings.severity
        out.destinations = list(result.destinations_output) if result.destinations_output else None
        if result.alert_context_output:
            try:
                context = json.loads(result.alert_context_output)
            except ValueError:
                context = {"_error": "alert_context is not JSON"}
            out.alert_context = context if isinstance(context, dict) else {"_value": context}
        return out
