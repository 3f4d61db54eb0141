"""Builders shared by the tests: small real repositories (scripts/pipeline_repos.py, which the
benchmarks use too)."""

from __future__ import annotations

from pipeline_repos import REPO_ROOT, SMALL_TRAIN, edit_params, make_pipeline_repo, repo_env, run, wait_for

__all__ = ["REPO_ROOT", "SMALL_TRAIN", "edit_params", "make_pipeline_repo", "repo_env", "run", "wait_for"]
