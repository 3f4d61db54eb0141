"""Fault injection for tests: `FLIGHTDELAY_FAULT=<scope>:<point>[:<action>]` makes the process
fail at that named point, so a test can stop a multi-step operation (a release) at every step.

Actions: `kill` (SIGKILL itself, the default: nothing runs after it, as with a killed CI job),
`term` / `int` (SIGTERM / SIGINT itself: the process's own handlers run), `error` (raise a
transient RegistryError, as one failed registry call would). Several faults are separated by
commas. Unset in production: `point` then only reads one environment variable.
"""

from __future__ import annotations

import os
import signal

from flightdelay.core.errors import RegistryError

ENV = "FLIGHTDELAY_FAULT"
ACTIONS = ("kill", "term", "int", "error")


def _wanted(scope: str, point: str) -> str | None:
    for item in os.environ.get(ENV, "").split(","):
        parts = item.strip().split(":")
        if len(parts) >= 2 and parts[0] == scope and parts[1] == point:
            action = parts[2] if len(parts) > 2 else "kill"
            if action not in ACTIONS:
                raise ValueError(f"{ENV}: unknown action {action!r} (one of {', '.join(ACTIONS)})")
            return action
    return None


def point(scope: str, name: str) -> None:
    """Fail here when FLIGHTDELAY_FAULT names `scope:name`."""
    action = _wanted(scope, name)
    if action is None:
        return
    if action == "error":
        raise RegistryError(
            f"injected fault at {scope}:{name} (a registry call failed)",
            hint=f"unset {ENV} and re-run",
        )
    sig = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}[action]
    os.kill(os.getpid(), sig)  # a Python handler runs right after this call returns
