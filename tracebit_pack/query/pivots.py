"""Run a pivot query (``tracebit_pivots.PIVOTS``) on the lake, in SQL or PantherFlow.

A pivot is rendered from its template for the given parameters, never run from the example
values of its saved query: the SQL carries literal time bounds computed from ``alert_time``, so
patching the saved query's params CTE could not move the window. ``cli_params`` turns
``query run`` input into render parameters: ``alert_time`` defaults to ``--now``; the principal
must be given; a bad value is a UserError naming the parameter.
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType

from tracebit_pack.errors import UserError
from tracebit_pack.times import panther_time, parse_rfc3339, parse_utc_text

LANGUAGES = ("sql", "pantherflow")


def option_names(pivots: ModuleType, name: str) -> tuple[str, ...]:
    """Every parameter the pivot accepts: the required ones, then its window option."""
    pivot = pivots.PIVOTS[name]
    return (*pivot["params"], pivot["window"][0])


def parse_alert_time(text: str) -> str:
    """``alert_time`` given on the command line as the pivots' UTC form. Accepted: RFC 3339 with a
    timezone, and every form a replay report prints: Panther's stored UTC form
    ``YYYY-MM-DD HH:MM:SS[.f]`` (JSON and HTML), RFC 3339 ``...Z`` (text), either one inside a
    pair of quotes as a YAML or JSON value prints it (``'2026-03-04 11:20:00'``)."""
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    try:
        moment = parse_rfc3339(value) if "T" in value or "t" in value else parse_utc_text(value)
    except ValueError:
        raise UserError(
            "--param alert_time: expected a time with a timezone like 2024-12-13T16:20:00Z, or Panther's"
            f" UTC form 2024-12-13 16:20:00, got {text!r}"
        ) from None
    return panther_time(moment, "seconds")


def cli_params(pivots: ModuleType, name: str, given: dict[str, str], now: datetime) -> dict[str, str]:
    """Render parameters of pivot ``name`` from ``--param`` values and ``--now``."""
    accepted = option_names(pivots, name)
    by_lower = {key.lower(): key for key in accepted}
    params: dict[str, str] = {}
    for key, value in given.items():
        if key.lower() not in by_lower:
            raise UserError(f"unknown parameter {key!r} for {name} (it takes: {', '.join(accepted)})")
        params[by_lower[key.lower()]] = value
    params["alert_time"] = (
        parse_alert_time(params["alert_time"]) if "alert_time" in params else panther_time(now, "seconds")
    )
    for key in pivots.PIVOTS[name]["values"]:
        if not params.get(key, "").strip():
            raise UserError(f"{name} needs --param {key}=<value> (the principal to investigate)")
    option = pivots.PIVOTS[name]["window"][0]
    try:
        pivots.window_size(name, params)
    except ValueError as err:
        raise UserError(f"--param {option}: {err}") from None
    return params


def render(pivots: ModuleType, name: str, params: dict) -> dict:
    """``{"sql", "pantherflow"}`` of pivot ``name``; UserError for a bad parameter value."""
    try:
        return pivots.render_pivot(name, params)
    except KeyError as err:
        raise UserError(f"{name}: missing parameter {err.args[0]}") from None
    except ValueError as err:
        raise UserError(f"{name}: {err}") from None


def run_pivot(
    lake, pivots: ModuleType, name: str, params: dict, now: datetime, *, language: str = "sql"
) -> list[dict]:
    """Rows of pivot ``name`` rendered with ``params``, run on ``lake`` in ``language``."""
    rendered = render(pivots, name, params)
    if language == "pantherflow":
        from tracebit_pack.query.pantherflow_sql import run_pantherflow

        return run_pantherflow(lake, rendered["pantherflow"], now)
    return lake.run(rendered["sql"], now=now)
