"""Who a Tracebit alert is about (GlobalID ``tracebit_principal``).

One home for reading the ``principal`` of a Tracebit Alert / AlertSummary: the provider block it
came from, its AWS ARN (account, role, session or user name), the ``principal_*`` alert-context
keys, a short label for titles, and ``identities``: the lower-cased emails and usernames that the
KV cache, the correlation rules and the pivots match on.
"""

import re
from collections.abc import Mapping

from tracebit_base import MAX_LIST, as_str, clip, dedupe, safe_get, to_plain

_EMAIL_RE = re.compile(r"^[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=,@\-]{0,127}$")
# Session names that SDKs and AWS services generate: not a person, so not an identity.
_GENERATED_SESSION_RE = re.compile(
    r"^(i-[0-9a-f]{8,17}|botocore-session-\d+|aws-go-sdk-\d+|aws-sdk-[a-z]+-\d+|\d+|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    re.IGNORECASE,
)


def is_email(value):
    return isinstance(value, str) and bool(_EMAIL_RE.match(value))


def is_username(value):
    """A plausible human username or email (not an SDK-generated or instance session name)."""
    return (
        isinstance(value, str) and bool(_USERNAME_RE.match(value)) and not _GENERATED_SESSION_RE.match(value)
    )


def parse_aws_arn(arn):
    """Split a principal ARN into ``{account_id, kind, role, name}`` (all str|None).

    ``arn:aws:sts::123:assumed-role/Role/session`` -> kind assumed-role, role Role, name session;
    ``arn:aws:sts::123:federated-user/name``; ``arn:aws:iam::123:user/path/name``;
    ``arn:aws:iam::123:role/path/Role``; ``arn:aws:iam::123:root``.
    """
    out = {"account_id": None, "kind": None, "role": None, "name": None}
    arn = as_str(arn)
    if not arn or not arn.lower().startswith("arn:"):
        return out
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return out
    account = parts[4]
    out["account_id"] = account if account.isdigit() else None
    resource = parts[5]
    segments = resource.split("/")
    kind = segments[0].lower()
    out["kind"] = kind or None
    if kind == "assumed-role" and len(segments) >= 3:
        out["role"] = segments[1] or None
        out["name"] = "/".join(segments[2:]) or None
    elif kind in ("federated-user", "user") and len(segments) >= 2:
        out["name"] = segments[-1] or None
    elif kind == "role" and len(segments) >= 2:
        out["role"] = segments[-1] or None
    return out


_ARN_KIND_TYPES = {
    "assumed-role": "AssumedRole",
    "federated-user": "FederatedUser",
    "user": "IAMUser",
    "role": "Role",
    "root": "Root",
}


def get_principal(event):
    """The principal as a mapping; a bare string principal is read as ``{"id": <string>}``."""
    principal = safe_get(event, "principal")
    if isinstance(principal, Mapping):
        return principal
    text = as_str(principal)
    return {"id": text} if text else {}


def principal_provider(principal):
    """``aws``, ``okta``, ``azure``, ``google_cloud`` or ``unknown``: the first provider block present."""
    for provider in ("aws", "okta", "azure", "google_cloud"):
        block = safe_get(principal, provider)
        if isinstance(block, Mapping) and any(value is not None for value in block.values()):
            return provider
        if as_str(block):  # a provider block sent as a plain string
            return provider
    principal_id = as_str(safe_get(principal, "id")) or ""
    if principal_id.lower().startswith("arn:aws"):
        return "aws"
    return "unknown"


def _principal_arn(principal):
    arn = as_str(safe_get(principal, "aws", "arn"))
    if arn:
        return arn
    principal_id = as_str(safe_get(principal, "id"))
    if principal_id and principal_id.lower().startswith("arn:"):
        return principal_id
    return None


def _principal_id_email(principal_id):
    """The email in principal.id: the whole id, or the part after ``:`` (``AROA...:user@x.com``)."""
    if not principal_id:
        return None
    if is_email(principal_id):
        return principal_id
    if principal_id.lower().startswith("arn:"):
        return None
    tail = principal_id.rsplit(":", 1)[-1]
    return tail if is_email(tail) else None


def identities(event):
    """The principal's emails and usernames: lower-cased, de-duplicated, in discovery order.

    Sources, in order: ``principal.id`` if an email (or ``<id>:<email>``), ``principal.aws.username``,
    the session name of an assumed-role / federated-user (or IAM user) ARN if it is an email or a
    username, Okta ``alternate_id``, and the GCP federated subject if an email.
    """
    principal = get_principal(event)
    found = []
    found.append(_principal_id_email(as_str(safe_get(principal, "id"))))
    username = as_str(safe_get(principal, "aws", "username"))
    if is_username(username):
        found.append(username)
    name = parse_aws_arn(_principal_arn(principal))["name"]
    if is_username(name):
        found.append(name)
    alternate_id = as_str(safe_get(principal, "okta", "alternate_id"))
    if is_email(alternate_id) or is_username(alternate_id):
        found.append(alternate_id)
    subject = as_str(safe_get(principal, "google_cloud", "federated_identity_subject"))
    if is_email(subject):
        found.append(subject)
    return dedupe(value.lower() for value in found if value)[:MAX_LIST]


def principal_details(event):
    """The ``principal_*`` context keys (and the principal object as a plain dict)."""
    principal = get_principal(event)
    arn = _principal_arn(principal)
    parsed = parse_aws_arn(arn)
    principal_type = (
        as_str(safe_get(principal, "aws", "type"))
        or as_str(safe_get(principal, "okta", "type"))
        or as_str(safe_get(principal, "google_cloud", "federated_identity_type"))
        or _ARN_KIND_TYPES.get(parsed["kind"] or "")
    )
    account_id = (
        as_str(safe_get(principal, "aws", "account_id"))
        or parsed["account_id"]
        or as_str(safe_get(principal, "azure", "tenant_id"))
    )
    session_name = parsed["name"] if is_username(parsed["name"]) else None
    username = (
        as_str(safe_get(principal, "aws", "username"))
        or session_name
        or as_str(safe_get(principal, "okta", "alternate_id"))
        or as_str(safe_get(principal, "google_cloud", "federated_identity_subject"))
    )
    return {
        "principal_provider": principal_provider(principal),
        "principal_id": as_str(safe_get(principal, "id")),
        "principal_arn": arn,
        "principal_type": principal_type,
        "principal_account_id": account_id,
        "principal_username": username,
        "principal": to_plain(principal) if principal else None,
    }


def principal_label(event, context=None):
    """A short human name for the principal, for titles: first identity (with the assumed role),
    else the ARN, username, principal id, Azure app id or GCP subject."""
    if context is None:
        context = dict(principal_details(event), identities=identities(event))
    ids = context.get("identities")
    if ids:
        role = parse_aws_arn(context.get("principal_arn"))["role"]
        return clip(f"{ids[0]} (role {role})" if role else ids[0])
    principal = get_principal(event)
    app_id = as_str(safe_get(principal, "azure", "app_id"))
    return clip(
        context.get("principal_arn")
        or context.get("principal_username")
        or (f"Azure app {app_id}" if app_id else None)
        or context.get("principal_id")
        or "an unknown principal"
    )
