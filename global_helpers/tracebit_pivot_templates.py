"""The pivot queries themselves (GlobalID ``tracebit_pivot_templates``): each pivot's Snowflake SQL
and PantherFlow template, its parameters and time window, and the event lists they search.

``tracebit_pivots`` renders these templates with escaped values; only it reads ``PIVOTS``, and it
re-exports every public name here. The MFA event lists are also what the MFA signal rules react
to, so a signal and the pivot that looks for it can never disagree. A template places each value
only through a ``{{placeholder}}``, which the renderer fills with one escaped string literal.
"""

# Okta System Log event types that count as an MFA / password reset of the TARGET user.
# Classic Engine emits user.mfa.factor.reset_all; Identity Engine emits one
# user.mfa.factor.deactivate per factor for the same reset-all. user.mfa.attempt_bypass is an MFA
# bypass granted to the user (Okta support resets, as panther-analysis okta_support_reset lists).
# Compared with panther-analysis, Elastic and Splunk in docs/pivots-and-correlation.md.
MFA_RESET_EVENT_TYPES = (
    "user.mfa.factor.reset_all",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.suspend",
    "system.mfa.factor.deactivate",
    "user.account.reset_password",
    "user.mfa.attempt_bypass",
)

# CloudTrail events that remove or reset another user's second factor or password, or give another
# user a new access key (takeover inside AWS itself): IAM (iam.amazonaws.com) and IAM Identity
# Center's directory (sso-directory.amazonaws.com, DeleteMfaDeviceForUser). CreateAccessKey for
# another user is panther-analysis AWS.IAM.Backdoor.User.Keys (docs/pivots-and-correlation.md).
AWS_MFA_TAMPERING_EVENT_NAMES = (
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "ResyncMFADevice",
    "UpdateLoginProfile",
    "CreateLoginProfile",
    "DeleteMfaDeviceForUser",
    "CreateAccessKey",
)

# Example parameter values: the incident of the Tracebit + Panther partnership blog post.
EXAMPLE_PARAMS = {
    "principal_arn": "arn:aws:sts::693260565127:assumed-role/Okta-OIDC-Engineer/sue.johnson@acme.com",
    "identity": "sue.johnson@acme.com",
    "principal_user": "sue.johnson@acme.com",
    "alert_time": "2024-12-13 16:20:00",
    "source_ip": "185.220.101.34",
}

# Okta target[] positions the MFA-reset pivot looks at for the User (`target[0].type`, the indexing
# of Panther's expressions page; Panther publishes no PantherFlow that searches a whole array).
# Okta puts the user among the first two targets of these events.
OKTA_TARGET_POSITIONS = 3

_MFA_TYPES_SQL = ", ".join(f"'{t}'" for t in MFA_RESET_EVENT_TYPES)
_MFA_TYPES_PF = ", ".join(f"'{t}'" for t in MFA_RESET_EVENT_TYPES)

