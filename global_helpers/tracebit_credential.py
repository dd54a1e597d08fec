"""Where a canary credential was planted, and whose identities that makes it
(GlobalID ``tracebit_credential``).

A canary credential is Tracebit's: the principal of a ``canary_credential_used`` alert is
Tracebit's own (for AWS, a federated user in Tracebit's account), which appears in none of the
customer's logs. What ties the alert to the customer is where the credential was planted, which
Tracebit sends as the credential's ``name`` and ``labels``:

* an endpoint: ``name`` ``<owner>@<host>`` (Panther's sample: ``john.smith@us-sf01-596``, labels
  ``source: kandji``, ``source_type: endpoint``), or the host alone (Tracebit's CLI names a
  credential after the machine);
* CI/CD: ``source_type: ci/cd`` with ``github.repo``, ``github.run_id``, ``github.workflow``,
  ``github.job``, ``github.sha``, ``github.ref`` labels (Tracebit's GitHub Action names it
  ``<org>/<repo>@<workflow>``), or a name such as ``github-actions@<org>/<repo>``;
* anything else: its ``source_type`` (``container``, ...) and labels, as sent.

The owner maps to customer identities through the one configuration, ``tracebit_customer``.
"""

import re
from collections.abc import Mapping

from tracebit_customer import CUSTOMER_AWS_ACCOUNT_IDS, CUSTOMER_EMAIL_DOMAINS, OWNER_IDENTITIES

from tracebit_base import MAX_LIST, as_str, clip, dedupe, normalise_token
from tracebit_principal import is_email, is_username

SCOPE_CUSTOMER = "customer"
SCOPE_TRACEBIT_ISSUED = "tracebit_issued"
SCOPE_OUTSIDE = "outside_customer_accounts"
SCOPE_NOTES = {
    SCOPE_TRACEBIT_ISSUED: (
        "Tracebit-issued credential: the principal is Tracebit's, not one of your identities"
    ),
    SCOPE_OUTSIDE: "principal outside your AWS accounts (tracebit_customer.CUSTOMER_AWS_ACCOUNT_IDS)",
}

# Credential types Tracebit documents (API spec, CLI, GitHub Action, Panther's sample), by
# normalised token, with the words a title uses. An unknown type is shown as sent.
CREDENTIAL_TYPE_NAMES = {
    "aws": "AWS credentials",
    "awstemporarysecuritycredentials": "AWS temporary credentials",
    "awsaccesskey": "AWS access key",
    "ssh": "SSH key",
    "sshkey": "SSH key",
    "http": "HTTP login",
    "gitlabcookie": "GitLab session cookie",
    "gitlabusernamepassword": "GitLab username and password",  # pragma: allowlist secret
    "npmtoken": "npm token",
    "npm": "npm token",
    "email": "email canary",
    "emailcanary": "email canary",
    "kubernetes": "Kubernetes credential",
    "kubeconfig": "Kubernetes credential",
    "contextbomb": "context bomb",
}

_CI_SOURCE_TYPES = frozenset({"cicd", "ci", "pipeline"})
_OWNER_LABELS = ("owner", "user", "username", "user_email", "email")
_HOST_LABELS = ("hostname", "host", "machine", "device", "device_name", "computer_name")
MAX_OWNER_LENGTH = 320  # the longest email address (64-character local part, @, 255-character domain)
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_RUN_ID_RE = re.compile(r"^\d{1,20}$")

PLACEMENT_KEYS = (
    "kind",
    "source",
    "source_type",
    "owner",
    "host",
    "repository",
    "run_id",
    "run_url",
    "workflow",
    "job",
    "sha",
    "ref",
)


def credential_type_name(value):
    """The readable name of a credential type (``aws_temporary_security_credentials`` -> ``AWS
    temporary credentials``); an unknown type as sent; None when missing."""
    text = as_str(value, 128)
    if not text:
        return None
    return CREDENTIAL_TYPE_NAMES.get(normalise_token(text), text)


def _label(labels, *names):
    """The first non-empty label among ``names`` (label names compared case-insensitively)."""
    for name in names:
        value = as_str(labels.get(name))
        if value:
            return value
    return None


def _repository_from_name(name):
    """``org/repo`` from ``org/repo@workflow`` (the Action) or ``github-actions@org/repo``."""
    for part in (name or "").split("@"):
        if _REPO_RE.match(part.strip()):
            return part.strip()
    return None


def _owner_and_host(name):
    """``(owner, host)`` of an endpoint credential name ``<owner>@<host>``; an email of one of the
    customer's domains is an owner alone; a name without ``@`` is the host (Tracebit's CLI)."""
    if not name or any(ch.isspace() for ch in name):
        return None, None
    if is_email(name) and name.rpartition("@")[2].lower() in _domains():
        return name, None
    if "@" not in name:
        return None, name
    owner, _, host = name.rpartition("@")
    return (owner if is_username(owner) else None), (host or None)


