"""Signal: MFA tampering, a password reset or a new access key of an IAM user, recorded by CloudTrail.

Creates no alert (``CreateAlert: false``). IAM ``DeactivateMFADevice``, ``DeleteVirtualMFADevice``,
``ResyncMFADevice``, ``UpdateLoginProfile`` / ``CreateLoginProfile`` / ``CreateAccessKey`` of another
user, and IAM Identity Center's ``DeleteMfaDeviceForUser``. The affected user is read from
``requestParameters``; its lower-cased name is written to the KV cache through the shared writer
(``tracebit_mfa_cache.remember_mfa_reset``, the same record shape as the Okta signal), so a Tracebit
canary alert whose principal is that user (its user ARN, its name, or an assumed-role session named
after it) escalates to Critical in real time, and the correlation rules match it on
``p_alert_context.identities``.

Its ``InlineFilters`` (``eventName`` among these names) let Panther skip ``rule()`` for every other
CloudTrail event; ``rule()`` repeats that test (one frozenset membership), since ``pat test``
ignores InlineFilters.
"""

from panther_detection_helpers.caching import put_dictionary

from tracebit_base import as_mapping, as_str
from tracebit_mfa_cache import MFA_SOURCE_AWS, mfa_reset_record, remember_mfa_reset
from tracebit_pivot_templates import AWS_MFA_TAMPERING_EVENT_NAMES
from tracebit_principal import is_username, parse_aws_arn

EVENT_NAMES = frozenset(AWS_MFA_TAMPERING_EVENT_NAMES)
# Password (re)sets count only when done to ANOTHER user: a user does not create or reset its own
# login profile in normal operation (ChangePassword is the self-service call). A user creating its
# own access key is routine rotation; a key created for another user is a takeover.
LOGIN_PROFILE_EVENTS = frozenset({"UpdateLoginProfile", "CreateLoginProfile"})
OTHER_USER_ONLY_EVENTS = LOGIN_PROFILE_EVENTS | {"CreateAccessKey"}
IDENTITY_CENTER_EVENTS = frozenset({"DeleteMfaDeviceForUser"})
# IAM calls whose UserName defaults to the calling IAM user (DeleteVirtualMFADevice has no UserName:
# only its serialNumber names the device, and so the user).
CALLER_DEFAULT_EVENTS = frozenset(
    {"DeactivateMFADevice", "ResyncMFADevice", "UpdateLoginProfile", "CreateLoginProfile", "CreateAccessKey"}
)


def _serial_user(serial):
    """The device name of a virtual MFA device ARN (``arn:aws:iam::<acct>:mfa/<path>/<name>``):
    the console names a user's virtual device after the user."""
    serial = as_str(serial)
    if not serial or not serial.lower().startswith("arn:") or ":mfa/" not in serial:
        return None
    return serial.rsplit("/", 1)[-1] or None


def _actor(event):
    identity = as_mapping(event.get("userIdentity"))
    arn = as_str(identity.get("arn"))
    kind = as_str(identity.get("type"))
    name = as_str(identity.get("userName"))
    if not name and kind == "AssumedRole":
        name = parse_aws_arn(arn)["name"]
    return {
        "arn": arn,
        "type": kind,
        "user_name": name,
        "principal_id": as_str(identity.get("principalId")),
        "account_id": as_str(identity.get("accountId")),
    }


