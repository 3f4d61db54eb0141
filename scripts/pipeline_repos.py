"""Small real repositories (git + DVC + MLflow in a temp dir) for the tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# A small, fast model for test repositories (learning rate, columns and L2 as they were before the
# regularised params.yaml, so 30 trees still learn).
SMALL_TRAIN = {
    "n_estimators": 30,
    "max_depth": 4,
    "learning_rate": 0.1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}


def run(
    cmd: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def repo_env(repo: Path) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def edit_params(repo: Path, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Merge `{section: {key: value}}` into repo/params.yaml."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in changes.items():
        target = params.setdefault(section, {})
        for k, v in values.items():
            target[k] = v
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def make_pipeline_repo(
    dest: Path,
    months: Sequence[str] = ("2013-01", "2013-02"),
    train: Mapping[str, Any] | None = None,
) -> Path:
    """A fresh git + DVC repo with this project's pipeline, a local remote and `months` tracked."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(REPO_ROOT / name, dest / name)
    shutil.copytree(
        REPO_ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    env = repo_env(dest)
    run(["git", "init", "-q", "-b", "main"], dest, env)
    run(["dvc", "init", "-q"], dest, env)
    run(["dvc", "config", "core.autostage", "true"], dest, env)
    run(["dvc", "remote", "add", "--local", "-d", "local", str(dest / ".dvcstore")], dest, env)
    edit_params(
        dest,
        {
            "data": {"window": {"start": months[0], "end": months[-1]}},
            "train": {**SMALL_TRAIN, **(train or {})},
            "backtest": {"min_train_months": 1},  # a short window still backtests its last month(s)
        },
    )
    run(["flightdelay", "data", "add", *months], dest, env)
    run(["git", "add", "-A"], dest, env)
    run(["git", "commit", "-qm", "base: data and pipeline"], dest, env)
    return dest


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 40) -> Any:
    """`probe()`'s first truthy answer, polled every 0.25 s; fails naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.25)
