"""Pivot queries for Tracebit alerts: the single source of truth of each pivot's SQL and PantherFlow.

Each pivot has a Snowflake SQL template and a PantherFlow template. ``render_pivots(context)`` fills
them with values from a Tracebit rule's alert context; ``render_pivot(name, params)`` is also used
to generate the saved queries in ``queries/tracebit_pivot_*.yml`` (``make queries``) and by
``tracebit-pack query run``.

* SQL: the principal (ARN or identity) sits in a leading ``WITH params AS (SELECT <literal> AS
  <name>)`` CTE. The time window is a Panther macro with LITERAL bounds,
  ``p_occurs_between('<start>', '<end>', alias)``, computed here from the alert time, so that
  Snowflake prunes micro-partitions on it.
* PantherFlow: only constructs that Panther's own published PantherFlow uses (the allow-list is
  ``tracebit_pack/query/pantherflow_attested.py``): values inline as escaped literals (no scalar
  ``let``), ``time.parse_timestamp(...) - time.parse_timespan(...)`` windows, ``strings.ilike``,
  ``agg.*``, ``time.trunc``, ``snowflake.func`` and ``sort ... asc``.

Matching of the principal is case-insensitive in both languages (``ILIKE`` / ``strings.ilike``);
``%`` and ``_`` in a value act as wildcards there, so an odd value can only widen the match.

Values from logs are attacker-controlled. ``sql_literal`` and ``pantherflow_literal`` turn any
string into exactly ONE string literal of the target language (quotes, backslashes, control and
invisible format characters are escaped), and templates only ever place values in those literals.
Times are parsed and re-formatted here, never copied.

Panther imports this module under its GlobalID ``tracebit_pivots``. Everything here is cheap and
``render_pivots`` never raises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

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

# Okta target[] positions the MFA-reset pivot looks at for the User (PantherFlow has no attested
# way to search a whole array; Okta puts the user among the first two targets of these events).
OKTA_TARGET_POSITIONS = 3

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_UNIT_SECONDS = {"day": 86400, "hour": 3600}
_UNIT_SUFFIX = {"day": "d", "hour": "h"}
MAX_WINDOW = {"day": 3650, "hour": 87600}

_MFA_TYPES_SQL = ", ".join(f"'{t}'" for t in MFA_RESET_EVENT_TYPES)
_MFA_TYPES_PF = ", ".join(f"'{t}'" for t in MFA_RESET_EVENT_TYPES)

_OKTA_TARGET_SQL = "\n        OR ".join(
    f"(o.target[{i}]:type::string = 'User' AND o.target[{i}]:alternateId::string ILIKE p.identity)"
    for i in range(OKTA_TARGET_POSITIONS)
)
_OKTA_TARGET_PF = "\n    or ".join(
    f"(snowflake.func('GET_PATH', target, '[{i}].type') == 'User'"
    f" and strings.ilike(snowflake.func('GET_PATH', target, '[{i}].alternateId'), {{{{identity}}}}))"
    for i in range(OKTA_TARGET_POSITIONS)
)

_NOTE = (
    "-- To investigate another case, replace the quoted {value} below, and the two times\n"
    "    -- (UTC, YYYY-MM-DD HH:MM:SS) of p_occurs_between further down: the window around the alert."
)

# Each pivot: "params" are required to render it (the principal value(s) in "values", which come
# from logs, and alert_time); "window" is (option name, default, unit, after): the window runs
# from <option> units before the alert to ``after`` (a timespan, or None: <option> units) after it.
PIVOTS = {
    "Tracebit.Pivot.PrincipalGetObjectHistory": {
        "params": ("principal_arn", "alert_time"),
        "values": ("principal_arn",),
        "window": ("lookback_days", 30, "day", "1d"),
        "description": (
            "S3 GetObject history of an AWS principal in CloudTrail: lookback_days (30) before the alert "
            "through one day after it, by day and bucket, with request count, bytes transferred out, "
            "distinct object keys and distinct source IPs. A surge around the alert date next to a quiet "
            "baseline means the canary access is part of a wider collection (data events must be logged "
            "by the trail)."
        ),
        "sql": """WITH params AS (
    {note}
    SELECT {{principal_arn}} AS principal_arn
)
SELECT
    DATE_TRUNC('day', ct.p_event_time) AS event_day,
    ct.requestParameters:bucketName::string AS bucket,
    COUNT(*) AS requests,
    SUM(ct.additionalEventData:bytesTransferredOut::number) AS bytes_out,
    COUNT(DISTINCT ct.requestParameters:key::string) AS distinct_keys,
    COUNT(DISTINCT ct.sourceIPAddress) AS distinct_source_ips
FROM params p, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between({{window_start}}, {{window_end}}, ct)
    AND ct.eventSource = 's3.amazonaws.com'
    AND ct.eventName = 'GetObject'
    AND ct.userIdentity:arn::string ILIKE p.principal_arn
GROUP BY event_day, bucket
ORDER BY event_day ASC, bucket ASC
""",
        "pantherflow": """panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where eventSource == 's3.amazonaws.com' and eventName == 'GetObject'
