"""The workflow policy checker lives beside the other checkers in scripts/."""

from __future__ import annotations

import sys

from tests.helpers import REPO_ROOT

SCRIPTS = str(REPO_ROOT / "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)
