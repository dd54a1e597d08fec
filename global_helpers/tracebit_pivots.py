"""Pivot queries for Tracebit alerts: the single source of truth of each pivot's SQL and PantherFlow.

Each pivot has a Snowflake SQL template and a PantherFlow template. Parameters live in ONE place
per language: a leading ``WITH params AS (SELECT <literal> AS <name>, ...)`` CTE in SQL and
``let <name> = <literal>;`` statements in PantherFlow. ``render_pivots(context)`` fills them with
values from a Tracebit rule's alert context; ``render_pivot(name, params)`` is used to generate the
saved queries in ``queries/tracebit_pivot_*.yml`` (``make queries``).

Values from logs are attacker-controlled. ``sql_literal`` and ``pantherflow_literal`` turn any
string into exactly ONE string literal of the target language (quotes, backslashes, control and
invisible format characters are escaped), and templates only ever place values in those literals.

Panther imports this module under its GlobalID ``tracebit_pivots``. Everything here is cheap and
``render_pivots`` never raises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

# Okta System Log event types that count as an MFA / password reset of the TARGET user.
# Classic Engine emits user.mfa.factor.reset_all; Identity Engine emits one
# user.mfa.factor.deactivate per factor for the same reset-all.
MFA_RESET_EVENT_TYPES = (
    "user.mfa.factor.reset_all",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.suspend",
    "system.mfa.factor.deactivate",
    "user.account.reset_password",
)

# CloudTrail events that remove or reset another user's second factor or password (MFA tampering
# inside AWS itself): IAM (iam.amazonaws.com) and IAM Identity Center's directory
# (sso-directory.amazonaws.com, DeleteMfaDeviceForUser).
AWS_MFA_TAMPERING_EVENT_NAMES = (
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "ResyncMFADevice",
    "UpdateLoginProfile",
    "CreateLoginProfile",
    "DeleteMfaDeviceForUser",
)

# Example parameter values: the incident of the Tracebit + Panther partnership blog post.
EXAMPLE_PARAMS = {
    "principal_arn": "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com",
    "identity": "sue.johnson@acme.com",
    "principal_user": "sue.johnson@acme.com",
    "alert_time": "2024-12-13 16:20:00",
}

# Values longer than this are not rendered (no real ARN or login is that long; keeps the alert
# context small). The pivot is skipped instead of truncating the value into a wrong query.
MAX_VALUE_LENGTH = 2048

_MFA_TYPES_SQL = ", ".join(f"'{t}'" for t in MFA_RESET_EVENT_TYPES)
_MFA_TYPES_PF = ", ".join(f"'{t}'" for t in MFA_RESET_EVENT_TYPES)

_ANALYST_NOTE = (
    "-- To investigate another case, replace the quoted values below (alert_time is UTC,\n"
    "    -- as YYYY-MM-DD HH:MM:SS); the rest of the query reads them from here."
)

PIVOTS = {
    "Tracebit.Pivot.PrincipalGetObjectHistory": {
        "params": ("principal_arn", "alert_time"),
        "description": (
            "S3 GetObject history of an AWS principal in CloudTrail: 30 days before the alert through "
            "one day after it, by day and bucket, with request count, bytes transferred out, distinct "
            "object keys and source IPs. A surge around the alert date next to a quiet baseline means "
            "the canary access is part of a wider collection (data events must be logged by the trail)."
        ),
        "sql": """WITH params AS (
    {note}
    SELECT
        {{principal_arn}} AS principal_arn,
        {{alert_time}} AS alert_time,
        30 AS lookback_days
),
bounds AS (
    SELECT
        LOWER(principal_arn) AS principal_arn,
        DATEADD(day, -CAST(lookback_days AS INTEGER), CAST(alert_time AS TIMESTAMP_NTZ)) AS start_time,
        DATEADD(day, 1, CAST(alert_time AS TIMESTAMP_NTZ)) AS end_time
    FROM params
)
SELECT
    DATE_TRUNC('day', ct.p_event_time) AS event_day,
    ct.requestParameters:bucketName::string AS bucket,
    COUNT(*) AS requests,
    SUM(COALESCE(ct.additionalEventData:bytesTransferredOut::number, 0)) AS bytes_out,
    COUNT(DISTINCT ct.requestParameters:key::string) AS distinct_keys,
    ARRAY_AGG(DISTINCT ct.sourceIPAddress) WITHIN GROUP (ORDER BY ct.sourceIPAddress) AS source_ips
