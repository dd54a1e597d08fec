"""The offline KV store: ``panther_detection_helpers.caching`` without DynamoDB.

Rules and global helpers keep state across events in Panther's KV table (``panther-kv-store``)
through ``panther_detection_helpers.caching``. Offline, ``MemoryKVStore`` keeps it in memory with
the event time as its clock, and ``patch_caching`` points what a module imported from the
caching module at the store, so a replay is deterministic and never calls AWS.

Importing the real module makes a fresh process import boto3 and datadog for nothing offline:
``install_stand_in`` puts a stand-in of the same functions in its place when nothing imported the
real one yet. ``patch_caching`` recognises the functions of either.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

CACHING = "panther_detection_helpers.caching"
DEFAULT_TTL_SECONDS = 90 * 24 * 3600  # panther_detection_helpers default (90 days)
RELATIVE_TTL_LIMIT = 1_000_000_000  # below this an epoch_seconds value is relative


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


def _unbound(name: str):
    """A stand-in caching function: one a rule calls only if no ``PackEngine`` loaded it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"offline replay: caching.{name} called from a module the engine did not load "
            "(its KV cache functions point at the engine's store once it loads them)"
        )

    call.__name__ = call.__qualname__ = name
    return call


STAND_IN = types.ModuleType(CACHING, "Offline stand-in for panther_detection_helpers.caching (engine.kv).")
for _name in MemoryKVStore.FUNCTIONS:
    setattr(STAND_IN, _name, _unbound(_name))


def install_stand_in() -> None:
    """Make ``import panther_detection_helpers.caching`` give ``STAND_IN``, unless the real module is
    already imported (then it stays: ``patch_caching`` recognises either)."""
    if CACHING in sys.modules:
        return
    import panther_detection_helpers

    sys.modules[CACHING] = STAND_IN
    panther_detection_helpers.caching = STAND_IN


def patch_caching(module: types.ModuleType, store: MemoryKVStore) -> list[str]:
    """Replace caching functions (and a ``caching`` module reference) that ``module`` imported.

    A module attribute is replaced when it *is* one of the caching functions, of the real module
    or of ``STAND_IN`` (so ``from panther_detection_helpers.caching import get_dictionary as gd``
    is caught too), or one of those modules itself. Returns the attribute names replaced.
    """
    modules = [STAND_IN]
    real = sys.modules.get(CACHING)
    if real is not None and real is not STAND_IN:
        modules.append(real)
    known = {
        id(found): name
        for caching in modules
        for name in MemoryKVStore.FUNCTIONS
        if (found := getattr(caching, name, None)) is not None
    }
    replaced = []
    for attr, value in list(vars(module).items()):
        if any(value is caching for caching in modules):
            setattr(module, attr, store.as_module())
            replaced.append(attr)
        elif callable(value) and id(value) in known:
            setattr(module, attr, getattr(store, known[id(value)]))
            replaced.append(attr)
    return replaced
