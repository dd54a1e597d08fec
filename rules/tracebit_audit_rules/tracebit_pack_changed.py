import tracebit_helpers as tb


def rule(event):
    # Tampering (deleted, disabled, severity / dedup / threshold / schedule changed, a detection
    # filter, an unknown action) with an item of this pack, or an edit of one outside the pipeline.
    return tb.audit_assess(event) is not None


def title(event):
    return tb.audit_title(event)


def severity(event):
    return tb.audit_severity(event)


def dedup(event):
    return tb.audit_dedup(event)


def alert_context(event):
    return tb.audit_context(event)
