"""Run the pack's rules offline with Panther's own rule engine (``panther_core``).

``PackEngine.load(root)`` loads the pack the way Panther (and ``pat test``) loads it:

* every global helper (``AnalysisType: global``) is importable under its ``GlobalID``;
* one ``panther_core.data_model.DataModel`` per log type (enabled data models only);
* every enabled rule and scheduled rule as a ``panther_core.rule.Rule`` built from its YAML
  (``id``, ``path``, ``severity``, ``dedupPeriodMinutes``, ``suppressAlert``).

``panther_detection_helpers.caching`` functions that rule or helper modules imported are
replaced with an in-memory key-value store whose clock is the time of the event being
processed (``p_event_time``), so replay works offline and never calls AWS.

Globals are process-wide modules (as in Panther): load two versions of a pack in separate
processes. Loading another pack in the same process re-imports the helpers under their IDs.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panther_core.data_model import DataModel
from panther_core.enriched_event import PantherEvent
from panther_core.rule import Rule

from tracebit_pack import times
from tracebit_pack.engine.lazy_models import LazyDataModels
from tracebit_pack.engine.simple_rules import NotEvaluated, build_rule
from tracebit_pack.errors import UserError
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

try:  # the real helpers; only used to recognise (and replace) what modules imported
    from panther_detection_helpers import caching as _real_caching
except ImportError:  # pragma: no cover - the package is a pinned dependency
    _real_caching = None

SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_DEDUP_PERIOD_MINUTES = 60
DEFAULT_TTL_SECONDS = 90 * 24 * 3600  # panther_detection_helpers default (90 days)
RELATIVE_TTL_LIMIT = 1_000_000_000  # below this an epoch_seconds value is relative


def default_dedup(rule_id: str) -> str:
    """The dedup string Panther uses when a rule has no ``dedup()``."""
    return f"defaultDedupString:{rule_id}"


# --------------------------------------------------------------------------- KV store


class MemoryKVStore:
    """In-memory stand-in for ``panther_detection_helpers.caching`` (DynamoDB ``panther-kv-store``).

    Same functions, same return values, same TTL rules, but the clock is ``self.now`` (epoch
    seconds), which the engine sets to each event's ``p_event_time`` before running rules. A
    relative ``epoch_seconds`` (< 1e9) is relative to that clock. Expired items are dropped on
    read whatever ``force_ttl_check`` says (DynamoDB deletes them eventually; a replay is
    deterministic instead). Values are deep-copied through JSON, as DynamoDB would.
    """

    def __init__(self) -> None:
        self.now: float = 0.0
        self._items: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, int] = {}  # function name -> number of calls (bounded, for reports)

    def clear(self) -> None:
        """Empty the store in place (rule modules hold bound methods of this object)."""
        self.__init__()

    # -- internals
    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _ttl(self, epoch_seconds: Any, default: int | None = DEFAULT_TTL_SECONDS) -> int | None:
        if epoch_seconds is None:
            return None if default is None else int(self.now) + default
        if isinstance(epoch_seconds, str):
            epoch_seconds = float(epoch_seconds)
        epoch_seconds = int(epoch_seconds)
        if epoch_seconds < RELATIVE_TTL_LIMIT:
            epoch_seconds = int(self.now) + epoch_seconds
        return epoch_seconds

    def _item(self, key: str) -> dict[str, Any]:
        item = self._items.get(key)
        if item is None:
            return {}
        expires = item.get("expiresAt")
        if expires is not None and expires <= self.now:
            del self._items[key]
            return {}
        return item

    def _put(self, key: str, column: str, value: Any, expires: int | None) -> None:
        item = self._item(key)
        item = dict(item)
        item[column] = value
        if expires is not None:
            item["expiresAt"] = expires
        self._items[key] = item

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Live items (for reports and tests)."""
        return {key: dict(item) for key in list(self._items) if (item := self._item(key))}

    # -- dictionaries
    def put_dictionary(self, key: str, val: Mapping, epoch_seconds: Any = None) -> None:
        self._count("put_dictionary")
        if not isinstance(val, Mapping):
            raise TypeError("panther_oss_helpers.put_dictionary: value is not a dictionary")
        try:
            data = json.dumps(val)
        except TypeError as exc:
            raise ValueError(
                "panther_oss_helpers.put_dictionary: value is a dictionary, but it is not JSON serializable"
            ) from exc
        self._items[key] = {"dictionary": data, "expiresAt": self._ttl(epoch_seconds)}

    def get_dictionary(self, key: str, force_ttl_check: bool = False) -> dict:
        self._count("get_dictionary")
        data = self._item(key).get("dictionary")
        return json.loads(data) if data else {}

    # -- counters
    def get_counter(self, key: str, force_ttl_check: bool = False) -> int:
        self._count("get_counter")
        return int(self._item(key).get("intCount", 0))

    def increment_counter(self, key: str, val: int = 1, epoch_seconds: Any = DEFAULT_TTL_SECONDS) -> int:
        self._count("increment_counter")
        item = self._item(key)
        if not item:  # missing or expired: PDH returns val itself
            self._put(key, "intCount", val, self._ttl(epoch_seconds))
            return val
        total = int(item.get("intCount", 0)) + val
        self._put(key, "intCount", total, self._ttl(epoch_seconds, default=None))
        return total

    def reset_counter(self, key: str) -> None:
        self._count("reset_counter")
        self._item(key).pop("intCount", None)

    def set_key_expiration(self, key: str, epoch_seconds: Any) -> None:
        self._count("set_key_expiration")
        item = self._items.setdefault(key, {})
        item["expiresAt"] = self._ttl(epoch_seconds)

    # -- string sets
    def get_string_set(self, key: str, force_ttl_check: bool = False) -> set[str]:
        self._count("get_string_set")
        return set(self._item(key).get("stringSet", set()))

    def put_string_set(self, key: str, val: Iterable[str], epoch_seconds: Any = None) -> None:
        self._count("put_string_set")
        if not val:
            self.reset_string_set(key)
            return
        self._put(key, "stringSet", set(val), self._ttl(epoch_seconds))

    def add_to_string_set(
        self, key: str, val: str | Iterable[str], epoch_seconds: Any = DEFAULT_TTL_SECONDS
    ) -> set[str]:
        self._count("add_to_string_set")
        values = {val} if isinstance(val, str) else set(val)
        current = set(self._item(key).get("stringSet", set()))
        if not values:
            return current
        current |= values
        self._put(key, "stringSet", current, self._ttl(epoch_seconds, default=None))
        return set(current)

    def remove_from_string_set(
        self, key: str, val: str | Iterable[str], epoch_seconds: Any = DEFAULT_TTL_SECONDS
    ) -> set[str]:
        self._count("remove_from_string_set")
        values = {val} if isinstance(val, str) else set(val)
        if not self._item(key):
            return set()
        current = set(self._item(key).get("stringSet", set())) - values
        self._put(key, "stringSet", current, self._ttl(epoch_seconds, default=None))
        return set(current)

    def reset_string_set(self, key: str) -> None:
        self._count("reset_string_set")
        self._item(key).pop("stringSet", None)

    # -- composites
    def evaluate_threshold(self, key: str, threshold: int = 10, expiry_seconds: int = 3600) -> bool:
        count = self.increment_counter(key, epoch_seconds=expiry_seconds)
        if count >= threshold:
            self.reset_counter(key)
            return True
        return False

    def check_account_age(self, key: Any) -> bool:
        if isinstance(key, str) and key != "":
            return bool(self.get_string_set(key, force_ttl_check=True))
        return False

    def ttl_expired(self, response: dict) -> bool:
        expiration = response.get("Item", {}).get("expiresAt", 0)
        return bool(expiration) and float(expiration) <= self.now

    def kv_table(self) -> Any:
        raise RuntimeError(
            "offline replay: the DynamoDB KV table is not available (use the caching functions)"
        )

    FUNCTIONS = (
        "put_dictionary",
        "get_dictionary",
        "get_counter",
        "increment_counter",
        "reset_counter",
        "set_key_expiration",
        "get_string_set",
        "put_string_set",
        "add_to_string_set",
        "remove_from_string_set",
        "reset_string_set",
        "evaluate_threshold",
        "check_account_age",
        "ttl_expired",
        "kv_table",
    )

    def as_module(self) -> types.ModuleType:
        """A stand-in for ``panther_detection_helpers.caching`` bound to this store."""
        module = types.ModuleType("panther_detection_helpers.caching (offline)")
        for name in self.FUNCTIONS:
            setattr(module, name, getattr(self, name))
        return module