FROM bounds b, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between(b.start_time, b.end_time, ct)
    AND ct.eventSource = 's3.amazonaws.com'
    AND ct.eventName = 'GetObject'
    AND LOWER(ct.userIdentity:arn::string) = b.principal_arn
GROUP BY event_day, bucket
ORDER BY event_day, bucket
""",
        "pantherflow": """let principal_arn = {{principal_arn}};
let alert_time = {{alert_time}};
let lookback = '30d';
panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp(alert_time) - time.parse_timespan(lookback)
    .. time.parse_timestamp(alert_time) + time.parse_timespan('1d')
| where eventSource == 's3.amazonaws.com' and eventName == 'GetObject'
| where strings.lower(userIdentity.arn) == strings.lower(principal_arn)
| summarize requests = agg.count(),
    bytes_out = agg.sum(additionalEventData.bytesTransferredOut),
    distinct_keys = agg.count_distinct(requestParameters.key),
    source_ips = agg.make_set(sourceIPAddress)
    by event_day = time.date_trunc('day', p_event_time), bucket = requestParameters.bucketName
| sort event_day, bucket
""",
    },
    "Tracebit.Pivot.IdentityOktaMFAResets": {
        "params": ("identity", "alert_time"),
        "description": (
            "Okta MFA factor resets / deactivations / suspensions and password resets whose TARGET user "
            "is the identity, in the 30 days before the alert (and one hour after), with who performed "
            "each one (actor). A reset shortly before a canary alert is the Scattered Spider help-desk "
            "pattern. Matched on target[].alternateId (type User), lower-cased: Okta's target fields "
            "carry no indicator, so p_any_emails would only match the actor."
        ),
        "sql": """WITH params AS (
    {note}
    SELECT
        {{identity}} AS identity,
        {{alert_time}} AS alert_time,
        30 AS lookback_days
),
bounds AS (
    SELECT
        LOWER(identity) AS identity,
        DATEADD(day, -CAST(lookback_days AS INTEGER), CAST(alert_time AS TIMESTAMP_NTZ)) AS start_time,
        DATEADD(hour, 1, CAST(alert_time AS TIMESTAMP_NTZ)) AS end_time
    FROM params
)
SELECT
    o.p_event_time AS event_time,
    o.eventType AS event_type,
    LOWER(t.value:alternateId::string) AS target_user,
    o.actor:alternateId::string AS performed_by,
    o.actor:type::string AS performed_by_type,
    o.outcome:result::string AS outcome,
    o.outcome:reason::string AS outcome_reason,
    o.client:ipAddress::string AS client_ip,
    o.displayMessage AS display_message,
    o.uuid AS uuid
FROM bounds b, panther_logs.public.okta_systemlog o, LATERAL FLATTEN(input => o.target) t
WHERE p_occurs_between(b.start_time, b.end_time, o)
    AND o.eventType IN ({mfa_types_sql})
    AND t.value:type::string = 'User'
    AND LOWER(t.value:alternateId::string) = b.identity
ORDER BY event_time, uuid
""",
        "pantherflow": """let identity = {{identity}};
let alert_time = {{alert_time}};
let lookback = '30d';
panther_logs.public.okta_systemlog
| where p_event_time between time.parse_timestamp(alert_time) - time.parse_timespan(lookback)
    .. time.parse_timestamp(alert_time) + time.parse_timespan('1h')
| where eventType in [{mfa_types_pf}]
| where arrays.len(arrays.filter(target,
    fn (t) { t.type == 'User' and strings.lower(t.alternateId) == strings.lower(identity) })) > 0
