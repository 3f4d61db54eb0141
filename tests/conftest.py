"""Shared fixtures: a small real pipeline repository, built once per session and copied per test."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import make_pipeline_repo, repo_env, run

# The longest modules (a module stays on one xdist worker), longest first: started first, they do
# not leave one worker finishing alone at the end. Measured in `make test` (seconds per module).
LONGEST_FIRST = (
    "tests/lifecycle/release/test_resumable.py",  # ≈ 190
    "tests/workflows/test_intake.py",  # ≈ 120: a real workflow run under act
    "tests/lifecycle/release/test_handoff.py",  # ≈ 130
    "tests/integration/test_pipeline.py",  # ≈ 120
    "tests/lifecycle/drift/test_cli_and_retrain.py",  # ≈ 90
    "tests/lifecycle/report/test_pr_report.py",  # ≈ 80
    "tests/lifecycle/release/test_champion_sources.py",  # ≈ 70
    "tests/integration/test_import.py",  # ≈ 70
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, then the other modules with slow tests, then the rest; the
    rehearsal's assertions last (under `make test` they wait for the background rehearsal). The
    order inside a module is kept."""
    root = Path(__file__).resolve().parent.parent
    slow = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> tuple[bool, int]:
        rel = item.path.resolve().relative_to(root).as_posix()
        if rel in LONGEST_FIRST:
            return item.path.name == "test_rehearsal.py", LONGEST_FIRST.index(rel)
        return item.path.name == "test_rehearsal.py", len(LONGEST_FIRST) + (item.path not in slow)

    items.sort(key=rank)


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
