"""Your organisation, as the pack needs to know it (GlobalID ``tracebit_customer``).

The ONE place to configure how the owner named in a canary credential (``john.smith`` of
``john.smith@us-sf01-596``) maps to your identities, and which AWS accounts are yours. Edit the
constants below in your copy of the pack; docs/tracebit-fields.md explains each one.

An owner ``<name>`` maps to these identities, in this order:

* ``<name>@<domain>`` for each domain in ``CUSTOMER_EMAIL_DOMAINS``: the Okta login, and the
  IAM Identity Center (SSO) role-session name, which is the same login
  (``arn:aws:sts::<account>:assumed-role/AWSReservedSSO_<set>_<id>/<name>@<domain>``);
* ``<name>`` itself: the IAM user name and a role session named after the user;
* or, for an owner listed in ``OWNER_IDENTITIES``, exactly the identities listed there.

An owner that is already an email keeps it and adds its local part.
"""

# Your Okta login (email) domains. The shipped value is acme.com, the example company of the
# bundled scenarios and tests: replace it with your own domains. Empty: owners map to <name> only.
CUSTOMER_EMAIL_DOMAINS = ("acme.com",)

# Owners whose identities do not follow the rule above: lower-cased owner -> identities.
# Example: {"jsmith": ("john.smith@acme.com", "john.smith")}
OWNER_IDENTITIES = {}

# Your AWS account ids. When set, a principal of any other account is never sent to a pivot
# (its activity is not in your logs). Empty (the default): only Tracebit-issued credentials'
# principals are kept out of the pivots, which is always the case.
CUSTOMER_AWS_ACCOUNT_IDS = ()
