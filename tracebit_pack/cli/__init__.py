"""The ``tracebit-pack`` command line: one sub-command per pipeline stage."""
