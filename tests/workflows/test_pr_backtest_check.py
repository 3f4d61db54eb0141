"""pr.yml computes the backtest again when a pull request changes its committed report: the gate
decides on that report, so one that the PR's own pipeline does not reproduce (an edited mean,
with dvc.lock edited to match) must fail the lock check, not pass the gate. The step's script is
run as pr.yml holds it, in a pipeline repository."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.helpers import STEP_SHELL, flightdelay, repo_env, run, workflow_step

pytestmark = pytest.mark.slow
STEP = "backtest (re-run when the PR changes its report)"
REPORT = "reports/backtest.json"


def step_script() -> str:
    return str(workflow_step("pr.yml", "gate", STEP)["run"])


def forge_report(repo: Path) -> None:
    """A better backtest mean than the pipeline computes, and dvc.lock agreeing with it."""
    path = repo / REPORT
    old = path.read_bytes()
    data = json.loads(old)
    data["summary"]["mean_roc_auc"] = 0.99
    path.write_text(json.dumps(data, indent=2) + "\n")
    lock = repo / "dvc.lock"
    text = lock.read_text()
    old_md5 = hashlib.md5(old).hexdigest()  # noqa: S324 - DVC's content hash
    assert old_md5 in text, "dvc.lock does not record the report's md5: the forgery would not agree"
    new = path.read_bytes()
    text = text.replace(old_md5, hashlib.md5(new).hexdigest())  # noqa: S324
    lock.write_text(text.replace(f"size: {len(old)}\n", f"size: {len(new)}\n"))


def step(repo: Path, base: str) -> str:
    env = {**repo_env(repo), "BASE_SHA": base}  # `run` puts this environment's dvc on PATH
    return run([*STEP_SHELL, step_script()], repo, env).stdout


def test_a_report_the_pipeline_does_not_reproduce_fails_the_lock_check(pipeline_repo: Path) -> None:
    env = repo_env(pipeline_repo)
    base = run(["git", "rev-parse", "HEAD"], pipeline_repo, env).stdout.strip()
    forge_report(pipeline_repo)
    run(["git", "commit", "-qam", "a better backtest"], pipeline_repo, env)
    assert run(["dvc", "status", "backtest", "--json"], pipeline_repo, env).stdout.strip() in ("", "{}"), (
        "DVC already sees the forged report: the step would not be needed"
    )
    step(pipeline_repo, base)
    assert json.loads((pipeline_repo / REPORT).read_text())["summary"]["mean_roc_auc"] != 0.99
    check = flightdelay(pipeline_repo, "lock", "check", check=False)
    assert check.returncode != 0, check.stdout + check.stderr
    assert "backtest" in check.stdout + check.stderr


def test_an_unchanged_report_is_not_computed_again(pipeline_repo: Path) -> None:
    env = repo_env(pipeline_repo)
    base = run(["git", "rev-parse", "HEAD"], pipeline_repo, env).stdout.strip()
    (pipeline_repo / "README.md").write_text("a change elsewhere\n")
    run(["git", "add", "-A"], pipeline_repo, env)
    run(["git", "commit", "-qm", "docs"], pipeline_repo, env)
    assert "not re-run" in step(pipeline_repo, base)