| where strings.ilike(userIdentity.arn, {{principal_arn}})
| summarize requests = agg.count(),
    bytes_out = agg.sum(additionalEventData.bytesTransferredOut),
    distinct_keys = agg.count_distinct(requestParameters.key),
    distinct_source_ips = agg.count_distinct(sourceIPAddress)
    by event_day = time.trunc('day', p_event_time), bucket = requestParameters.bucketName
| sort event_day asc, bucket asc
""",
    },
    "Tracebit.Pivot.IdentityOktaMFAResets": {
        "params": ("identity", "alert_time"),
        "values": ("identity",),
        "window": ("lookback_days", 30, "day", "1h"),
        "description": (
            "Okta MFA factor resets / deactivations / suspensions and password resets whose TARGET user "
            "is the identity, in the lookback_days (30) before the alert (and one hour after), with who "
            "performed each one (actor). A reset shortly before a canary alert is the Scattered Spider "
            "help-desk pattern. Matched case-insensitively on target[].alternateId of type User among "
            "the first three targets: Okta's target fields carry no indicator, so p_any_emails would "
            "only match the actor."
        ),
        "sql": """WITH params AS (
    {note}
    SELECT {{identity}} AS identity
)
SELECT
    o.p_event_time AS event_time,
    o.eventType AS event_type,
    o.actor:alternateId::string AS performed_by,
    o.actor:type::string AS performed_by_type,
    o.outcome:result::string AS outcome,
    o.outcome:reason::string AS outcome_reason,
    o.client:ipAddress::string AS client_ip,
    o.displayMessage AS display_message,
    o.uuid AS uuid
FROM params p, panther_logs.public.okta_systemlog o
WHERE p_occurs_between({{window_start}}, {{window_end}}, o)
    AND o.eventType IN ({mfa_types_sql})
    AND ({okta_target_sql})
ORDER BY event_time ASC, uuid ASC
""",
        "pantherflow": """panther_logs.public.okta_systemlog
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where eventType in [{mfa_types_pf}]
| where {okta_target_pf}
| project event_time = p_event_time, event_type = eventType, performed_by = actor.alternateId,
    performed_by_type = actor.type, outcome = outcome.result, outcome_reason = outcome.reason,
    client_ip = client.ipAddress, display_message = displayMessage, uuid
| sort event_time asc, uuid asc
""",
    },
    "Tracebit.Pivot.PrincipalActivityAroundAlert": {
        "params": ("principal_arn", "alert_time"),
        "values": ("principal_arn",),
        "window": ("window_hours", 3, "hour", None),
        "description": (
            "Every CloudTrail event of the AWS principal from window_hours (3) before to window_hours "
            "after the alert: what else the principal did around the canary access."
        ),
        "sql": """WITH params AS (
    {note}
    SELECT {{principal_arn}} AS principal_arn
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
FROM params p, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between({{window_start}}, {{window_end}}, ct)
    AND ct.userIdentity:arn::string ILIKE p.principal_arn
ORDER BY event_time ASC, event_id ASC
""",
        "pantherflow": """panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where strings.ilike(userIdentity.arn, {{principal_arn}})
| project event_time = p_event_time, event_source = eventSource, event_name = eventName,
    aws_region = awsRegion, source_ip = sourceIPAddress, user_agent = userAgent,
    error_code = errorCode, read_only = readOnly, request_parameters = requestParameters,
    event_id = eventID
| sort event_time asc, event_id asc
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
    "values": ("principal_arn", "principal_user"),
    "window": ("lookback_days", 30, "day", "1d"),
    "description": (
        "MFA device, password and access-key changes in CloudTrail made TO the principal's IAM user "
        "(requestParameters.userName, a virtual MFA serialNumber ending in the user name "
        "(case-sensitive), or the IAM user itself when it called without a userName) or BY the "
        "principal, from lookback_days (30) "
        "before the alert to one day after it. principal_user is the user name of an IAM user ARN or "
        "the session name of an assumed role. An MFA device removed or a password set by someone else "
        "shortly before the canary alert means the user was taken over."
    ),
    "sql": """WITH params AS (
    {note}
    SELECT
        {{principal_arn}} AS principal_arn,
        {{principal_user}} AS principal_user
)
SELECT
    ct.p_event_time AS event_time,
    ct.eventName AS event_name,
    ct.requestParameters:userName::string AS target_user,
    ct.requestParameters:userId::string AS identity_store_user,
    ct.requestParameters:serialNumber::string AS mfa_serial,
    ct.userIdentity:arn::string AS performed_by,
    ct.userIdentity:type::string AS performed_by_type,
    ct.sourceIPAddress AS source_ip,
    ct.errorCode AS error_code,
    ct.eventID AS event_id
FROM params p, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between({{window_start}}, {{window_end}}, ct)
    AND ct.eventName IN ({aws_cred_events})
    AND (
        ct.userIdentity:arn::string ILIKE p.principal_arn
        OR ct.requestParameters:userName::string ILIKE p.principal_user
        OR ENDSWITH(ct.requestParameters:serialNumber::string, p.principal_user)
        OR (ct.userIdentity:type::string = 'IAMUser'
            AND ct.userIdentity:userName::string ILIKE p.principal_user)
    )
ORDER BY event_time ASC, event_id ASC
""",
    "pantherflow": """panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where eventName in [{aws_cred_events}]
| where strings.ilike(userIdentity.arn, {{principal_arn}})
    or strings.ilike(requestParameters.userName, {{principal_user}})
    or strings.ends_with(requestParameters.serialNumber, {{principal_user}})
    or (userIdentity.type == 'IAMUser' and strings.ilike(userIdentity.userName, {{principal_user}}))
| project event_time = p_event_time, event_name = eventName, target_user = requestParameters.userName,
    identity_store_user = requestParameters.userId, mfa_serial = requestParameters.serialNumber,
    performed_by = userIdentity.arn, performed_by_type = userIdentity.type,
    source_ip = sourceIPAddress, error_code = errorCode, event_id = eventID
| sort event_time asc, event_id asc
""",
}

