"""Hypothesis strategies for fuzzing the pack: raw log events built from the Panther schemas, and
the seeded draw loop the high-volume fuzzer and the benchmarks use.

``events(log_type)`` generates raw log events (no ``p_*`` fields) from the schema field tree of
``tracebit_pack.logs.schemas.load_schema``. It mixes two families:

* **realistic** events: every required field present with its schema type, optional fields present
  or omitted, values drawn from realistic pools (the allowed discriminator types, the known
  subtypes in several spellings, MFA-reset event types, identities shared between Okta targets and
  Tracebit principals, RFC 3339 times in December 2024 ...) so the matching paths of the rules and
  the KV-cache escalation run, *and* hostile strings in every string field;
* **hostile** events: any field null, of the wrong type (objects where strings are expected,
  lists, numbers, booleans), missing required fields, case-variant duplicate keys, very long
  strings and large arrays.

The value pools and hostile strings live in ``tracebit_pack.dev.value_strategies``; the rows of
scheduled queries in ``tracebit_pack.dev.query_row_strategies``.

``seeded_examples(strategy, seed)`` draws values from a strategy with a seeded random generator
(hypothesis' ``ConjectureData``; no example database, no shrinking), for the high-volume
``tracebit-pack dev fuzz`` loop. Tests use the strategies with ``@given``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tracebit_pack.dev.value_strategies import (
    HEALTH_SUBTYPES,
    IDENTITIES,
    MFA_RESET_EVENT_TYPES,
    OKTA_EVENT_TYPES,
    OKTA_OUTCOMES,
    REALISTIC_STRINGS,
    SUBTYPES,
    any_text,
    bloated,
    clean_text,
    hostile_text,
    json_values,
    odd_times,
    rfc3339_times,
    short_text,
    weighted,
)
from tracebit_pack.logs.schemas import FieldSpec, load_schema

__all__ = ["clean_events", "events", "hostile_events", "realistic_events", "seeded_examples"]

# --------------------------------------------------------------------------------- field pools

# Pools for a longer path suffix (checked first): the Okta targets the MFA-reset signal reads, and
# the subtypes (the known ones weighted up, in several spellings, plus unknown ones).
PATH_POOLS: dict[tuple[str, ...], st.SearchStrategy[str]] = {
    ("target", "", "type"): st.sampled_from(("User", "User", "User", "user", "AppInstance")),
    ("target", "", "alternateId"): st.sampled_from(IDENTITIES),
    ("outcome", "result"): st.sampled_from(("SUCCESS", "SUCCESS", "SUCCESS", *OKTA_OUTCOMES)),
    ("eventType",): st.sampled_from((*MFA_RESET_EVENT_TYPES, *OKTA_EVENT_TYPES)),
    ("userIdentity", "type"): st.sampled_from(("IAMUser", "IAMUser", "AssumedRole", "Root", "AWSService")),
    ("actionName",): st.sampled_from(
        (
            "DELETE_DETECTION",
            "UPDATE_RULE",
            "UPDATE_DETECTION_STATE",
            "UPLOAD_DETECTION_ENTITIES",
            "GET_RULE",
            "X_NEW",
        )
    ),
    ("actionResult",): st.sampled_from(("SUCCEEDED", "SUCCEEDED", "FAILED", "PARTIALLY_FAILED")),
}
ALERT_SUBTYPES = st.sampled_from((*SUBTYPES[:2], *SUBTYPES[:2], *SUBTYPES))


def realistic_string(
    path: tuple[str, ...], log_type: str, clean: bool = False
) -> st.SearchStrategy[str] | None:
    """Realistic values for the field at ``path`` (mostly), else hostile strings (never when
    ``clean``); None: no pool for this field."""
    found = None
    if path[-2:] == ("discriminator", "subtype"):
        found = st.sampled_from(HEALTH_SUBTYPES) if log_type == "Tracebit.HealthCheck" else ALERT_SUBTYPES
    for size in (3, 2, 1):
        if found is None and len(path) >= size:
            key = path[-size:]
            found = PATH_POOLS[key] if key in PATH_POOLS else REALISTIC_STRINGS.get(key)
    if found is None or clean:
        return found
    return weighted((4, found), (1, hostile_text), (1, any_text))


def wrong_type(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """A JSON value that is not of the field's schema type."""
    options: list[st.SearchStrategy[Any]] = [st.none()]
    if spec.type != "boolean":
        options.append(st.booleans())
    if spec.type not in ("int", "bigint", "float"):
        options.append(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
    if spec.type not in ("string", "timestamp"):
        options.append(any_text)
    if spec.type != "array":
        options.append(st.lists(json_values, max_size=3))
    if spec.type != "object":
        options.append(st.dictionaries(short_text, json_values, max_size=3))
    return st.one_of(options)


# ------------------------------------------------------------------------------------ from schemas


iam_request = st.fixed_dictionaries(
    {"userName": st.sampled_from(("j.chen", "ci-deployer", "sue.johnson@acme.com", "", "bad name"))},
    optional={
        "serialNumber": st.sampled_from(
            (
                "arn:aws:iam::693260565127:mfa/j.chen",
                "arn:aws:iam::693260565127:mfa/ops/j.chen",
                "GAHT12345678",
            )
        ),
        "userId": st.sampled_from(("9067d5c2a1-3b4e5f60-7a8b-4c9d-8e0f-1a2b3c4d5e6f",)),
        "passwordResetRequired": st.booleans(),
    },
)


# Panther.Audit actionParams: the documented DELETE_DETECTION shape and an update of one item, naming
# pack items, other detections, the managed Tracebit.Alert rule, unknown Tracebit ids or hostile text.
audit_ids = weighted(
    (
        4,
        st.sampled_from(
            (
                "Tracebit.CanaryResourceAccessed",
                "tracebit_helpers",
                "Tracebit.Query.IntegrationSilent",
                "Tracebit.X",
            )
        ),
    ),
    (1, st.sampled_from(("GitHub.Team.Modified", "Tracebit.Alert"))),
    (1, any_text),
)
audit_params = st.fixed_dictionaries(
    {
        "dynamic": st.fixed_dictionaries(
            {
                "input": st.one_of(
                    st.fixed_dictionaries(
                        {"detections": st.lists(st.fixed_dictionaries({"id": audit_ids}), max_size=3)}
                    ),
                    st.fixed_dictionaries(
                        {"id": audit_ids},
                        optional={
                            "severity": st.sampled_from(("LOW", "High", "CRITICAL", "")),
                            "enabled": st.sampled_from((True, False, "false", None)),
                            "dedupPeriodMinutes": st.one_of(st.integers(), any_text),
                            "schedule": json_values,
                        },
                    ),
                )
            }
        )
    },
    optional={"static": json_values},
)


def _typed(spec: FieldSpec, path: tuple[str, ...], log_type: str, mode: str) -> st.SearchStrategy[Any]:
    """A value of the field's schema type (its children may be hostile in ``hostile`` mode)."""
    kind = spec.type
    clean = mode == "clean"
    if kind == "string":
        if spec.allow and clean:
            return st.sampled_from(spec.allow)
        if spec.allow and mode == "realistic":
            return weighted((2, st.sampled_from(spec.allow)), (1, any_text))
        realistic = realistic_string(path, log_type, clean)
        if realistic is None:
            return clean_text if clean else any_text
        return realistic
    if kind == "timestamp":
        return rfc3339_times if clean else weighted((3, rfc3339_times), (1, odd_times), (1, any_text))
    if kind == "boolean":
        if path[-1:] == ("is_healthy",) and not clean:
            return st.one_of(st.booleans(), st.sampled_from(("false", "true", "FALSE", "unknown", 0, 1, 2)))
        return st.booleans()
    if kind in ("int", "bigint"):
        return st.one_of(st.integers(-(2**31), 2**31), st.integers())
    if kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "json":
        if path[-1:] == ("requestParameters",):  # the IAM user an MFA-tampering call names
            return weighted((8, iam_request), (1, json_values))
        if path == ("actionParams",):  # the pack items an audit log names
            return weighted((4, audit_params), (1, json_values))
        return json_values
    if kind == "array":
        assert spec.element is not None
        element = _field(spec.element, (*path, ""), log_type, mode)
        return st.lists(element, max_size=4)
    if kind == "object":
        return _object(spec.fields, path, log_type, mode)
    raise ValueError(f"unknown schema type {kind!r}")


def _field(spec: FieldSpec, path: tuple[str, ...], log_type: str, mode: str) -> st.SearchStrategy[Any]:
    typed = _typed(spec, path, log_type, mode)
    if mode != "hostile":
        return typed
    # hostile: the right type most of the time (so the rules get past their first checks), else
    # null or a value of another type
    return weighted((2, typed), (1, st.none()), (1, wrong_type(spec)))


_MISSING = object()


def _drop_missing(value: dict) -> dict:
    return {key: item for key, item in value.items() if item is not _MISSING}


def _object(
    fields: tuple[FieldSpec, ...], path: tuple[str, ...], log_type: str, mode: str
) -> st.SearchStrategy[dict]:
    """An object of the schema ``fields``.

    Realistic: required fields always present, optional ones present three times in four (so the
    rules' matching paths, which need several optional fields, run often). Hostile: every field,
    required or not, may be missing (about one time in two).
    """
    if mode == "hostile":
        optional = {child.name: _field(child, (*path, child.name), log_type, mode) for child in fields}
        return st.fixed_dictionaries({}, optional=optional)
    entries = {}
    for child in fields:
        strategy = _field(child, (*path, child.name), log_type, mode)
        if not child.required:
            strategy = weighted((3, strategy), (1, st.just(_MISSING)))
        entries[child.name] = strategy
    return st.fixed_dictionaries(entries).map(_drop_missing)


def _case_variants(schema_fields: tuple[FieldSpec, ...]) -> st.SearchStrategy[dict]:
    """Extra top-level keys: case variants of real fields (PantherEvent is case-insensitive)."""
    names = [f.name.upper() for f in schema_fields] + [f.name.title() for f in schema_fields]
    return st.one_of(st.just({}), st.dictionaries(st.sampled_from(names), json_values, max_size=2))


@cache
def realistic_events(log_type: str) -> st.SearchStrategy[dict]:
    return _object(load_schema(log_type).fields, (), log_type, "realistic")


@cache
def clean_events(log_type: str) -> st.SearchStrategy[dict]:
    """Events as an integration sends them: realistic values only, no hostile strings (benchmarks)."""
    return _object(load_schema(log_type).fields, (), log_type, "clean")


@cache
def hostile_events(log_type: str) -> st.SearchStrategy[dict]:
    fields = load_schema(log_type).fields
    return st.builds(
        lambda extra, event: {**extra, **event},
        _case_variants(fields),
        _object(fields, (), log_type, "hostile"),
    )


@cache
def events(log_type: str) -> st.SearchStrategy[dict]:
    """Raw events of ``log_type`` (see the module docstring): of six, three realistic, one realistic
    with big fields, one hostile and one hostile with big fields."""
    realistic = realistic_events(log_type)
    hostile = hostile_events(log_type)
    return weighted((3, realistic), (1, bloated(realistic)), (1, hostile), (1, bloated(hostile)))


# ---------------------------------------------------------------------------- seeded generation


def seeded_examples(strategy: st.SearchStrategy[Any], seed: int) -> Iterator[Any]:
    """Endless values of ``strategy`` drawn with ``random.Random(seed)`` (deterministic per seed).

    Uses hypothesis' ConjectureData directly: the same generation heuristics as ``@given`` (biased
    toward edge cases), without the example database, health checks, the de-duplication tree or
    shrinking, which is what makes 100,000s of draws affordable. Draws that overrun hypothesis'
    buffer (rare, very large values) are skipped.
    """
    from hypothesis.control import BuildContext
    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.data import ConjectureData

    rng = random.Random(seed)
    while True:
        data = ConjectureData(random=rng)
        try:
            with BuildContext(data, is_final=False, wrapped_test=seeded_examples):
                value = data.draw(strategy)
        except StopTest:
            continue
        yield value