_OKTA_TARGET_SQL = "\n        OR ".join(
    f"(o.target[{i}]:type::string = 'User' AND o.target[{i}]:alternateId::string ILIKE p.identity)"
    for i in range(OKTA_TARGET_POSITIONS)
)
_OKTA_TARGET_PF = "\n    or ".join(
    f"(target[{i}].type == 'User' and strings.ilike(target[{i}].alternateId, {{{{identity}}}}))"
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
    DATE(ct.p_event_time) AS event_day,
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
| extend event_day = snowflake.func('DATE', p_event_time), bucket = requestParameters.bucketName
| summarize requests = agg.count(),
    bytes_out = agg.sum(additionalEventData.bytesTransferredOut),
    distinct_keys = agg.count_distinct(requestParameters.key),
    distinct_source_ips = agg.count_distinct(sourceIPAddress)
    by event_day, bucket
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

# Panther audit actions that change nothing in the pack: reads (prefixes, from the list of Panther
# Audit Log Actions) and alert triage / replays. The audit rule (tracebit_audit) skips them, and the
# pivot below leaves them out, so a rule and the pivot that looks for its events never disagree.
AUDIT_READ_ACTION_PREFIXES = (
    "CANCEL_",
    "CHECK_",
    "COMPUTE_",
    "DOWNLOAD_",
    "EXECUTE_",
    "GENERATE_",
    "GET_",
    "INFER_",
    "ISSUE_",
    "LIST_",
    "RESOLVE_",
    "RETRY_",
    "SEND_",
    "SIGN_IN",
    "SUMMARIZE_",
    "TEST_",
)
AUDIT_IGNORED_ACTIONS = ("CREATE_REPLAY", "STOP_REPLAY", "UPDATE_ALERT_ASSIGNEE", "UPDATE_ALERT_STATUS")
_READ_SQL = "\n        OR ".join(f"STARTSWITH(a.actionName, '{p}')" for p in AUDIT_READ_ACTION_PREFIXES)
_READ_PF = "\n    or ".join(f"strings.starts_with(actionName, '{p}')" for p in AUDIT_READ_ACTION_PREFIXES)
_IGNORED = ", ".join(f"'{name}'" for name in AUDIT_IGNORED_ACTIONS)

PIVOTS["Tracebit.Pivot.PackChangesBeforeAlert"] = {
    "params": ("alert_time",),
    "values": (),
    "window": ("lookback_days", 7, "day", "1h"),
    "description": (
        "Who changed this pack's items in Panther in the lookback_days (7) before the alert (and one "
        "hour after): every Panther.Audit action that is not a read, alert triage or replay and whose "
        "actionParams name a Tracebit item (every id of the pack contains 'tracebit'), failed attempts "
        "included, with the actor, the result and the parameters. A detection deleted, disabled or "
        "edited by someone other than the upload pipeline shortly before a canary alert is an intruder "
        "blinding the canaries. Needs Panther audit logs enabled as a log source."
    ),
    "sql": """SELECT
    a.p_event_time AS changed_at,
    a.actionName AS action,
    a.actionResult AS result,
    a.actor:type::string AS actor_type,
    a.actor:name::string AS actor_name,
    a.actor:id::string AS actor_id,
    a.sourceIP AS source_ip,
    a.actionParams AS action_params
FROM panther_logs.public.panther_audit a
WHERE p_occurs_between({{window_start}}, {{window_end}}, a)
    AND NOT (
        {read_actions_sql}
    )
    AND a.actionName NOT IN ({ignored_actions})
    AND TO_VARCHAR(a.actionParams) ILIKE '%tracebit%'
ORDER BY changed_at ASC, action ASC
""",
    "pantherflow": """panther_logs.public.panther_audit
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where not (
    {read_actions_pf})
| where not (actionName in [{ignored_actions}])
| where strings.ilike(actionParams, '%tracebit%')
| project changed_at = p_event_time, action = actionName, result = actionResult,
    actor_type = actor.type, actor_name = actor.name, actor_id = actor.id,
    source_ip = sourceIP, action_params = actionParams
| sort changed_at asc, action asc
""",
}

# What the source IP of an alert did in the customer's own logs, in the 24 hours around it. For a
# canary credential (whose principal is Tracebit's) this is the lead: an attacker who stole it from
# a laptop usually also uses the laptop owner's real sessions, from the same address.
PIVOTS["Tracebit.Pivot.SourceIPCloudTrailActivity"] = {
    "params": ("source_ip", "alert_time"),
    "values": ("source_ip",),
    "window": ("window_hours", 12, "hour", None),
    "description": (
        "What the alert's source IP did in CloudTrail from window_hours (12) before to window_hours after "
        "the alert: one row per identity (userIdentity.arn), account and API call, with the number of "
        "calls and the first and last time. An identity of yours here is a real session the holder of "
        "the canary credential also used: revoke it."
    ),
    "sql": """WITH params AS (
    {note}
    SELECT {{source_ip}} AS source_ip
)
SELECT
    ct.userIdentity:arn::string AS identity,
    ct.userIdentity:type::string AS identity_type,
    ct.recipientAccountId AS account_id,
    ct.eventSource AS event_source,
    ct.eventName AS event_name,
    COUNT(*) AS events,
    MIN(ct.p_event_time) AS first_seen,
    MAX(ct.p_event_time) AS last_seen
FROM params p, panther_logs.public.aws_cloudtrail ct
WHERE p_occurs_between({{window_start}}, {{window_end}}, ct)
    AND ct.sourceIPAddress = p.source_ip
GROUP BY identity, identity_type, account_id, event_source, event_name
ORDER BY identity ASC, event_source ASC, event_name ASC
""",
    "pantherflow": """panther_logs.public.aws_cloudtrail
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where sourceIPAddress == {{source_ip}}
| extend identity = userIdentity.arn, identity_type = userIdentity.type, account_id = recipientAccountId,
    event_source = eventSource, event_name = eventName
| summarize events = agg.count(), first_seen = agg.min(p_event_time), last_seen = agg.max(p_event_time)
    by identity, identity_type, account_id, event_source, event_name
| sort identity asc, event_source asc, event_name asc
""",
}

PIVOTS["Tracebit.Pivot.SourceIPOktaActivity"] = {
    "params": ("source_ip", "alert_time"),
    "values": ("source_ip",),
    "window": ("window_hours", 12, "hour", None),
    "description": (
        "What the alert's source IP did in Okta from window_hours (12) before to window_hours after the "
        "alert: one row per actor (actor.alternateId), event type and outcome, with the number of events "
        "and the first and last time. A user of yours here has a session the holder of the canary "
        "credential also used: clear it."
    ),
    "sql": """WITH params AS (
    {note}
    SELECT {{source_ip}} AS source_ip
)
SELECT
    o.actor:alternateId::string AS identity,
    o.actor:type::string AS identity_type,
    o.eventType AS event_type,
    o.outcome:result::string AS outcome_result,
    COUNT(*) AS events,
    MIN(o.p_event_time) AS first_seen,
    MAX(o.p_event_time) AS last_seen
FROM params p, panther_logs.public.okta_systemlog o
WHERE p_occurs_between({{window_start}}, {{window_end}}, o)
    AND o.client:ipAddress::string = p.source_ip
GROUP BY identity, identity_type, event_type, outcome_result
ORDER BY identity ASC, event_type ASC, outcome_result ASC
""",
    "pantherflow": """panther_logs.public.okta_systemlog
| where p_event_time between time.parse_timestamp({{alert_time}}) - time.parse_timespan({{before}})
    .. time.parse_timestamp({{alert_time}}) + time.parse_timespan({{after}})
| where client.ipAddress == {{source_ip}}
| extend identity = actor.alternateId, identity_type = actor.type, event_type = eventType,
    outcome_result = outcome.result
| summarize events = agg.count(), first_seen = agg.min(p_event_time), last_seen = agg.max(p_event_time)
    by identity, identity_type, event_type, outcome_result
| sort identity asc, event_type asc, outcome_result asc
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
        .replace("{read_actions_sql}", _READ_SQL)
        .replace("{ignored_actions}", _IGNORED)
    )
    _pivot["pantherflow"] = (
        _pivot["pantherflow"]
        .replace("{mfa_types_pf}", _MFA_TYPES_PF)
        .replace("{okta_target_pf}", _OKTA_TARGET_PF)
        .replace("{aws_cred_events}", _AWS_CRED_EVENTS)
        .replace("{read_actions_pf}", _READ_PF)
        .replace("{ignored_actions}", _IGNORED)
    )
del _pivot, _value