def _domains():
    return {str(domain).strip().lower() for domain in CUSTOMER_EMAIL_DOMAINS if str(domain).strip()}


def credential_placement(credential):
    """Where ``credential`` (``tracebit_canary.canary_credential`` output) was planted, as
    ``{kind, source, source_type, owner, host, repository, run_id, run_url, workflow, job, sha, ref}``
    (missing parts None); None without a credential. ``kind`` is ``ci/cd``, ``endpoint`` or the
    ``source_type`` as sent."""
    if not isinstance(credential, Mapping):
        return None
    raw_labels = credential.get("labels") if isinstance(credential.get("labels"), Mapping) else {}
    labels = {str(key).strip().lower(): value for key, value in raw_labels.items()}
    name = as_str(credential.get("name"))
    source = _label(labels, "source")
    source_type = _label(labels, "source_type", "sourcetype")
    placement = dict.fromkeys(PLACEMENT_KEYS)
    placement.update(source=source, source_type=source_type)
    github = any(key.startswith("github.") for key in labels)
    repository = _label(labels, "github.repo", "github.repository", "repository", "repo")
    if not repository and (name or "").lower().startswith(("github-actions@", "gitlab-ci@")):
        repository = _repository_from_name(name)
    if normalise_token(source_type) in _CI_SOURCE_TYPES or github or repository:
        repository = repository or _repository_from_name(name)
        run_id = _label(labels, "github.run_id", "run_id")
        placement.update(
            kind="ci/cd",
            repository=repository,
            run_id=run_id,
            workflow=_label(labels, "github.workflow", "workflow"),
            job=_label(labels, "github.job", "job"),
            sha=_label(labels, "github.sha", "sha", "commit"),
            ref=_label(labels, "github.ref", "ref"),
        )
        from_github = github or normalise_token(source) == "github"
        if from_github and _REPO_RE.match(repository or "") and _RUN_ID_RE.match(run_id or ""):
            placement["run_url"] = f"https://github.com/{repository}/actions/runs/{run_id}"
        return placement
    owner, host = _owner_and_host(name)
    if source_type and normalise_token(source_type) != "endpoint":
        owner, host = (owner if host else None), None  # a container's name is not a host
    owner = _label(labels, *_OWNER_LABELS) or owner
    host = _label(labels, *_HOST_LABELS) or host
    placement.update(owner=owner, host=host)
    placement["kind"] = source_type or ("endpoint" if owner or host else None)
    return placement


def owner_identities(owner):
    """The customer identities of a credential's owner (lower-cased, de-duplicated): the overrides
    in ``OWNER_IDENTITIES``, else ``<owner>@<domain>`` for each customer domain then ``<owner>``;
    an owner that is an email keeps it and adds its local part. ``[]`` for no usable owner."""
    key = (as_str(owner) or "").lower()
    if not key or len(key) > MAX_OWNER_LENGTH:
        return []
    override = OWNER_IDENTITIES.get(key) if isinstance(OWNER_IDENTITIES, Mapping) else None
    if override:
        values = [override] if isinstance(override, str) else list(override)
        return dedupe(v.strip().lower() for v in values if isinstance(v, str) and v.strip())[:MAX_LIST]
    if is_email(key):
        local = key.partition("@")[0]
        return dedupe([key, local if is_username(local) else None])
    if not is_username(key):
        return []
    return dedupe([f"{key}@{domain}" for domain in sorted(_domains())] + [key])[:MAX_LIST]


def principal_scope(is_credential_alert, account_id):
    """``tracebit_issued`` for a canary credential's principal (always Tracebit's),
    ``outside_customer_accounts`` for a principal of an AWS account that is not listed in
    ``CUSTOMER_AWS_ACCOUNT_IDS`` (when that list is set), else ``customer``."""
    if is_credential_alert:
        return SCOPE_TRACEBIT_ISSUED
    accounts = {str(a).strip() for a in CUSTOMER_AWS_ACCOUNT_IDS if str(a).strip()}
    account = as_str(account_id)
    if accounts and account and account.isdigit() and account not in accounts:
        return SCOPE_OUTSIDE
    return SCOPE_CUSTOMER


def placement_phrase(placement):
    """``, planted in CI/CD <repo> run <id>`` / ``, planted on host <host> (owner <owner>)`` / ``''``."""
    if not placement:
        return ""
    if placement.get("kind") == "ci/cd":
        repo = clip(placement.get("repository") or "an unknown repository")
        run = placement.get("run_id")
        return f", planted in CI/CD {repo}" + (f" run {clip(run, 40)}" if run else "")
    host, owner = clip(placement.get("host")), clip(placement.get("owner"))
    parts = [f"host {host}" if host else None, f"(owner {owner})" if owner else None]
    text = " ".join(part for part in parts if part)
    return f", planted on {text}" if text else ""
