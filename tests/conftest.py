"""Shared fixtures: a small real pipeline repository, built once per session and copied per test."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import flightdelay, make_pipeline_repo, repo_env, run

# The longest modules (a module stays on one xdist worker), longest first: started first, they do
# not leave one worker finishing alone at the end (seconds per module on a loaded 2-core machine).
# The modules on `retrained_repo` come after test_handoff, which builds it: they find it built.
LONGEST_FIRST = (
    "tests/lifecycle/release/test_resumable.py",  # ≈ 170
    "tests/workflows/test_intake.py",  # ≈ 140: a real workflow run under act
    "tests/integration/test_import.py",  # ≈ 90
    "tests/lifecycle/release/test_handoff.py",  # ≈ 80, building `retrained_repo` (≈ 35)
    "tests/integration/test_pipeline.py",  # ≈ 70
    "tests/lifecycle/release/test_champion_sources.py",  # ≈ 70
    "tests/lifecycle/report/test_pr_report.py",  # ≈ 55
    "tests/lifecycle/drift/test_cli_and_retrain.py",  # ≈ 15
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


def built_once(root: Path, build: Callable[[Path], None]) -> Path:
    """`build(root / "repo")` once per run: the first pytest-xdist worker that needs it builds it,
    the others wait for it."""
    root.mkdir(exist_ok=True)
    repo, done = root / "repo", root / "done"
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(repo, ignore_errors=True)  # a worker that failed half-way
            build(repo)
            done.touch()
    return repo


def private_copy(src: Path, dest: Path) -> Path:
    """A copy of a shared repository that a test may change."""
    shutil.copytree(src, dest, symlinks=True)
    # The copied DVC remote path must point inside the copy.
    run(
        ["dvc", "remote", "modify", "--local", "local", "url", str(dest / ".dvcstore")],
        dest,
        repo_env(dest),
    )
    return dest


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Jan–Feb 2013 repo after a full `dvc repro` (read-only: copy it with `pipeline_repo`)."""

    def build(repo: Path) -> None:
        make_pipeline_repo(repo)
        run(["dvc", "repro", "--quiet"], repo, repo_env(repo))
        run(["git", "add", "-A"], repo, repo_env(repo))
        run(["git", "commit", "-qm", "train on 2013-01..2013-02"], repo, repo_env(repo))

    return built_once(shared_tmp(tmp_path_factory) / "built", build)


@pytest.fixture(scope="session")
def retrained_repo(built_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`built_repo` plus the branch retrain/2013-03 exactly as `flightdelay retrain prepare --months
    next` commits it (linked to drift evidence and issue #12: one `dvc repro` of three months that
    the retraining, release and PR-report tests share), the workspace back on main. Read-only: copy
    it with `retrained_pipeline_repo`. `prepared.json` beside it: what the command printed and
    where it left the repository."""

    def build(repo: Path) -> None:
        # here, not at import: the serving-only environment (no pandas) loads this file too
        from flightdelay.lifecycle.drift import schema
        from tests.lifecycle.drift.summaries import drift_summary

        private_copy(built_repo, repo)
        evidence = repo / "reports/drift/summary.json"
        evidence.parent.mkdir(parents=True)
        checked = drift_summary(checked_at="2026-01-02T00:00:00+00:00")
        share = checked.data_drift.model_copy(update={"share": 0.42})
        schema.write(evidence, checked.model_copy(update={"data_drift": share}))
        prepare = ("retrain", "prepare", "--months", "next", "--evidence", str(evidence), "--issue", "12")
        res = flightdelay(repo, *prepare, check=False)
        git = ["git", "-C", str(repo)]
        facts = {
            "returncode": res.returncode,
            "stdout": res.stdout,
            "stderr": res.stderr,
            "head": run([*git, "rev-parse", "--abbrev-ref", "HEAD"], repo).stdout.strip(),
            "status": run([*git, "status", "--porcelain", "--untracked-files=no"], repo).stdout.strip(),
        }
        (repo.parent / "prepared.json").write_text(json.dumps(facts))
        # main's workspace again, as `built_repo` has it
        run([*git, "switch", "-q", "main"], repo)
        shutil.rmtree(repo / "data/raw/2013-03", ignore_errors=True)
        run(["dvc", "checkout", "--quiet"], repo, repo_env(repo))

    return built_once(shared_tmp(tmp_path_factory) / "retrained", build)


@pytest.fixture
def pipeline_repo(built_repo: Path, tmp_path: Path) -> Path:
    """A private copy of `built_repo` that a test may change."""
    return private_copy(built_repo, tmp_path / "repo")


@pytest.fixture
def retrained_pipeline_repo(retrained_repo: Path, tmp_path: Path) -> Path:
    """A private copy of `retrained_repo` (on main, with branch retrain/2013-03)."""
    return private_copy(retrained_repo, tmp_path / "repo")
