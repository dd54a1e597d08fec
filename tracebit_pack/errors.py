"""Errors that the command line reports as one clear line instead of a traceback."""


class UserError(Exception):
    """Bad input from the user (missing folder, malformed file, unknown name, bad flag).

    The CLI prints ``tracebit-pack: error: <message>`` and exits with code 2.
    """


class CheckFailed(Exception):
    """A check ran and found problems (the problems were already printed). Exit code 1."""
