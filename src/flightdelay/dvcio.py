"""DVC adapter: the one module that talks to DVC (CLI for commands, YAML for .dvc/lock files)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from flightdelay.errors import ToolError

REMOTE_ENV = "DVC_REMOTE_URL"


def run(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `dvc <args>`; on failure raise ToolError with DVC's own message."""
    proc = subprocess.run(
        ["dvc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise ToolError(
            f"`dvc {' '.join(args)}` failed: {' '.join(msg[-3:]) if msg else 'no output'}",
            hint="run the same command by hand for the full output",
        )
    return proc


def read_dvc_file(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {}
    return data if isinstance(data, dict) else {}


def out_md5(dvc_file: Path) -> str | None:
    """The md5 DVC recorded for the single output of a `.dvc` file."""
    outs = read_dvc_file(dvc_file).get("outs") or []
    return str(outs[0]["md5"]) if outs and "md5" in outs[0] else None


def lock_outs(lock: Path = Path("dvc.lock")) -> dict[str, str]:
    """path → md5 of every stage output recorded in dvc.lock."""
    return parse_lock_outs(lock.read_text()) if lock.exists() else {}


def parse_lock_outs(lock_text: str | None) -> dict[str, str]:
    """path → md5 of every stage output in the text of a dvc.lock (e.g. from `git show`)."""
    data = yaml.safe_load(lock_text or "") or {}
    out: dict[str, str] = {}
    for stage in (data.get("stages") or {}).values():
        for o in stage.get("outs") or []:
            if "md5" in o:
                out[str(o["path"])] = str(o["md5"])
    return out


def dirty(targets: list[str], cwd: Path | None = None) -> set[str]:
    """The targets (.dvc files) whose workspace or cache disagrees with the recorded hash."""
    if not targets:
        return set()
    proc = run("status", "--json", *targets, cwd=cwd)
    text = proc.stdout.strip()
    data = json.loads(text) if text else {}
    return {t for t in targets if t in data or Path(t).as_posix() in data}


def is_clean(targets: list[str], cwd: Path | None = None) -> bool:
    """True when the workspace matches the given .dvc files (`dvc status` prints nothing to do)."""
    return not dirty(targets, cwd)


def configure_remote_from_env(cwd: Path | None = None) -> str | None:
    """Point the default remote at $DVC_REMOTE_URL in .dvc/config.local (untracked)."""
    url = os.environ.get(REMOTE_ENV, "").strip()
    if not url:
        return None
    run("remote", "add", "--local", "--force", "--default", "env", url, cwd=cwd)
    return url
