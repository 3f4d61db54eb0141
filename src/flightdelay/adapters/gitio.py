"""Git adapter: the few git facts the pipeline records (SHA, dirty state, branch)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from flightdelay.adapters import tools
from flightdelay.core.errors import ToolError


def git_proc(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """`git <args>` with its exit code (for callers that branch on it)."""
    return tools.run("git", args, cwd=cwd)


def git(*args: str, cwd: str | Path | None = None, check: bool = True) -> str:
    proc = git_proc(*args, cwd=cwd)
    if check and proc.returncode != 0:
        raise ToolError(f"`git {' '.join(args)}` failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def head_sha(cwd: str | Path | None = None) -> str:
    """HEAD's SHA, or 'unknown' outside a git checkout (e.g. inside an image without git)."""
    try:
        return git("rev-parse", "HEAD", cwd=cwd)
    except ToolError:
        return "unknown"


def is_dirty(cwd: str | Path | None = None) -> bool:
    try:
        return bool(git("status", "--porcelain", "--untracked-files=no", cwd=cwd))
    except ToolError:
        return False
