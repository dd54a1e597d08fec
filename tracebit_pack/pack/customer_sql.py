"""The credential-owner SQL of the scheduled MFA queries, generated from the global ``tracebit_customer``.

A scheduled query is SQL: it cannot import the global that says which email domains and owner
overrides are yours. So the block of CTEs that maps a canary credential's owner to your identities
is written into each query below from that global, between two marker lines, and
``tests/test_customer_sql.py`` fails when a query's block differs from what the global gives.
Edit ``global_helpers/tracebit_customer.py``, then regenerate with
``.venv/bin/python -m tracebit_pack.pack.customer_sql``.

The block needs a ``tracebit`` CTE before it with the columns ``alert_id``, ``subtype``,
``credential_name`` and ``credential_labels`` (Tracebit's ``[{name, value}]`` array). It defines
``credential_owner_identities (alert_id, identity)``, the same identities
``tracebit_credential.owner_identities`` gives the real-time rules: the overrides of
``OWNER_IDENTITIES``, else ``<owner>@<domain>`` per customer domain and ``<owner>``; an owner
that is an email keeps it and adds its local part. CI/CD credentials have no owner. Every value
is a Snowflake literal written by ``tracebit_pivots.sql_literal`` (quotes and backslashes escaped).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path

from tracebit_pack.errors import UserError
from tracebit_pack.pack.globals import load_global
from tracebit_pack.pack.items import REPO_ROOT

QUERY_FILES = (
    Path("queries") / "tracebit_canary_principal_recent_mfa_reset_query.yml",
    Path("queries") / "tracebit_canary_principal_recent_aws_mfa_tampering_query.yml",
)
BEGIN = "-- BEGIN credential owners: GENERATED from global_helpers/tracebit_customer.py"
END = "-- END credential owners"
_BLOCK = re.compile(rf"^([ \t]*){re.escape(BEGIN)}.*?^[ \t]*{re.escape(END)}[^\n]*$", re.M | re.S)

# Credential owners and the rows they map to; the CI/CD rules follow tracebit_credential.
_OWNER_CTES = """\
credential_labels AS (
    SELECT t.alert_id, LOWER(TRIM(l.value:name::string)) AS name, l.value:value::string AS value
    FROM tracebit t, LATERAL FLATTEN(input => t.credential_labels) l
),
credential_owners AS (
    -- The owner a canary credential names: an owner label, else the <owner> of <owner>@<host>;
    -- none for a CI/CD credential (a ci/cd source_type, a repository label, a CI name).
    SELECT DISTINCT t.alert_id,
        LOWER(TRIM(COALESCE(ow.value, SPLIT_PART(t.credential_name, '@', 1)))) AS owner
    FROM tracebit t
    LEFT JOIN credential_labels ow
        ON ow.alert_id = t.alert_id AND ow.name IN ('owner', 'user', 'username', 'user_email', 'email')
    WHERE LOWER(t.subtype) = 'canary_credential_used'
        AND (ow.value IS NOT NULL OR t.credential_name LIKE '_%@_%')
        AND COALESCE(LOWER(t.credential_name), '') NOT LIKE 'github-actions@%'
        AND COALESCE(LOWER(t.credential_name), '') NOT LIKE 'gitlab-ci@%'
        AND NOT EXISTS (
            SELECT 1 FROM credential_labels c
            WHERE c.alert_id = t.alert_id
                AND (c.name LIKE 'github.%' OR c.name IN ('repository', 'repo')
                    OR (c.name IN ('source_type', 'sourcetype')
                        AND REGEXP_REPLACE(LOWER(c.value), '[^a-z0-9]', '') IN ('cicd', 'ci', 'pipeline')))
        )
),
credential_owner_identities AS (
    SELECT o.alert_id, v.identity
    FROM credential_owners o JOIN credential_owner_overrides v ON v.owner = o.owner
    UNION
    SELECT o.alert_id, o.owner AS identity
    FROM credential_owners o
    WHERE o.owner <> '' AND NOT EXISTS (SELECT 1 FROM credential_owner_overrides v WHERE v.owner = o.owner)
    UNION
    SELECT o.alert_id, SPLIT_PART(o.owner, '@', 1) AS identity
    FROM credential_owners o
    WHERE o.owner LIKE '_%@_%'
        AND NOT EXISTS (SELECT 1 FROM credential_owner_overrides v WHERE v.owner = o.owner)
    UNION
    SELECT o.alert_id, o.owner || '@' || d.domain AS identity
    FROM credential_owners o CROSS JOIN customer_email_domains d
    WHERE o.owner <> '' AND o.owner NOT LIKE '%@%'
        AND NOT EXISTS (SELECT 1 FROM credential_owner_overrides v WHERE v.owner = o.owner)
),"""


def _values(literal, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """``SELECT 'a' AS x UNION ALL SELECT 'b'``; an empty table of VARCHAR columns for no rows."""
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS {name}" for name in columns)
        return f"    SELECT {nulls} WHERE 1 = 0"
    selects = []
    for n, row in enumerate(rows):
        parts = [
            literal(value) + (f" AS {name}" if n == 0 else "")
            for value, name in zip(row, columns, strict=True)
        ]
        selects.append("    SELECT " + ", ".join(parts))
    return "\n    UNION ALL\n".join(selects)


def customer_rows(customer) -> tuple[list[tuple[str]], list[tuple[str, str]]]:
    """The domains and ``(owner, identity)`` overrides of the global, lower-cased as the rules use them."""
    configured = getattr(customer, "CUSTOMER_EMAIL_DOMAINS", ()) or ()
    domains = sorted({str(d).strip().lower() for d in configured if str(d).strip()})
    overrides = getattr(customer, "OWNER_IDENTITIES", {}) or {}
    if not isinstance(overrides, Mapping):
        raise UserError("tracebit_customer.OWNER_IDENTITIES must be a mapping of owner -> identities")
    pairs = set()
    for owner, values in overrides.items():
        for value in [values] if isinstance(values, str) else list(values or ()):
            if isinstance(value, str) and value.strip() and str(owner).strip():
                pairs.add((str(owner).strip().lower(), value.strip().lower()))
    return [(d,) for d in domains], sorted(pairs)


def render_block(root: Path = REPO_ROOT) -> str:
    """The generated block (marker lines included), without indentation."""
    customer = load_global(root, "tracebit_customer")
    literal = load_global(root, "tracebit_pivots").sql_literal
    domains, overrides = customer_rows(customer)
    return "\n".join(
        [
            BEGIN + " by",
            "-- `.venv/bin/python -m tracebit_pack.pack.customer_sql`: edit the global, not this block.",
            "customer_email_domains AS (",
            _values(literal, ("domain",), domains),
            "),",
            "credential_owner_overrides AS (",
            _values(literal, ("owner", "identity"), overrides),
            "),",
            _OWNER_CTES,
            END,
        ]
    )


def query_block(text: str) -> str | None:
    """The generated block found in a query file's text, dedented; None when it has none."""
    found = _BLOCK.search(text)
    if not found:
        return None
    indent = found.group(1)
    return "\n".join(line.removeprefix(indent) for line in found.group(0).splitlines())


def rewrite(text: str, block: str) -> str:
    """``text`` with its generated block replaced by ``block``, at the block's indentation."""
    found = _BLOCK.search(text)
    if not found:
        raise UserError(f"no '{BEGIN}' ... '{END}' block to regenerate")
    indent = found.group(1)
    lines = "\n".join((indent + line) if line else line for line in block.splitlines())
    return text[: found.start()] + lines + text[found.end() :]


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else REPO_ROOT
    block = render_block(root)
    for name in QUERY_FILES:
        path = root / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror})") from exc
        path.write_text(rewrite(text, block), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UserError as exc:
        print(f"customer_sql: {exc}", file=sys.stderr)
        sys.exit(2)
