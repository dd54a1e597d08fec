"""Hypothesis strategies for fuzzing the pack: events built from the Panther schemas, query rows.

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

Strings cover the empty string, whitespace, unicode (astral, RTL, combining, ``İ``), lone
surrogates, control and bidi characters, and injection fragments (quotes, backslashes, newlines,
``|``, ``--``, ``;``, ``{{placeholder}}``, Panther macro names). Very long strings and large
arrays are built by repetition so that they cost one draw, not thousands.

``query_rows(query_sql)`` generates rows of a scheduled query: the column names are the output
columns of the query's final SELECT (parsed with sqlglot, Snowflake dialect); values are typed by
the column name (times, numbers, text), realistic or hostile.

``seeded_examples(strategy, seed)`` draws values from a strategy with a seeded random generator
(hypothesis' ``ConjectureData``; no example database, no shrinking), for the high-volume
``python -m tracebit_pack.dev.fuzz`` loop. Tests use the strategies with ``@given``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tracebit_pack.logs.schemas import FieldSpec, load_schema
from tracebit_pack.pack.items import REPO_ROOT
from tracebit_pack.query.generate import load_pivots_module

# The event types / names the MFA signals react to are read from the pack's one definition
# (``global_helpers/tracebit_pivots.py``), loaded by path as it is not an importable package.
_PIVOTS_MODULE = load_pivots_module(REPO_ROOT)
MFA_RESET_EVENT_TYPES = tuple(_PIVOTS_MODULE.MFA_RESET_EVENT_TYPES)
AWS_MFA_TAMPERING_EVENT_NAMES = tuple(_PIVOTS_MODULE.AWS_MFA_TAMPERING_EVENT_NAMES)


def _same(value: Any) -> Any:
    return value


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """``one_of`` with integer weights. (``one_of(a, a, b)`` is not 2:1: hypothesis drops branches
    that are the same object, so each extra copy is a distinct ``.map`` wrapper.)"""
    branches = []
    for weight, strategy in options:
        branches.extend(strategy if copy == 0 else strategy.map(_same) for copy in range(weight))
    return st.one_of(branches)


# ------------------------------------------------------------------------------------------ strings

HOSTILE_STRINGS = (
    "",
    " ",
    "\t\n ",
    "'",
    '"',
    "\\",
    "\\'",
    "''",
    "\\\\'",
    "\n",
    "\r\n",
    "|",
    "--",
    "/*",
    "*/",
    ";",
    "`",
    "' OR '1'='1",
    "x'); DROP TABLE panther_logs.public.tracebit_alert; --",
    "a' | where true | project secret --",
    "'; let x = 1; panther_logs.public.aws_cloudtrail | limit 1 //",
    "\\'; --",
    "\\u0027",
    "{{principal_arn}}",
    "{{identity}}",
    "{note}",
    "{0}",
    "%s%s%(x)s",
    "p_occurs_between(",
    "P_OCCURS_BETWEEN(a, b, c)",
    "p_current_timestamp()",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\u202e",
    "\u200b",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\U0001f600",
    "İ",
    "ß",
    "e\u0301",
    "مرحبا",
    "日本語",
    "NaN",
    "Infinity",
    "-0",
    "1e309",
    "null",
    "None",
    "true",
    "false",
    "0",
    "arn:",
    "arn:aws:sts::",
    "@",
    "a@b",
    "a@b.c",
    "https://",
    "javascript:alert(1)",
)

IDENTITIES = (
    "sue.johnson@acme.com",
    "SUE.Johnson@Acme.com",
    "bob",
    "admin@acme.com",
    "o'brien@acme.com",
    "x\\'y|z--@acme.com",
    "help.desk@acme.com",
    "ıstanbul@acme.com",
)
ACCOUNT_IDS = ("693260565127", "123456789012", "000000000000")
ROLE_NAMES = ("Okta-OIDC-Engineer", "OrganizationAccountAccessRole", "admin'--")
SUBTYPES = (
    "canary_resource_accessed",
    "canary_credential_used",
    "Canary_Resource_Accessed",
    "CANARY-CREDENTIAL-USED",
    "canary credential used",
    "canary_new_kind",
    "",
)
HEALTH_SUBTYPES = ("aws", "okta", "azure", "google_cloud", "github", "AWS")
PROVIDERS = ("aws", "okta", "azure", "google_cloud", "AWS", "unknown")
SEVERITIES = ("low", "medium", "high", "critical", "HIGH", "info", "Sev1", "severe", "unknown", "")
CLASSIFICATIONS = (
    "Unclassified",
    "TruePositive",
    "BenignPositive",
    "Benign Positive",
    "false_positive",
    "malicious",
    "Benign",
    "",
)
OKTA_EVENT_TYPES = (
    *MFA_RESET_EVENT_TYPES,
    "user.session.start",
    "user.authentication.sso",
    "MFA.FACTOR.RESET_ALL",
)
OKTA_OUTCOMES = ("SUCCESS", "FAILURE", "DENY", "success", "ALLOW", "UNKNOWN")
OKTA_TARGET_TYPES = ("User", "user", "AppInstance", "UserGroup")
CANARY_TYPES = ("AWS::S3::Bucket", "aws_access_key", "okta_application", "storage_account", "gcs_bucket")
IPS = ("185.220.101.34", "102.129.153.18", "10.0.0.1", "2001:db8::1", "::1", "999.1.1.1", "1.2.3.4 ")

_TIME_BASE = datetime(2024, 12, 13, 16, 20, tzinfo=UTC)


def _rfc3339(choice: int) -> str:
    """An RFC 3339 time within two weeks of the incident, in one of five precisions / formats."""
    choice, style = divmod(choice, 5)
    choice, fraction = divmod(choice, 1_000)
    moment = _TIME_BASE + timedelta(seconds=choice % (28 * 86400) - 14 * 86400, microseconds=fraction)
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds
    if style == 2:
        return (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+02:00"
    if style == 3:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # Panther's p_event_time format
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# RFC 3339 times within a few weeks of the blog incident (so KV-cache records written by the
# Okta signal are still live when Tracebit events are processed), in several precisions. One
# integer draw decides everything (each hypothesis draw costs ~25 us).
rfc3339_times = st.integers(0, 5 * 1_000 * 28 * 86400 - 1).map(_rfc3339)
odd_times = st.sampled_from(
    (
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999+14:00",
        "2024-02-30T00:00:00Z",
        "2024-12-13T16:20:00",
        "2024-12-13",
        "1734106800",
        "13/12/2024 16:20",
        "2024-12-13T16:20:00.123456789123Z",
    )
)

short_text = st.text(max_size=24)
clean_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=20)
_fragment = st.sampled_from(
    HOSTILE_STRINGS + IDENTITIES + ("sue", "acme.com", "/", ":", "@", "arn:aws:iam::1:user/")
)
hostile_text = st.builds(
    lambda parts, text: text.join(parts), st.lists(_fragment, min_size=1, max_size=4), st.text(max_size=4)
)


def _tile(parts: list[str], length: int) -> str:
    unit = "".join(parts) or "x"
    return (unit * (length // len(unit) + 1))[:length]


# 1,000 - 120,000 characters: past Panther's 1,000-char title/dedup limit and, for a few fields,
# near the 200 KB alert-context limit.
long_text = st.builds(
    _tile, st.lists(_fragment, min_size=1, max_size=3), st.sampled_from((1_001, 5_000, 40_000, 120_000))
)

# Long strings are not part of any_text: ``_bloated`` makes one or two fields of an event long.
any_text = st.one_of(short_text, st.sampled_from(HOSTILE_STRINGS), hostile_text)


def _arn(kind: int, account: str, role: str, name: str) -> str:
    return (
        f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
        f"arn:aws:iam::{account}:user/{name}",
        f"arn:aws:sts::{account}:federated-user/{name}",
        f"arn:aws:iam::{account}:root",
        f"arn:aws:iam::{account}:role/{role}",
        f"arn:aws:s3:::canary-bucket-{name}",
    )[kind]


principal_arns = st.builds(
    _arn,
    st.integers(0, 5),
    st.sampled_from(ACCOUNT_IDS),
    st.sampled_from(ROLE_NAMES),
    st.one_of(st.sampled_from(IDENTITIES), st.sampled_from(("i-0abc12345def67890", "botocore-session-1"))),
)
identities = st.one_of(st.sampled_from(IDENTITIES), hostile_text.map(lambda s: f"{s}@acme.com"))
ids = st.builds(
    lambda prefix, n: f"{prefix}_{n:026d}", st.sampled_from(("alrt", "log", "cnry")), st.integers(0, 30)
)
portal_urls = st.one_of(
    ids.map(lambda i: f"https://community.tracebit.com/alerts/{i}"),
    st.sampled_from(("http://tracebit.example/a", "javascript:alert(1)", "ftp://x", "HTTPS://X")),
)

# Realistic value pools, keyed by the last one or two path components (the same field names mean
# the same thing in every schema of the pack).
REALISTIC_STRINGS: dict[tuple[str, ...], st.SearchStrategy[str]] = {
    ("discriminator", "type"): st.sampled_from(
        ("tracebit_alert_log", "tracebit_alert_summary", "health_check", "TRACEBIT_ALERT_LOG", "other")
    ),
    ("alert_id",): ids,
    ("id",): st.one_of(ids, st.sampled_from(IDENTITIES), principal_arns),
    ("tracebit_id",): ids,
    ("tracebit_portal_url",): portal_urls,
    ("provider",): st.sampled_from(PROVIDERS),
    ("severity",): st.sampled_from(SEVERITIES),
    ("classification",): st.sampled_from(CLASSIFICATIONS),
    ("arn",): principal_arns,
    ("username",): identities,
    ("alternate_id",): identities,
    ("alternateId",): identities,
    ("federated_identity_subject",): identities,
    ("account_id",): st.sampled_from(ACCOUNT_IDS),
    ("ip",): st.sampled_from(IPS),
    ("ipAddress",): st.sampled_from(IPS),
    ("ip_addresses", ""): st.sampled_from(IPS),
    ("name",): st.sampled_from(("prod-backups", "canary'--", "aws-key-laptop-7", "x|y")),
    ("type",): st.sampled_from((*CANARY_TYPES, *OKTA_TARGET_TYPES, "AssumedRole", "IAMUser")),
    ("eventType",): st.sampled_from(OKTA_EVENT_TYPES),
    ("result",): st.sampled_from(OKTA_OUTCOMES),
    ("operation",): st.sampled_from(("GetObject", "ListBuckets", "sts:GetCallerIdentity")),
    ("eventName",): st.sampled_from(  # the MFA-tampering names weighted up, as the Okta types are
        (*AWS_MFA_TAMPERING_EVENT_NAMES * 3, "GetObject", "ListObjects", "ConsoleLogin", "EnableMFADevice")
    ),
    ("userName",): st.sampled_from((*IDENTITIES, "j.chen", "ci-deployer")),
    ("errorCode",): st.sampled_from(("", "", "", "AccessDenied", "NoSuchEntity")),
}


# Pools for a longer path suffix (checked first): the Okta targets the MFA-reset signal reads, and
# the subtypes (the known ones weighted up, in several spellings, plus unknown ones).
PATH_POOLS: dict[tuple[str, ...], st.SearchStrategy[str]] = {
    ("target", "", "type"): st.sampled_from(("User", "User", "User", "user", "AppInstance")),
    ("target", "", "alternateId"): st.sampled_from(IDENTITIES),
    ("outcome", "result"): st.sampled_from(("SUCCESS", "SUCCESS", "SUCCESS", *OKTA_OUTCOMES)),
    ("eventType",): st.sampled_from((*MFA_RESET_EVENT_TYPES, *OKTA_EVENT_TYPES)),
    ("userIdentity", "type"): st.sampled_from(("IAMUser", "IAMUser", "AssumedRole", "Root", "AWSService")),
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
            found = PATH_POOLS.get(path[-size:]) or REALISTIC_STRINGS.get(path[-size:])
    if found is None or clean:
        return found
    return weighted((4, found), (1, hostile_text), (1, any_text))


# ------------------------------------------------------------------------------------- JSON values

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),  # Panther's JSON parser rejects NaN / inf
    any_text,
)
_json_leaf_lists = st.lists(json_scalars, max_size=4)
_json_leaf_dicts = st.dictionaries(short_text, json_scalars, max_size=3)
# Nested JSON two levels deep (st.recursive costs ~1 ms a draw; this is ~5x cheaper).
json_values = weighted(
    (2, json_scalars),
    (1, _json_leaf_lists),
    (1, _json_leaf_dicts),
    (1, st.lists(_json_leaf_dicts, max_size=3)),
    (1, st.dictionaries(short_text, st.one_of(_json_leaf_lists, _json_leaf_dicts), max_size=3)),
)


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


def _slots(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) holding a string or a non-empty list, depth first."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        if isinstance(child, str) or (isinstance(child, list) and child):
            out.append((value, key))
        if isinstance(child, (dict, list)):
            _slots(child, out)
    return out


def _bloat(event: dict, picks: list[tuple[int, int]]) -> dict:
    """Make the picked fields big: a string becomes 1,001 - 120,000 characters (past Panther's
    1,000-char title/dedup limit, near the 200 KB context limit), a list 51 - 5,000 entries (past
    the 50-entry caps of the alert context). Repetition keeps this cheap."""
    for slot, size in picks:
        slots = _slots(event, [])
        if not slots:
            break
        container, key = slots[slot % len(slots)]
        value = container[key]
        if isinstance(value, str):
            unit = value or "x"
            length = (1_001, 5_000, 40_000, 120_000)[size % 4]
            container[key] = (unit * (length // len(unit) + 1))[:length]
        else:
            length = (51, 200, 1_000, 5_000)[size % 4]
            container[key] = (value * (length // len(value) + 1))[:length]
    return event


# One field per event: a long string inside a list that is then repeated would multiply.
_picks = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3)), min_size=1, max_size=1)


def bloated(strategy: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    """Events of ``strategy`` with one string or list made very long."""
    return st.builds(_bloat, strategy, _picks)


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


# ----------------------------------------------------------------------------- scheduled query rows

_TIME_COLUMN_HINTS = ("_time", "_at", "last_health_check", "first_seen", "last_seen")
_NUMBER_COLUMN_HINTS = (
    "requests",
    "bytes",
    "_avg",
    "multiple",
    "min_",
    "hours",
    "days",
    "minutes",
    "_30d",
    "count",
)


def query_columns(sql: str) -> tuple[str, ...]:
    """Output column names of the final SELECT of a Snowflake query."""
    import sqlglot

    return tuple(sqlglot.parse_one(sql, read="snowflake").named_selects)


def _column_value(name: str, hostile: bool) -> st.SearchStrategy[Any]:
    lowered = name.lower()
    if any(hint in lowered for hint in _NUMBER_COLUMN_HINTS):
        typed = st.one_of(
            st.integers(0, 1_000),
            st.floats(0, 1e6, allow_nan=False),
            st.integers(),
            st.integers(0, 1_000).map(str),
        )
    elif any(hint in lowered for hint in _TIME_COLUMN_HINTS) or lowered.endswith("time"):
        typed = weighted((2, rfc3339_times), (1, odd_times))
    else:
        pool = REALISTIC_STRINGS.get((lowered.rsplit("_", 1)[-1],))
        if "identity" in lowered:
            pool = identities
        elif lowered.endswith("event_type"):
            pool = st.sampled_from(MFA_RESET_EVENT_TYPES)
        elif lowered.endswith("url"):
            pool = portal_urls
        typed = weighted((2, pool), (1, any_text)) if pool is not None else st.one_of(ids, any_text)
    if not hostile:
        return weighted((3, typed), (1, st.none()))
    return st.one_of(typed, st.none(), json_values)


@cache
def query_rows(sql: str) -> st.SearchStrategy[dict]:
    """Rows of the scheduled query ``sql``: realistic (all columns) twice for one hostile."""
    columns = query_columns(sql)
    realistic = st.fixed_dictionaries({c: _column_value(c, False) for c in columns})
    hostile = st.fixed_dictionaries({}, optional={c: _column_value(c, True) for c in columns})
    return weighted((2, realistic), (1, hostile), (1, bloated(realistic)))


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
