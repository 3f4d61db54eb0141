"""A pull request whose model did not change runs no stage: with main's DVC cache (outputs and run
cache) every stage is restored or unchanged — evaluate included, whose git-tracked outputs are
metrics and plots (a plain `cache: false` output would keep DVC from caching the stage's run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.helpers import repo_env, run

# The DVC-cached outputs, absent from a fresh checkout (the git-tracked ones are there).
CACHED = ("prepared", "features", "feature_spec", "model", "reference", "bundle")


def test_a_checkout_with_main_cache_restores_every_stage_instead_of_running_it(pipeline_repo: Path) -> None:
    repo, env = pipeline_repo, repo_env(pipeline_repo)
    paths = yaml.safe_load((repo / "params.yaml").read_text())["paths"]
    for key in CACHED:
        target = repo / paths[key]
        assert target.exists(), f"{target} was not built"
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    proc = run(["dvc", "repro"], repo, env)
    out = proc.stdout + proc.stderr

    assert "Running stage" not in out, out
    for stage in ("prepare", "featurize", "train", "evaluate", "bundle"):
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in out, (stage, out)
    assert "Data and pipelines are up to date." in run(["dvc", "status"], repo, env).stdout
    # dvc.lock and the git-tracked reports exactly as committed
    assert run(["git", "status", "--porcelain"], repo, env).stdout.strip() == ""
