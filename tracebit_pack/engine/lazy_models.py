"""Data models built on first use, one per log type.

Building a ``panther_core`` DataModel compiles each ``Path`` mapping with jsonpath-ng, whose parser
regenerates its tables on every call (~0.1 s each). panther-analysis has over 200 such mappings
across 37 models, and a replay usually touches a handful of log types, so the engine declares
every enabled model at load (conflicts are still found then) and builds each only when an event
of its log type needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tracebit_pack.errors import UserError


class LazyDataModels(Mapping):
    """``log type -> DataModel`` (None when the model failed to build; the reason goes to ``failed``)."""

    def __init__(self, build: Callable[[Any], Any], failed: dict[str, str]):
        self._build = build
        self._failed = failed
        self._declared: dict[str, Any] = {}  # log type -> analysis item
        self._built: dict[str, Any] = {}

    def declare(self, log_type: str, item: Any) -> None:
        self._declared[log_type] = item

    def __getitem__(self, log_type: str) -> Any:
        if log_type not in self._built:
            item = self._declared[log_type]  # KeyError for an undeclared log type, as a dict
            try:
                self._built[log_type] = self._build(item)
            except UserError as err:
                self._failed[item.id] = str(err).removeprefix(f"{item.path}: ")[:300]
                self._built[log_type] = None
        return self._built[log_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)
