"""Compute the standard fields Panther adds to a parsed log, from its schema.

``enrich(event, log_type, parse_time=None, row_id=None) -> dict`` returns a copy of ``event`` with
  * ``p_log_type``;
  * ``p_parse_time`` (``parse_time``, default: now) and ``p_event_time`` (the ``isEventTime`` field,
    falling back to ``p_parse_time``), both formatted ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC;
  * ``p_row_id`` (``row_id`` if given, e.g. from ``deterministic_row_id``; otherwise random);
  * every ``p_any_*`` column filled by the schema ``indicators`` of the fields present (values
    de-duplicated and sorted; columns with no value are left out, as Panther leaves them NULL).

``indicator_values(event, log_type) -> {p_any_column: [values]}`` is the p_any_* part alone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tracebit_pack.logs.schemas import FieldSpec, load_schema
from tracebit_pack.times import panther_time
from tracebit_pack.times import parse_with_formats as _parse_time

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
# Indicators whose value goes as is into one p_any_* column.
DIRECT_COLUMNS = {
    "domain": "p_any_domain_names",
    "username": "p_any_usernames",
    "aws_account_id": "p_any_aws_account_ids",
    "aws_instance_id": "p_any_aws_instance_ids",
    "aws_tag": "p_any_aws_tags",
    "md5": "p_any_md5_hashes",
    "sha1": "p_any_sha1_hashes",
    "sha256": "p_any_sha256_hashes",
    "trace_id": "p_any_trace_ids",
    "actor_id": "p_any_actor_ids",
}
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_email(value: str) -> bool:
    """A plain ``local@domain.tld`` address (no display name, no spaces)."""
    return bool(_EMAIL.match(value))


def _host(value: str, out: dict[str, set[str]]) -> None:
    host = value.strip().strip("[]")
    if not host:
        return
    if is_ip(host):
        out.setdefault("p_any_ip_addresses", set()).add(host)
    else:
        out.setdefault("p_any_domain_names", set()).add(host)


def _arn(value: str, out: dict[str, set[str]], *, arn_only: bool) -> None:
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return  # not an ARN (e.g. an OIDC provider name): Panther adds nothing
    out.setdefault("p_any_aws_arns", set()).add(value)
    if arn_only:
        return
    _, _, service, _, account, resource = parts
    if _ACCOUNT_ID.match(account):
        out.setdefault("p_any_aws_account_ids", set()).add(account)
    if service == "ec2" and resource.startswith("instance/"):
        instance = resource.split("/", 1)[1]
        if _INSTANCE_ID.match(instance):
            out.setdefault("p_any_aws_instance_ids", set()).add(instance)
    if service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        if len(pieces) >= 3 and is_email(pieces[-1]):
            out.setdefault("p_any_emails", set()).add(pieces[-1])


def scan(indicator: str, value: str, out: dict[str, set[str]]) -> None:
    """Add what ``indicator`` extracts from the string ``value`` to ``out`` (column -> values)."""
    value = value.strip()
    if not value:
        return
    if indicator == "ip":
        if is_ip(value):
            out.setdefault("p_any_ip_addresses", set()).add(value)
    elif indicator == "domain":
        out.setdefault("p_any_domain_names", set()).add(value)
    elif indicator == "hostname":
        _host(value, out)
    elif indicator == "url":
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if host:
            _host(host, out)
    elif indicator == "net_addr":
        host = value
        if value.startswith("["):
            host = value[1:].split("]", 1)[0]
        elif value.count(":") == 1:
            host = value.split(":", 1)[0]
        _host(host, out)
    elif indicator == "email":
        if is_email(value):
            out.setdefault("p_any_emails", set()).add(value)
    elif indicator in ("aws_arn", "aws_arn_only"):
        _arn(value, out, arn_only=indicator == "aws_arn_only")
    else:
        column = DIRECT_COLUMNS[indicator]
        out.setdefault(column, set()).add(value)


def _walk(value: object, spec: FieldSpec, out: dict[str, set[str]]) -> None:
    if value is None:
        return
    if spec.type == "object" and isinstance(value, dict):
        for child in spec.fields:
            _walk(value.get(child.name), child, out)
    elif spec.type == "array" and isinstance(value, list) and spec.element is not None:
        for item in value:
            _walk(item, spec.element, out)
    elif spec.indicators and isinstance(value, str):
        for indicator in spec.indicators:
            scan(indicator, value, out)


def indicator_values(event: dict, log_type: str) -> dict[str, list[str]]:
    """The ``p_any_*`` columns with values for ``event`` (each list de-duplicated and sorted)."""
    found: dict[str, set[str]] = {}
    for spec in load_schema(log_type).fields:
        _walk(event.get(spec.name), spec, found)
    return {column: sorted(values) for column, values in sorted(found.items()) if values}


def event_time(event: dict, log_type: str) -> datetime | None:
    """The parsed ``isEventTime`` field of ``event`` (aware, UTC), or None if absent or unparsable."""
    schema = load_schema(log_type)
    path = schema.event_time_path
    if not path:
        return None
    value: object = event
    spec_fields = schema.fields
    spec = None
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
        spec = next(f for f in spec_fields if f.name == key)
        spec_fields = spec.fields
    if value is None or spec is None:
        return None
    try:
        return _parse_time(value, spec.time_formats)
    except ValueError:
        return None


def deterministic_row_id(*parts: object) -> str:
    """A stable 20-character hex row id from ``parts`` (for reproducible tests and lakes)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:20]


def enrich(event: dict, log_type: str, parse_time: datetime | None = None, row_id: str | None = None) -> dict:
    """A copy of ``event`` with Panther's standard fields added (see the module docstring)."""
    parsed_at = parse_time or datetime.now(UTC)
    if parsed_at.tzinfo is None:
        parsed_at = parsed_at.replace(tzinfo=UTC)
    occurred = event_time(event, log_type) or parsed_at
    enriched = dict(event)
    enriched["p_log_type"] = log_type
    enriched["p_event_time"] = panther_time(occurred)
    enriched["p_parse_time"] = panther_time(parsed_at)
    enriched["p_row_id"] = row_id or uuid.uuid4().hex[:20]
    enriched.update(indicator_values(event, log_type))
    return enriched
