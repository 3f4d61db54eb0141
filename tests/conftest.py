"""Shared fixtures: a small real pipeline repository, built once per session and copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import make_pipeline_repo, repo_env, run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The rehearsal's assertions last: under `make test` they wait for the background rehearsal."""
    items.sort(key=lambda item: item.path.name == "test_rehearsal.py")


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Jan–Feb 2013 repo after a full `dvc repro` (read-only: copy it with `pipeline_repo`)."""
    repo = make_pipeline_repo(tmp_path_factory.mktemp("built") / "repo")
    run(["dvc", "repro", "--quiet"], repo, repo_env(repo))
    run(["git", "add", "-A"], repo, repo_env(repo))
    run(["git", "commit", "-qm", "train on 2013-01..2013-02"], repo, repo_env(repo))
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
