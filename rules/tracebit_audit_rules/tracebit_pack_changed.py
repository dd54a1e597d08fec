import tracebit_audit as audit  # the Panther.Audit topic's global (not the Tracebit alert API)


def rule(event):
    # Tampering (deleted, disabled, severity / dedup / threshold / schedule changed, a detection
    # filter, an unknown action) with an item of this pack, or an edit of one outside the pipeline.
    return audit.assess(event) is not None


def title(event):
    return audit.audit_title(event)


def severity(event):
    return audit.audit_severity(event)


def dedup(event):
    return audit.audit_dedup(event)


def alert_context(event):
    return audit.audit_context(event)
