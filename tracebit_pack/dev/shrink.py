"""Shrink a failing JSON value (greedy delta debugging) into a small regression case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def _candidates(value: Any) -> Iterator[Any]:
    """Smaller versions of a JSON value, most aggressive first."""
    if isinstance(value, dict):
        for key in list(value):
            yield {k: v for k, v in value.items() if k != key}
        for key, child in value.items():
            for smaller in _candidates(child):
                yield {**value, key: smaller}
    elif isinstance(value, list):
        if value:
            yield []
        if len(value) > 1:
            yield value[: len(value) // 2]
            yield value[1:]
            yield value[:-1]
        for index, child in enumerate(value[:5]):
            for smaller in _candidates(child):
                yield [*value[:index], smaller, *value[index + 1 :]]
    elif isinstance(value, str) and len(value) > 1:
        yield value[: len(value) // 2]
        yield value[len(value) // 2 :]
        yield value[1:]
        yield value[:-1]


def shrink(event: Any, still_fails: Callable[[Any], bool], budget: int = 3000) -> Any:
    """Greedy delta debugging: keep the first smaller candidate that still fails, until none does."""
    current = event
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        for candidate in _candidates(current):
            tries += 1
            if tries >= budget:
                break
            if still_fails(candidate):
                current = candidate
                improved = True
                break
    return current