| project p_event_time, eventType, target, performed_by = actor.alternateId,
    performed_by_type = actor.type, outcome = outcome.result, outcome_reason = outcome.reason,
    client_ip = client.ipAddress, displayMessage, uuid
| sort p_event_time
""",
    },
    "Tracebit.Pivot.PrincipalActivityAroundAlert": {
        "params": ("principal_arn", "alert_time"),
        "description": (
            "Every CloudTrail event of the AWS principal from 3 hours before to 3 hours after the alert "
            "(window_hours in the params CTE): what else the principal did around the canary access."
        ),
        "sql": """WITH params AS (
    {note}
    SELECT
        {{principal_arn}} AS principal_arn,
        {{alert_time}} AS alert_time,
        3 AS window_hours
),
bounds AS (
    SELECT
        LOWER(principal_arn) AS principal_arn,
        DATEADD(hour, -CAST(window_hours AS INTEGER), CAST(alert_time AS TIMESTAMP_NTZ)) AS start_time,
        DATEADD(hour, CAST(window_hours AS INTEGER), CAST(alert_time AS TIMESTAMP_NTZ)) AS end_time
    FROM params
)
SELECT
    ct.p_event_time AS event_time,
    ct.eventSource AS event_source,
    ct.eventName AS event_name,
    ct.awsRegion AS aws_region,
    ct.sourceIPAddress AS source_ip,
    ct.userAgent AS user_agent,
    ct.errorCode AS error_code,
    ct.readOnly AS read_only,
    ct.requestParameters AS request_parameters,
    ct.eventID AS event_id
FROM bounds b, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between(b.start_time, b.end_time, ct)
    AND LOWER(ct.userIdentity:arn::string) = b.principal_arn
ORDER BY event_time, event_id
LIMIT 1000
""",
        "pantherflow": """let principal_arn = {{principal_arn}};
let alert_time = {{alert_time}};
let window_span = '3h';
panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp(alert_time) - time.parse_timespan(window_span)
    .. time.parse_timestamp(alert_time) + time.parse_timespan(window_span)
| where strings.lower(userIdentity.arn) == strings.lower(principal_arn)
| project p_event_time, eventSource, eventName, awsRegion, sourceIPAddress, userAgent, errorCode,
    readOnly, requestParameters, eventID
| sort p_event_time
| limit 1000
""",
    },
}

# CloudTrail calls that change an IAM user's MFA devices, password or access keys: the tampering
# events above plus the ordinary enrolment and key changes an investigation wants next to them.
AWS_CREDENTIAL_CHANGE_EVENT_NAMES = (
    *AWS_MFA_TAMPERING_EVENT_NAMES,
    "EnableMFADevice",
    "CreateVirtualMFADevice",
    "DeleteLoginProfile",
    "ChangePassword",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
)
_AWS_CRED_EVENTS = ", ".join(f"'{name}'" for name in AWS_CREDENTIAL_CHANGE_EVENT_NAMES)

PIVOTS["Tracebit.Pivot.PrincipalAWSCredentialChanges"] = {
    "params": ("principal_arn", "principal_user", "alert_time"),
    "description": (
        "MFA device, password and access-key changes in CloudTrail made TO the principal's IAM user "
        "(requestParameters.userName, the device name of a virtual MFA serialNumber, or the IAM user "
        "itself when it called without a userName) or BY the principal, from 30 days before the alert "
        "to one day after it. principal_user is the user name of an IAM user ARN or the session name "
        "of an assumed role. An MFA device removed or a password set by someone else shortly before "
        "the canary alert means the user was taken over."
    ),
    "sql": """WITH params AS (
    {note}
    SELECT
        {{principal_arn}} AS principal_arn,
        {{principal_user}} AS principal_user,
        {{alert_time}} AS alert_time,
        30 AS lookback_days
),
bounds AS (
    SELECT
        LOWER(principal_arn) AS principal_arn,
        LOWER(principal_user) AS principal_user,
        DATEADD(day, -CAST(lookback_days AS INTEGER), CAST(alert_time AS TIMESTAMP_NTZ)) AS start_time,
        DATEADD(day, 1, CAST(alert_time AS TIMESTAMP_NTZ)) AS end_time
    FROM params
)
SELECT
    ct.p_event_time AS event_time,
    ct.eventName AS event_name,
    COALESCE(ct.requestParameters:userName::string, ct.requestParameters:userId::string,
        IFF(ct.eventName = 'DeleteVirtualMFADevice',
            SPLIT_PART(ct.requestParameters:serialNumber::string, '/', -1), NULL),
        IFF(ct.userIdentity:type::string = 'IAMUser', ct.userIdentity:userName::string, NULL)) AS target_user,
    ct.requestParameters:serialNumber::string AS mfa_serial,
    IFF(LOWER(ct.userIdentity:arn::string) = b.principal_arn, 'by principal', 'to principal') AS relation,
    ct.userIdentity:arn::string AS performed_by,
    ct.sourceIPAddress AS source_ip,
    ct.errorCode AS error_code,
    ct.eventID AS event_id
