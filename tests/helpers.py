"""Builders shared by the tests: small real repositories (scripts/pipeline_repos.py, which the
benchmarks use too), and the command line called in this process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_repos import REPO_ROOT, SMALL_TRAIN, edit_params, make_pipeline_repo, repo_env, run, wait_for

__all__ = [
    "REPO_ROOT",
    "SMALL_TRAIN",
    "Result",
    "edit_params",
    "flightdelay",
    "gh_lookup",
    "make_pipeline_repo",
    "repo_env",
    "run",
    "run_step",
    "wait_for",
    "workflow_step",
]


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def flightdelay(repo: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> Result:
    """`flightdelay <args>` in `repo` with `repo_env(repo)` and `env`, in this process: a new
    interpreter would import MLflow, pandas and scikit-learn again (seconds of CPU per call), which
    the suite has imported once. Tests about the process boundary (a kill, a signal, a clean
    environment) start a process instead."""
    from flightdelay.cli import main  # not at import: the serving-only tests import this module

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update({**repo_env(repo), **(env or {})})
    try:
        with contextlib.chdir(repo), redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result = Result(code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(
            f"flightdelay {' '.join(args)} failed ({code}):\n{result.stdout}\n{result.stderr}"
        )
    return result


# GitHub's command for a `run:` step with `shell: bash`, which every workflow sets
# (`defaults.run.shell`, tests/workflows/test_first_use.py): the step scripts run as a runner runs them.
STEP_SHELL = ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c")


def executable(path: Path, text: str) -> Path:
    """A script (a recorder standing in for `gh` or the job's tools) at `path`, ready to run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def gh_lookup(state: str, found: str, *, message: str = "Not Found", silent: bool = True) -> str:
    """The arm of a `gh` recorder's `case "$*"` that answers one REST lookup, by the shell
    variable `state`: `found` runs the given shell (prints the object, or nothing under
    `--silent`); `missing`, `forbidden` and `down` fail as gh does on GitHub's 404 (`message`), a
    token without the scope (403) and an outage (502), the message on stderr and, without
    `--silent`, GitHub's error body on stdout."""
    arms = {
        "missing": (message, 404),
        "forbidden": ("Resource not accessible by integration", 403),
        "down": ("Server Error", 502),
    }
    lines = [f'    case "${state}" in', f"      found) {found} ;;"]
    for name, (text, status) in arms.items():
        body = "" if silent else f'echo \'{{"message": "{text}"}}\'; '
        lines.append(f'      {name}) {body}echo "gh: {text} (HTTP {status})" >&2; exit 1 ;;')
    return "\n".join([*lines, "    esac ;;"])


def run_step(
    script: str, *, cwd: Path, bin_dir: Path, env: Mapping[str, str], inherit: bool = True
) -> subprocess.CompletedProcess[str]:
    """A step's `run:` script as a runner runs it (`STEP_SHELL`), in `cwd`, with the recorders of
    `bin_dir` first on PATH and `env` set (over this process's environment, unless not `inherit`);
    its exit code is the caller's to check."""
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    full = {**(os.environ if inherit else {}), "PATH": path, **env}
    return subprocess.run(
        [*STEP_SHELL, script], check=False, env=full, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def workflow_step(file: str, job: str, step: str) -> dict[str, Any]:
    """The step named (or with the id) `step` of `job` in .github/workflows/`file`, as GitHub reads it."""
    import yaml  # not at import: the serving-only tests import this module

    doc = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / file).read_text())
    return dict(next(s for s in doc["jobs"][job]["steps"] if step in (s.get("name"), s.get("id"))))
