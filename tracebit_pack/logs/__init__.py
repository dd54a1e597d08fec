"""Logs: Panther schemas, the standard ``p_*`` fields, validation, and loading folders of logs."""
