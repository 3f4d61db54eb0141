"""Stand-ins for the pinned third-party actions: the table act's flags come from, and the workflow check.

The stand-in folders are rehearsal/actions/<owner>/<name>/<sha>/; their code is the modules of this package,
which run on the host's bare python3 (standard library only).
"""

from __future__ import annotations

from rehearsal.standins.catalog import (
    ENVIRONMENT,
    STANDINS,
    Standin,
    act_env_flags,
    find,
    local_repository_flags,
    runtime_env,
)
from rehearsal.standins.lint import check_workflow

__all__ = [
    "ENVIRONMENT",
    "STANDINS",
    "Standin",
    "act_env_flags",
    "check_workflow",
    "find",
    "local_repository_flags",
    "runtime_env",
]
