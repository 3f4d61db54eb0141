"""The external programs the CLI runs (dvc, git): found next to the running Python, then on PATH.

`.venv/bin/flightdelay` may be started with a PATH that lacks `.venv/bin` (a workflow step, cron,
an IDE); the tools installed with the package live next to `sys.executable` all the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from flightdelay.core.errors import ToolError

# How to get each tool when it is missing.
INSTALL = {
    "dvc": "run `make setup` (it installs dvc into .venv), or `pip install -r requirements.txt`",
    "git": "install git (e.g. `apt-get install git`)",
}


def bin_dir() -> Path:
    """The directory of the running interpreter (`.venv/bin`); not resolved, so a venv's
    symlinked python still names the venv."""
    return Path(sys.executable).parent


def find(name: str) -> str:
    """The path of `name`: next to the running Python first, then on PATH."""
    local = bin_dir() / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise ToolError(
        f"`{name}` is not installed: not in {bin_dir()} and not on PATH",
        hint=INSTALL.get(name, f"install {name}"),
    )


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a tool: PATH starts with the interpreter's directory, so that what
    the tool runs in turn (`dvc repro` → `python -m flightdelay`) is this installation too."""
    path = os.environ.get("PATH", "")
    first = str(bin_dir())
    parts = [first, *(p for p in path.split(os.pathsep) if p and p != first)]
    return {**os.environ, "PATH": os.pathsep.join(parts), **(extra or {})}


def run(
    name: str,
    args: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `name args…` (output captured, never raises on a non-zero exit)."""
    return subprocess.run(
        [find(name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=child_env(env),
    )
