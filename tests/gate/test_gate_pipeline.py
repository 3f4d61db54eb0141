"""The gate on a real PR in a temporary git + DVC repo: a degraded model must not ship."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flightdelay.errors import GateFailed
from tests.helpers import edit_params, repo_env, run

pytestmark = pytest.mark.slow


def test_a_pr_that_degrades_the_model_fails_the_gate_with_a_readable_reason(
    pipeline_repo: Path,
) -> None:
    env = repo_env(pipeline_repo)
    run(["git", "checkout", "-qb", "degrade"], pipeline_repo, env)
    edit_params(pipeline_repo, {"train": {"max_depth": 1, "n_estimators": 2}})
    run(["dvc", "repro", "--quiet"], pipeline_repo, env)
    run(["git", "commit", "-qam", "shallower trees"], pipeline_repo, env)

    proc = run(["flightdelay", "gate", "--base", "main", "--no-champion"], pipeline_repo, env,
               check=False)

    assert proc.returncode == GateFailed.exit_code, proc.stderr
    assert "the candidate must not ship" in proc.stderr
    assert "is worse than the base" in proc.stderr  # says which comparison failed …
    assert "roc_auc" in proc.stderr  # … on which metric
    assert "FAIL" in proc.stdout  # the verdict table
    assert "no champion released yet" in proc.stdout
    verdict = json.loads((pipeline_repo / "reports/pr/gate.json").read_text())
    assert verdict["passed"] is False
    assert verdict["champion"] is None
    failed = {(c["against"], c["metric"]) for c in verdict["checks"] if not c["passed"]}
    assert ("base", "roc_auc") in failed
    assert verdict["base"]["metrics"]["roc_auc"] > verdict["candidate"]["roc_auc"]


def test_the_gate_refuses_stale_outputs(pipeline_repo: Path) -> None:
    env = repo_env(pipeline_repo)
    edit_params(pipeline_repo, {"train": {"max_depth": 3}})

    proc = run(["flightdelay", "gate", "--base", "main", "--no-champion"], pipeline_repo, env,
               check=False)

    assert proc.returncode != 0
    assert "stale" in proc.stderr
    assert "run `dvc repro`" in proc.stderr