def patch_caching(module: types.ModuleType, store: MemoryKVStore) -> list[str]:
    """Replace caching functions (and a ``caching`` module reference) that ``module`` imported.

    A module attribute is replaced when it *is* one of the real caching functions (so
    ``from panther_detection_helpers.caching import get_dictionary as gd`` is caught too) or
    the caching module itself. Returns the attribute names replaced.
    """
    if _real_caching is None:
        return []
    real = {id(getattr(_real_caching, name, None)): name for name in MemoryKVStore.FUNCTIONS}
    replaced = []
    for attr, value in list(vars(module).items()):
        if value is _real_caching:
            setattr(module, attr, store.as_module())
            replaced.append(attr)
        elif callable(value) and id(value) in real:
            setattr(module, attr, getattr(store, real[id(value)]))
            replaced.append(attr)
    return replaced


# --------------------------------------------------------------------------- globals


class _GlobalsFinder(importlib.abc.MetaPathFinder):
    """Makes each global helper importable under its GlobalID (first on the import path)."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - importlib API
        file = self.paths.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


_ACTIVE_FINDER: _GlobalsFinder | None = None


def _install_globals(globals_: list[AnalysisItem]) -> dict[str, types.ModuleType]:
    global _ACTIVE_FINDER  # noqa: PLW0603 - one set of globals per process, as in Panther
    paths: dict[str, Path] = {}
    for item in globals_:
        body = item.body_path
        if body is None or not body.is_file():
            raise UserError(
                f"{item.path}: global {item.id!r}: Filename {item.spec.get('Filename')!r} not found"
            )
        paths[item.id] = body
    if _ACTIVE_FINDER is not None and _ACTIVE_FINDER in sys.meta_path:
        sys.meta_path.remove(_ACTIVE_FINDER)
        for name in _ACTIVE_FINDER.paths:
            sys.modules.pop(name, None)
    _ACTIVE_FINDER = _GlobalsFinder(paths)
    sys.meta_path.insert(0, _ACTIVE_FINDER)
    for name in paths:
        sys.modules.pop(name, None)
    modules = {}
    for name in paths:
        try:
            modules[name] = importlib.import_module(name)
        except Exception as err:  # a broken helper: rules that import it will fail to load
            modules[name] = None  # type: ignore[assignment]
            print(f"tracebit-pack: warning: global {name!r} failed to import: {err!r}", file=sys.stderr)
    return modules


# --------------------------------------------------------------------------- rules


@dataclass
class RuleResult:
    """The outcome of one rule on one event (Panther production semantics, batch mode)."""

    rule_id: str
    matched: bool
    title: str | None = None
    dedup: str | None = None
    severity: str | None = None
    alert_context: dict = field(default_factory=dict)
    create_alert: bool = True
    error: str | None = None
    event_time: str | None = None  # p_event_time of the event
    log_type: str | None = None
    event: Mapping | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RuleSettings:
    """The alerting settings of one rule (from its YAML)."""

    dedup_period_minutes: int = DEFAULT_DEDUP_PERIOD_MINUTES
    threshold: int = 1
    create_alert: bool = True

    @classmethod
    def from_spec(cls, spec: Mapping) -> RuleSettings:
        period = spec.get("DedupPeriodMinutes")
        threshold = spec.get("Threshold")
        return cls(
            dedup_period_minutes=period
            if isinstance(period, int) and period > 0
            else DEFAULT_DEDUP_PERIOD_MINUTES,
            threshold=threshold if isinstance(threshold, int) and threshold > 0 else 1,
            create_alert=bool(spec.get("CreateAlert", True)),
        )


@dataclass
class LoadedRule:
    item: AnalysisItem
    rule: Rule

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def spec(self) -> dict:
        return self.item.spec

    @property
    def severity(self) -> str:
        return str(self.spec.get("Severity", "Info")).upper()

    @property
    def settings(self) -> RuleSettings:
        return RuleSettings.from_spec(self.spec)

    @property
    def create_alert(self) -> bool:
        return self.settings.create_alert

    @property
    def dedup_period_minutes(self) -> int:
        return self.settings.dedup_period_minutes

    @property
    def threshold(self) -> int:
        return self.settings.threshold

    @property
    def display_name(self) -> str:
        return str(self.spec.get("DisplayName") or self.id)


def _rule_config(item: AnalysisItem) -> dict:
    spec = item.spec
    config: dict[str, Any] = {
        "id": item.id,
        "versionId": "0000-0000-0000",
        "analysisType": spec["AnalysisType"].upper(),
        "severity": str(spec.get("Severity", "Info")).upper(),
        "tags": list(spec.get("Tags") or []),
        "suppressAlert": not bool(spec.get("CreateAlert", True)),
    }
    if isinstance(spec.get("DedupPeriodMinutes"), int):
        config["dedupPeriodMinutes"] = spec["DedupPeriodMinutes"]
    return config


def load_rule(item: AnalysisItem) -> Rule:
    """The panther_core rule for a rule item: Python body, InlineFilters and Simple Detections.

    Raises ``simple_rules.NotEvaluated`` (with the reason) for what cannot be evaluated offline.
    """
    return build_rule(item, _rule_config(item))


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
    value = event.get("p_event_time")
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
        engine.globals = _install_globals(items_of(engine.items, "global"))
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

    def rules_for(self, log_type: str) -> list[LoadedRule]:
        return self._by_log_type.get(log_type, [])

    def run_event(self, event: Mapping) -> list[RuleResult]:
        """Every enabled real-time rule for the event's ``p_log_type``, in load order."""
        log_type = event.get("p_log_type")
        rules = self.rules_for(str(log_type)) if log_type else []
        if not rules:
            return []
        epoch = _event_epoch(event)
        if epoch is not None:
            self.kv.now = epoch
        panther_event = PantherEvent(event, self.data_models.get(str(log_type)))
        return [self._run(loaded, panther_event, event) for loaded in rules]

    def run_scheduled(self, rule_id: str, rows: Iterable[Mapping]) -> list[RuleResult]:
        """Run one scheduled rule on the rows of its scheduled query (no data model, as pat does)."""
        loaded = self.scheduled_rules.get(rule_id)
        if loaded is None:
            raise UserError(f"unknown scheduled rule: {rule_id!r}")
        results = []
        for row in rows:
            epoch = _event_epoch(row)
            if epoch is not None:
                self.kv.now = epoch
            results.append(self._run(loaded, PantherEvent(row), row))
        return results

    def _run(self, loaded: LoadedRule, panther_event: PantherEvent, raw: Mapping) -> RuleResult:
        result = loaded.rule.run(panther_event, {}, {}, batch_mode=self.batch_mode)
        out = RuleResult(
            rule_id=loaded.id,
            matched=bool(result.trigger_alert),
            create_alert=loaded.create_alert,
            event_time=raw.get("p_event_time"),
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
        out.severity = severity if severity in SEVERITIES else loaded.severity
        if result.alert_context_output:
            try:
                context = json.loads(result.alert_context_output)
            except ValueError:
                context = {"_error": "alert_context is not JSON"}
            out.alert_context = context if isinstance(context, dict) else {"_value": context}
        return out
