"""Shared pytest set-up: make global helpers importable under their GlobalID, as Panther does."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GLOBAL_HELPERS = REPO_ROOT / "global_helpers"
if str(GLOBAL_HELPERS) not in sys.path:
    sys.path.insert(0, str(GLOBAL_HELPERS))