for _pivot in PIVOTS.values():
    _value = " or ".join(_pivot["values"])
    _pivot["sql"] = (
        _pivot["sql"]
        .replace("{note}", _NOTE.format(value=_value))
        .replace("{mfa_types_sql}", _MFA_TYPES_SQL)
        .replace("{okta_target_sql}", _OKTA_TARGET_SQL)
        .replace("{aws_cred_events}", _AWS_CRED_EVENTS)
    )
    _pivot["pantherflow"] = (
        _pivot["pantherflow"]
        .replace("{mfa_types_pf}", _MFA_TYPES_PF)
        .replace("{okta_target_pf}", _OKTA_TARGET_PF)
        .replace("{aws_cred_events}", _AWS_CRED_EVENTS)
    )
del _pivot, _value

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


def parse_alert_time(value: str) -> datetime:
    """``'YYYY-MM-DD HH:MM:SS'`` (UTC) as a datetime; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"alert_time must be 'YYYY-MM-DD HH:MM:SS', got {value!r}")
    return datetime.strptime(value, TIME_FORMAT)


def window_size(name: str, params: dict) -> int:
    """The pivot's window option (e.g. lookback_days) from ``params``, or its default; ValueError."""
    option, default, unit, _ = PIVOTS[name]["window"]
    raw = params.get(option, default)
    text = str(raw).strip()
    if (
        isinstance(raw, bool)
        or not text.isascii()
        or not text.isdigit()
        or not 1 <= int(text) <= MAX_WINDOW[unit]
    ):
        raise ValueError(
            f"{option} must be a whole number of {unit}s from 1 to {MAX_WINDOW[unit]}, got {raw!r}"
        )
    return int(text)


def window(name: str, params: dict) -> tuple[datetime, datetime]:
    """``(start, end)`` of the pivot's time window for ``params`` (alert_time and window option)."""
    _, _, unit, after = PIVOTS[name]["window"]
    alert = parse_alert_time(params["alert_time"])
    size = window_size(name, params)
    before = timedelta(seconds=size * _UNIT_SECONDS[unit])
    later = before if after is None else timedelta(seconds=int(after[:-1]) * _UNIT_SECONDS[_unit_of(after)])
    try:
        return alert - before, alert + later
    except OverflowError:
        raise ValueError(f"the window around alert_time {params['alert_time']!r} is out of range") from None


def _unit_of(span: str) -> str:
    return {suffix: unit for unit, suffix in _UNIT_SUFFIX.items()}[span[-1]]


def render_pivot(name: str, params: dict) -> dict:
    """Render one pivot with ``params`` (raw values; escaped here).

    KeyError if a required parameter is missing; ValueError for an alert_time that is not
    ``YYYY-MM-DD HH:MM:SS`` or a window option (lookback_days / window_hours) out of range.
    """
    pivot = PIVOTS[name]
    _, _, unit, after = pivot["window"]
    values = {key: params[key] for key in pivot["params"]}
    start, end = window(name, params)
    span = f"{window_size(name, params)}{_UNIT_SUFFIX[unit]}"
    sql_values = {key: sql_literal(values[key]) for key in pivot["values"]}
    sql_values["window_start"] = sql_literal(start.strftime(TIME_FORMAT))
    sql_values["window_end"] = sql_literal(end.strftime(TIME_FORMAT))
    pf_values = {key: pantherflow_literal(values[key]) for key in pivot["values"]}
    pf_values["alert_time"] = pantherflow_literal(
        parse_alert_time(values["alert_time"]).strftime(TIME_FORMAT)
    )
    pf_values["before"] = pantherflow_literal(span)
    pf_values["after"] = pantherflow_literal(after or span)
    return {
        "sql": _PLACEHOLDER.sub(lambda m: sql_values[m.group(1)], pivot["sql"]),
        "pantherflow": _PLACEHOLDER.sub(lambda m: pf_values[m.group(1)], pivot["pantherflow"]),
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
