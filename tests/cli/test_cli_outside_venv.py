"""Every `flightdelay` subcommand, started as `env PATH=/usr/bin:/bin .venv/bin/flightdelay …` (how
a workflow step or cron may run it), finds its own tools and fails with one error line, never a
traceback."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flightdelay.cli import build_parser
from tests.helpers import REPO_ROOT, repo_env

pytestmark = pytest.mark.slow  # ~25 interpreter starts (each imports the whole CLI)
FLIGHTDELAY = Path(sys.executable).parent / "flightdelay"

# One cheap invocation per subcommand that must fail, in a git repository with params.yaml but no
# DVC, no data and no model, against a registry nobody listens on.
FAILING: dict[str, list[str]] = {
    "data add": ["data", "add", "2013-07"],  # runs dvc: found, and it refuses (no DVC repo)
    "data restore": ["data", "restore"],
    "data list": ["--params", "missing.yaml", "data", "list"],
    "prepare": ["prepare"],
    "validate": ["validate"],
    "featurize": ["featurize"],
    "train": ["train"],
    "evaluate": ["evaluate"],
    "bundle": ["bundle"],
    "gate": ["gate", "--base", "HEAD"],
    "report pr": ["report", "pr", "--base", "HEAD"],
    "release": ["release"],
    "release bump": ["release", "bump", "--env", "staging"],
    "release rollback": ["release", "rollback"],
    "release verify": ["release", "verify"],
    "release record": ["release", "record", "--env", "staging"],
    "release history": ["release", "history"],
    "release champion": ["release", "champion"],
    "drift check": ["drift", "check", "--months", "2013-07"],
    "drift issue-action": ["drift", "issue-action", "--summary", "missing.json", "--existing", "x.json"],
    "drift next-month": ["--params", "missing.yaml", "drift", "next-month"],
    "retrain prepare": ["retrain", "prepare", "--months", "2013-07"],
    "lock check": ["lock", "check"],
    "backtest": ["backtest"],
    "tune": ["tune", "--no-mlflow"],
    "monitor outcomes": ["monitor", "outcomes", "--log", "missing.jsonl", "--outcomes", "2013-07"],
    "intake plan": ["intake", "plan", "--landing", "missing-landing"],
    "intake prepare": ["intake", "prepare", "--month", "2013-07", "--from", "missing", "--body-out", "b.md"],
}


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every runnable command path (a parent whose subcommand is optional counts too)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [" ".join(prefix)]
    out = [] if subs[0].required or not prefix else [" ".join(prefix)]
    for name, child in subs[0].choices.items():
        out += commands(child, (*prefix, name))
    return out


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def bare_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("bare") / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "params.yaml", repo / "params.yaml")
    env = {**os.environ, **repo_env(repo)}
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "params.yaml"],
        ["git", "commit", "-qm", "p"],
    ):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
    return repo


# Every `--help` in one interpreter started like the console script (same PATH, same entry point):
# a process per help page would double this test's time for no extra coverage.
HELP_DRIVER = """
import contextlib, sys
from flightdelay.cli import main
for line in sys.stdin.read().splitlines():
    print("=== " + line, flush=True)
    with contextlib.suppress(SystemExit):
        main([*line.split(), "--help"])
"""


def run_bare(repo: Path, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo.parent),
        **{k: v for k, v in repo_env(repo).items() if k != "MLFLOW_TRACKING_URI"},
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{closed_port()}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
    }
    exe = [str(FLIGHTDELAY)] if stdin is None else [sys.executable, "-c", HELP_DRIVER]
    return subprocess.run(
        [*exe, *args],
        check=False,
        cwd=repo,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_subcommand_has_a_failing_case() -> None:
    parser, _ = build_parser()
    assert sorted(commands(parser)) == sorted(FAILING)


def test_every_help_page_renders_outside_the_venv_path(bare_repo: Path) -> None:
    proc = run_bare(bare_repo, [], stdin="\n".join(["", *FAILING]))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    pages = proc.stdout.split("=== ")[1:]
    assert len(pages) == len(FAILING) + 1
    assert all("usage: flightdelay" in page for page in pages)


def test_no_subcommand_prints_a_traceback_outside_the_venv_path(bare_repo: Path) -> None:
    assert FLIGHTDELAY.is_file(), "the console script is installed next to the interpreter"
    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = pool.map(lambda args: run_bare(bare_repo, args), FAILING.values())
        results = dict(zip(FAILING, procs, strict=True))
    problems = []
    for name, proc in results.items():
        shown = f"`env PATH=/usr/bin:/bin flightdelay {' '.join(FAILING[name])}`"
        text = proc.stdout + proc.stderr
        if "Traceback" in text:
            problems.append(f"{shown} printed a traceback:\n{text[-1500:]}")
        elif proc.returncode == 0 or "error:" not in proc.stderr:
            problems.append(f"{shown} did not fail with an error line ({proc.returncode}):\n{text[-500:]}")
    assert not problems, "\n\n".join(problems)
    # dvc was found next to the interpreter and ran (it refused: this is no DVC repository) …
    assert "not installed" not in results["data add"].stderr
    assert "`dvc add" in results["data add"].stderr
    # … and an unreachable registry is an error, not "nothing released".
    assert results["release verify"].returncode == 7
    assert "unreachable" in results["release verify"].stderr