FROM bounds b, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between(b.start_time, b.end_time, ct)
    AND ct.eventName IN ({aws_cred_events})
    AND (
        LOWER(ct.userIdentity:arn::string) = b.principal_arn
        OR LOWER(ct.requestParameters:userName::string) = b.principal_user
        OR LOWER(SPLIT_PART(ct.requestParameters:serialNumber::string, '/', -1)) = b.principal_user
        OR (ct.userIdentity:type::string = 'IAMUser'
            AND LOWER(ct.userIdentity:userName::string) = b.principal_user)
    )
ORDER BY event_time, event_id
""",
    "pantherflow": """panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan('30d')
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan('1d')
| where eventName in [{aws_cred_events}]
| where userIdentity.arn == {{principal_arn}} or requestParameters.userName == {{principal_user}}
    or (userIdentity.type == 'IAMUser' and userIdentity.userName == {{principal_user}})
| project p_event_time, eventName, target_user = requestParameters.userName,
    mfa_serial = requestParameters.serialNumber, performed_by = userIdentity.arn, sourceIPAddress,
    errorCode, eventID
| sort p_event_time asc
""",
}

for _pivot in PIVOTS.values():
    _pivot["sql"] = _pivot["sql"].replace("{note}", _ANALYST_NOTE).replace("{mfa_types_sql}", _MFA_TYPES_SQL)
    _pivot["pantherflow"] = _pivot["pantherflow"].replace("{mfa_types_pf}", _MFA_TYPES_PF)
    for _lang in ("sql", "pantherflow"):
        _pivot[_lang] = _pivot[_lang].replace("{aws_cred_events}", _AWS_CRED_EVENTS)
del _pivot, _lang

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Characters written as an escape instead of raw: every C0/C1 control character and DEL (Cc),
# invisible format characters such as bidi overrides and zero-width joiners (Cf), line/paragraph
# separators (Zl, Zp), surrogates (Cs), private use (Co) and unassigned code points (Cn).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
# Panther expands its SQL macros as text, possibly inside string literals: never let a value
# spell one. The first letter of a macro name is written as a \\u escape.
_SQL_MACRO = re.compile(r"(?i)p(?=_(?:occurs_|current_timestamp|matches))")


def _escape_char(char: str, quote_escape: str) -> str:
    if char == "\\":
        return "\\\\"
    if char == "'":
        return quote_escape
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if (code < 0x80 and char.isprintable()) or (
        code <= 0xFFFF and unicodedata.category(char) not in _ESCAPED_CATEGORIES
    ):
        return char
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return char  # astral characters (emoji, CJK ext.) cannot break a literal: kept as they are


def _escape(value: str, quote_escape: str) -> str:
    if value.isascii() and value.isprintable() and "\\" not in value and "'" not in value:
        return value  # fast path: ordinary ARNs and emails
    return "".join(_escape_char(char, quote_escape) for char in value)


def sql_literal(value: str) -> str:
    """One Snowflake single-quoted string literal whose value is exactly ``value``.

    Snowflake processes backslash escapes in single-quoted literals: ``\\\\`` ``\\'`` ``\\n`` ``\\r``
    ``\\t`` ``\\b`` ``\\f`` ``\\uhhhh``. A quote is doubled (``''``, the ANSI form).
    """
    text = _escape(str(value), "''")
    if "_" in text:
        text = _SQL_MACRO.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    return f"'{text}'"


def pantherflow_literal(value: str) -> str:
    """One PantherFlow single-quoted string literal whose value is exactly ``value``.

    PantherFlow (panther.md section 5) escapes the quote and the backslash with a backslash and
    supports ``\\n \\r \\t \\b \\f \\uhhhh``; ``"`` needs no escape inside single quotes.
    """
    return f"'{_escape(str(value), chr(92) + chr(39))}'"


def format_alert_time(value) -> str | None:
    """``'YYYY-MM-DD HH:MM:SS'`` in UTC from an rfc3339 / Panther timestamp string, or None."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and 10 <= len(value) <= 64:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def render_pivot(name: str, params: dict) -> dict:
    """Render one pivot with ``params`` (raw values; escaped here). Raises KeyError if one is missing."""
    pivot = PIVOTS[name]
    values = {key: params[key] for key in pivot["params"]}
    return {
        "sql": _PLACEHOLDER.sub(lambda m: sql_literal(values[m.group(1)]), pivot["sql"]),
        "pantherflow": _PLACEHOLDER.sub(
            lambda m: pantherflow_literal(values[m.group(1)]), pivot["pantherflow"]
        ),
    }


