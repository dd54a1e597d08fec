"""Value strategies shared by the schema-driven events and the query rows: realistic pools and
hostile values.

Why a module of its own: the same pools (identities, ARNs, subtypes, RFC 3339 times in December
2024, JSON values) and the same hostile strings feed both the events built from the Panther schemas
(``tracebit_pack.dev.strategies``) and the rows of the scheduled queries
(``tracebit_pack.dev.query_row_strategies``), and the tests draw hostile strings from here directly.

Strings cover the empty string, whitespace, unicode (astral, RTL, combining, ``İ``), lone
surrogates, control and bidi characters, and injection fragments (quotes, backslashes, newlines,
``|``, ``--``, ``;``, ``{{placeholder}}``, Panther macro names). Very long strings and large
arrays (``bloated``) are built by repetition so that they cost one draw, not thousands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

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


# ------------------------------------------------------------------------------------- big values


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
