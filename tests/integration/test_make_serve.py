"""`make serve` on a tree that has only what a clone has (no data, no pipeline outputs): it restores
the data, builds the bundle and answers /readyz 200. The pipeline's outputs come from the DVC cache
of an earlier run (`dvc repro` restores a stage it has run before instead of training again), which
keeps this test to seconds; on a real fresh clone the same commands train."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.server import free_port
from tests.helpers import REPO_ROOT, repo_env

pytestmark = pytest.mark.slow


def as_a_clone(repo: Path) -> Path:
    """The pipeline repository with this project's Makefile and service, and without the workspace
    copies of its data and outputs. The environment is this checkout's (`make setup` is not
    re-run: `-o` below), so nothing is installed."""
    shutil.copy2(REPO_ROOT / "Makefile", repo / "Makefile")
    shutil.copytree(REPO_ROOT / "api", repo / "api", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".venv").symlink_to(REPO_ROOT / ".venv")
    for out in ("models", "data/prepared", "data/features", "data/reference"):
        shutil.rmtree(repo / out, ignore_errors=True)
    for part in (repo / "data/raw").iterdir():
        if part.is_dir():
            shutil.rmtree(part)
    return repo


def make(repo: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "MODEL_CONTROL_FILE")}
    env |= repo_env(repo)
    return subprocess.Popen(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "serve", "WORKERS=2", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return int(r.status) == 200
    except OSError:
        return False


def test_make_serve_on_a_clone_builds_the_bundle_and_becomes_ready(pipeline_repo: Path) -> None:
    repo = as_a_clone(pipeline_repo)
    port = free_port()
    proc = make(repo, f"PORT={port}")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None and not ready(port):
            time.sleep(0.5)
        assert ready(port), f"not ready (exit {proc.poll()})"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert "serve: no model bundle in models/bundle yet" in out, out
    assert (repo / "models/bundle/metadata.json").exists()

    # With a bundle that does not exist, gunicorn's master says so once and make fails.
    broken = make(repo, f"PORT={free_port()}", "MODEL_DIR=models/elsewhere")
    out, _ = broken.communicate(timeout=120)
    assert broken.returncode != 0
    assert out.count("not serving") == 1, out
    assert "Traceback" not in out
    assert "no model bundle at models/elsewhere (MODEL_DIR) — next:" in out, out
