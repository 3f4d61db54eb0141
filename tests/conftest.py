"""Shared fixtures: a small real pipeline repository, built once per session and copied per test."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import make_pipeline_repo, repo_env, run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first, so that the xdist workers (a module stays on one) do not end
    on one long module while the other idles; the rehearsal's assertions last: under `make test`
    they wait for the background rehearsal. The order inside a module is kept."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.path.name == "test_rehearsal.py", item.path not in slow))


def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's temp root, shared by every pytest-xdist worker of the run (each worker's own
    base temp is a child of it); without xdist, the session's own base temp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Jan–Feb 2013 repo after a full `dvc repro` (read-only: copy it with `pipeline_repo`).
    Built once per run: the first xdist worker that needs it builds it, the others wait for it."""
    root = shared_tmp(tmp_path_factory) / "built"
    root.mkdir(exist_ok=True)
    repo, done = root / "repo", root / "done"
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(repo, ignore_errors=True)  # a worker that failed half-way
            make_pipeline_repo(repo)
            run(["dvc", "repro", "--quiet"], repo, repo_env(repo))
            run(["git", "add", "-A"], repo, repo_env(repo))
            run(["git", "commit", "-qm", "train on 2013-01..2013-02"], repo, repo_env(repo))
            done.touch()
    return repo


@pytest.fixture
def pipeline_repo(built_repo: Path, tmp_path: Path) -> Path:
    """A private copy of `built_repo` that a test may change."""
    dest = tmp_path / "repo"
    shutil.copytree(built_repo, dest, symlinks=True)
    # The copied DVC remote path must point inside the copy.
    run(
        ["dvc", "remote", "modify", "--local", "local", "url", str(dest / ".dvcstore")],
        dest,
        repo_env(dest),
    )
    return dest