def _usable(value) -> str | None:
    """A non-empty string short enough to render and encodable as UTF-8 (no lone surrogate)."""
    if isinstance(value, str):
        value = value.strip()
        if value and len(value) <= MAX_VALUE_LENGTH and not _SURROGATE.search(value):
            return value
    return None


def pick_identity(identities) -> str | None:
    """The identity the Okta pivot searches: the first email in ``identities``, else the first one."""
    if not isinstance(identities, list | tuple):
        return None
    usable = [v.lower() for v in (_usable(i) for i in identities[:50]) if v]
    for value in usable:
        if "@" in value:
            return value
    return usable[0] if usable else None


def principal_user(arn) -> str | None:
    """The IAM user name of ``arn:...:user/<path>/<name>`` or the session name of
    ``arn:...:assumed-role/<role>/<session>`` / ``federated-user/<name>``; None otherwise."""
    arn = _usable(arn)
    if not arn or not arn.lower().startswith("arn:"):
        return None
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind.lower() == "assumed-role":
        rest = rest.partition("/")[2]
    elif kind.lower() not in ("user", "federated-user"):
        return None
    name = rest.rsplit("/", 1)[-1] if kind.lower() == "user" else rest
    return name or None


def pivot_params(context: dict) -> dict:
    """The pivot parameters available in an alert context (missing ones are left out)."""
    params = {}
    arn = _usable(context.get("principal_arn"))
    if arn:
        params["principal_arn"] = arn
    user = principal_user(arn)
    if user:
        params["principal_user"] = user
    identity = pick_identity(context.get("identities"))
    if identity:
        params["identity"] = identity
    alert_time = format_alert_time(context.get("alert_time"))
    if alert_time:
        params["alert_time"] = alert_time
    return params


def render_pivots(context: dict) -> dict:
    """``{QueryName: {"sql": str, "pantherflow": str}}`` for every pivot whose parameters are present.

    A pivot whose parameter is missing from the context (no ARN for an Okta or Azure principal,
    no identity, no parseable alert time) is left out. Never raises: on any error the pivots
    rendered so far are returned.
    """
    pivots: dict = {}
    try:
        if not hasattr(context, "get"):
            return pivots
        params = pivot_params(context)
        for name, pivot in PIVOTS.items():
            if all(key in params for key in pivot["params"]):
                pivots[name] = render_pivot(name, params)
    except Exception:  # noqa: BLE001 - alert context must never fail because of a pivot
        return pivots
    return pivots