def target_user(event):
    """``{name, arn, resolved_from}`` of the user whose MFA or password was changed (name None when
    it cannot be resolved)."""
    params = as_mapping(event.get("requestParameters"))
    name = as_str(params.get("userName"), 128)
    source = "requestParameters.userName" if name else None
    event_name = event.get("eventName")
    if not name and event_name in IDENTITY_CENTER_EVENTS:
        name = as_str(params.get("userId"), 128)
        source = "requestParameters.userId" if name else None
    if not name and event_name in CALLER_DEFAULT_EVENTS:
        # Without UserName, IAM acts on the IAM user that signed the request.
        actor = _actor(event)
        if actor["type"] == "IAMUser" and actor["user_name"]:
            name, source = actor["user_name"], "userIdentity.userName (own user)"
    if not name:
        name = _serial_user(params.get("serialNumber"))
        source = "requestParameters.serialNumber" if name else None
    if not is_username(name):
        return {"name": None, "arn": None, "resolved_from": None, "kind": None}
    account = as_str(event.get("recipientAccountId")) or _actor(event)["account_id"]
    arn = None
    if account and event.get("eventName") not in IDENTITY_CENTER_EVENTS:
        arn = f"arn:aws:iam::{account}:user/{name}"
    # An Identity Center userId is the Identity Store GUID: it never equals the user name that an
    # AWSReservedSSO_* role session carries, so it escalates nothing (docs/pivots-and-correlation.md).
    kind = "identity_store_user_id" if source == "requestParameters.userId" else "iam_user_name"
    return {"name": name, "arn": arn, "resolved_from": source, "kind": kind}


def password_reset_required(event):
    """``requestParameters.passwordResetRequired`` of a login-profile call as a bool, else None.
    panther-analysis leaves such temporary passwords out; here they still count, because whoever
    set the temporary password can sign in and choose the next one."""
    if event.get("eventName") not in LOGIN_PROFILE_EVENTS:
        return None
    value = as_mapping(event.get("requestParameters")).get("passwordResetRequired")
    if isinstance(value, bool):
        return value
    text = (as_str(value, 8) or "").lower()
    return {"true": True, "false": False}.get(text)


def is_self_service(event, target_name):
    actor = _actor(event)["user_name"]
    return bool(actor and target_name and actor.lower() == target_name.lower())


def identities(event):
    name = target_user(event)["name"]
    return [name.lower()] if name else []


def rule(event):
    try:
        if event.get("eventName") not in EVENT_NAMES:
            return False
    except TypeError:  # a list or object eventName is unhashable: not an event this rule knows
        return False
    if event.get("errorCode"):  # AccessDenied, NoSuchEntity ...: nothing was changed
        return False
    target = target_user(event)["name"]
    if not target:
        return False
    if event.get("eventName") in OTHER_USER_ONLY_EVENTS and is_self_service(event, target):
        return False
    record = mfa_reset_record(
        MFA_SOURCE_AWS,
        event.get("eventName"),
        event.get("eventTime") or event.get("p_event_time"),
        _actor(event)["arn"],
        event.get("eventID"),
        event_source=event.get("eventSource"),
        account_id=event.get("recipientAccountId"),
        source_ip=event.get("sourceIPAddress"),
        # the record holds strings: "true" / "false", or null when the call has no such flag
        password_reset_required={True: "true", False: "false"}.get(password_reset_required(event)),
    )
    remember_mfa_reset(put_dictionary, event, [target.lower()], record)
    return True


def alert_context(event):
    target = target_user(event)
    params = as_mapping(event.get("requestParameters"))
    return {
        "identities": [target["name"].lower()] if target["name"] else [],
        "target_user": target["name"],
        "target_user_arn": target["arn"],
        "target_resolved_from": target["resolved_from"],
        "target_kind": target["kind"],
        "password_reset_required": password_reset_required(event),
        "mfa_serial": as_str(params.get("serialNumber")),
        "actor": _actor(event),
        "self_service": is_self_service(event, target["name"]),
        "event_source": as_str(event.get("eventSource")),
        "event_type": as_str(event.get("eventName")),
        "event_time": as_str(event.get("eventTime") or event.get("p_event_time")),
        "uuid": as_str(event.get("eventID")),
        "account_id": as_str(event.get("recipientAccountId")),
        "source_ip": as_str(event.get("sourceIPAddress")),
        "user_agent": as_str(event.get("userAgent")),
    }
