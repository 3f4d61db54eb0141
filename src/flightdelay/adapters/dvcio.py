"""DVC adapter: the one module that talks to DVC (CLI for commands, YAML for .dvc/lock files)."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flightdelay.adapters import tools
from flightdelay.core import redact
from flightdelay.core.errors import ToolError
from flightdelay.core.progress import say

REMOTE_ENV = "DVC_REMOTE_URL"
QUIET = {"DVC_NO_ANALYTICS": "1"}


def run(
    *args: str, cwd: Path | None = None, check: bool = True, stream: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `dvc <args>`; on failure raise ToolError with DVC's own message.

    With `stream`, DVC's output goes to stderr line by line as it comes (progress of a long
    `dvc repro`), and only its tail is kept for the error message."""
    proc = _streamed(args, cwd) if stream else tools.run("dvc", args, cwd=cwd, env=QUIET)
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise ToolError(
            redact.text(f"`dvc {' '.join(args)}` failed: {' '.join(msg[-3:]) if msg else 'no output'}"),
            hint="run the same command by hand for the full output",
        )
    return proc


def _streamed(args: tuple[str, ...], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    cmd = [tools.find("dvc"), *args]
    tail: deque[str] = deque(maxlen=20)
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=tools.child_env(QUIET),
    ) as proc:
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE above
        for line in proc.stdout:
            say("  " + line.rstrip("\n"))
            tail.append(line)
    return subprocess.CompletedProcess(cmd, proc.returncode, "", "".join(tail))


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


def configure_remote_from_env(cwd: Path | None = None) -> str | None:
    """Point the default remote at $DVC_REMOTE_URL in .dvc/config.local (untracked)."""
    url = os.environ.get(REMOTE_ENV, "").strip()
    if not url:
        return None
    run("remote", "add", "--local", "--force", "--default", "env", url, cwd=cwd)
    return url


def has_default_remote(cwd: Path | None = None) -> bool:
    """Whether the project's DVC config names a default remote (core.remote in .dvc/config or
    .dvc/config.local), read without starting DVC; True when the files cannot be read."""
    folder = (cwd or Path()) / ".dvc"
    found = False
    for name in ("config", "config.local"):
        cfg = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            cfg.read(folder / name)
        except configparser.Error:
            return True
        if cfg.has_option("core", "remote"):
            found = bool(cfg.get("core", "remote").strip())
    return found


def default_remote(cwd: Path | None = None) -> str | None:
    """The name of the default DVC remote, or None when none is configured."""
    proc = run("remote", "default", cwd=cwd, check=False)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None


# `dvc status` states that mean "not in the workspace", as opposed to "differs from dvc.lock";
# "not in cache" means the workspace holds what the lock records but DVC's cache lacks a copy.
ABSENT = frozenset({"deleted"})
UNCACHED = "not in cache"


@dataclass(frozen=True)
class PipelineStatus:
    """`dvc status` split in two: what differs from dvc.lock (the lock is stale, or the
    workspace was edited) and what is merely absent (not pulled, not built here)."""

    changed: dict[str, list[str]] = field(default_factory=dict)  # stage → "what: state"
    missing: dict[str, list[str]] = field(default_factory=dict)  # stage → absent paths

    @property
    def clean(self) -> bool:
        return not self.changed and not self.missing


def parse_status(data: dict[str, Any]) -> PipelineStatus:
    """Classify `dvc status --json` output (pure)."""
    changed: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for stage, entries in data.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, str):  # "changed command", "always changed", …
                changed.setdefault(stage, []).append(entry)
                continue
            for kind, items in entry.items():
                what = "out" if "out" in kind else "dep"
                for path, state in (items or {}).items():
                    if isinstance(state, dict):  # params file → {param: state}
                        for param, st in state.items():
                            changed.setdefault(stage, []).append(f"param {path}:{param} {st}")
                    elif state in ABSENT:
                        missing.setdefault(stage, []).append(path)
                    elif state == UNCACHED:
                        continue
                    else:
                        changed.setdefault(stage, []).append(f"{what} {path} {state}")
    return PipelineStatus(changed, missing)


def pipeline_status(cwd: Path | None = None) -> PipelineStatus:
    """`dvc status` of every stage and .dvc file, classified."""
    text = run("status", "--json", cwd=cwd).stdout.strip()
    return parse_status(json.loads(text) if text else {})
