"""Critical: the source IP of a canary credential alert also acted as one of your identities.

Runs on the rows of ``Tracebit.Query.CanaryCredentialSourceIPActivity`` (one row per canary
credential alert: the customer identities its source IP used in CloudTrail and Okta within 24
hours). A canary credential's principal is Tracebit's own, so the real lead is the address: an
attacker who stole a credential from a laptop usually also uses that laptop owner's sessions from
the same place. The alert names those identities, so the analyst knows whose sessions to revoke.

Row values come from logs: they are capped (``row_text``, ``clip``) before they reach the title,
dedup and context.
"""

from tracebit_base import MAX_LIST, clip, dedupe, row_number, row_text
from tracebit_principal import is_email, parse_aws_arn

TEXT_COLUMNS = (
    "alert_id",
    "alert_time",
    "source_ip",
    "credential_name",
    "credential_type",
    "tracebit_portal_url",
    "tracebit_principal_arn",
    "activity",
    "first_seen",
    "last_seen",
)


def acted_as(row):
    """The identities the IP acted as (the query's ``identities`` column, comma-separated)."""
    text = row_text(row, "identities") or ""
    return dedupe(part.strip() for part in text.split(", ") if part.strip())[:MAX_LIST]


def identities(row):
    """Lower-cased identities for correlation and the KV cache: each Okta login, and each ARN's
    session or user name when it is an email (``.../AWSReservedSSO_x/john.smith@acme.com``)."""
    found = []
    for identity in acted_as(row):
        name = parse_aws_arn(identity)["name"] if identity.lower().startswith("arn:") else identity
        if is_email(name):
            found.append(name.lower())
    return dedupe(found)


def rule(row):
    return bool(row_text(row, "alert_id") and row_text(row, "source_ip") and acted_as(row))


def title(row):
    names = acted_as(row)
    shown = ", ".join(clip(name) for name in names[:3]) + (
        f" +{len(names) - 3} more" if len(names) > 3 else ""
    )
    return (
        f"Tracebit canary credential {clip(row_text(row, 'credential_name') or 'unnamed')} used from "
        f"{clip(row_text(row, 'source_ip'), 64)}, which also acted as {shown}"
    )


def dedup(row):
    return clip(f"{row_text(row, 'alert_id')}:{row_text(row, 'source_ip')}", 900)


def reference(row):
    url = row_text(row, "tracebit_portal_url")
    return url if url and url.startswith("https://") else "https://tracebit.com"


def alert_context(row):
    context = {key: row_text(row, key) for key in TEXT_COLUMNS}
    context["acted_as"] = acted_as(row)
    context["identities"] = identities(row)
    context["events"] = row_number(row, "events")
    context["activity_window_hours"] = row_number(row, "activity_window_hours")
    return context
