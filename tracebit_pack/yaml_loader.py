"""The YAML loader every part of the pack uses: libyaml's safe loader when PyYAML was built with it.

The pure-Python ``yaml.safe_load`` spends about a second on the log schemas and the pack's items
at each start; libyaml's ``CSafeLoader`` builds the same objects several times faster.
"""

from __future__ import annotations

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream):  # noqa: ANN001, ANN201 - what yaml.safe_load takes and returns
    """``yaml.safe_load`` with ``SAFE_LOADER``."""
    return yaml.load(stream, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
