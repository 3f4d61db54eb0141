"""`dvc.yaml` tells the truth: every params key a stage reads is in its `params:` (and set in
params.yaml, so that DVC sees its value), and every module of the package it runs is in its `deps:`
unless it cannot change the stage's outputs. Otherwise `dvc repro` keeps outputs computed with an
old value or old code. Each stage runs for real (`tests/pipeline/stage_probe.py`) on the small
pipeline repository, in stage order."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT, edit_params, repo_env, run

pytestmark = pytest.mark.slow
PROBE = Path(__file__).with_name("stage_probe.py")

# Modules that cannot change what a stage writes, and why. Every other module a stage imports is
# one of its deps.
NO_OUTPUT_EFFECT = {
    "__init__.py": "the package marker",
    "__main__.py": "the entry point",
    "cli.py": "argument parsing; the stage's run() does the work",
    "errors.py": "error messages",
    "progress.py": "progress lines on stderr",
    "redact.py": "masks credentials in messages",
    "faults.py": "test-only fault injection",
    "tracking.py": "the MLflow run (not a DVC output)",
    "gitio.py": "git facts for the MLflow run's tags",
    "tools.py": "finds executables",
    # Values come from params.yaml, which DVC tracks key by key: the test below requires every key
    # a stage reads to be set there, so a default in params.py never decides an output.
    "params.py": "parses params.yaml (every key read is set in params.yaml: checked)",
}
# Per stage: modules that only feed the MLflow run (not a DVC output). A change to them must not
# retrain the model.
MLFLOW_ONLY = {
    "train": {
        "metrics.py": "holdout metrics of the run",
        "hashing.py": "the run's data and model hash tags",
        "dvcio.py": "reads the .dvc files for those tags",
    },
}


def declared(stage: dict[str, Any]) -> tuple[list[str], set[str]]:
    params = [p if isinstance(p, str) else next(iter(p)) for p in stage.get("params", [])]
    deps = {d for d in stage.get("deps", []) if d.startswith("src/")}
    return params, deps


def covered(key: str, params: list[str]) -> bool:
    return any(key == d or key.startswith(f"{d}.") for d in params)


def in_yaml(key: str, raw: dict[str, Any]) -> bool:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.fixture(scope="module")
def probes(built_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What each stage of dvc.yaml read, run in order in a private copy of the small repository."""
    repo = tmp_path_factory.mktemp("probe") / "repo"
    shutil.copytree(built_repo, repo, symlinks=True)
    env = {**repo_env(repo), "FLIGHTDELAY_TRACKING": "on"}
    out = {}
    for name in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]:
        proc = run([sys.executable, str(PROBE), name], repo, env)
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_every_params_key_a_stage_reads_is_declared_and_set(probes: dict[str, dict[str, Any]]) -> None:
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    missing, unset = [], []
    for name, seen in probes.items():
        params, _ = declared(stages[name])
        missing += [f"{name}: {k}" for k in seen["params"] if not covered(k, params)]
        unset += [f"{name}: {k}" for k in seen["params"] if not in_yaml(k, raw)]
        assert seen["params"], f"{name} read no params at all: the probe recorded nothing"
    assert not missing, "read but not in the stage's params: in dvc.yaml:\n" + "\n".join(missing)
    assert not unset, "read but not set in params.yaml (a params.py default decides):\n" + "\n".join(unset)


def test_every_module_a_stage_runs_is_one_of_its_deps(probes: dict[str, dict[str, Any]]) -> None:
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    missing = []
    for name, seen in probes.items():
        _, deps = declared(stages[name])
        for path in seen["modules"]:
            rel = "src/" + Path(path).as_posix().split("/src/", 1)[-1]
            module = Path(rel).name
            if module not in NO_OUTPUT_EFFECT and module not in MLFLOW_ONLY.get(name, {}) and rel not in deps:
                missing.append(f"{name}: {rel}")
    assert not missing, "imported but not in the stage's deps: in dvc.yaml:\n" + "\n".join(missing)


# Keys that stages read without declaring them before dvc.yaml was checked (train no longer reads
# evaluate.threshold: the threshold is evaluate's); each change must now make `dvc status` name the
# stage that reads it.
FORMERLY_UNDECLARED = {
    "featurize.seed": ("evaluate", {"featurize": {"seed": 7}}),
    "data.window (train)": ("train", {"data": {"window": {"start": "2013-01", "end": "2013-03"}}}),
    "data.window (backtest)": ("backtest", {"data": {"window": {"start": "2013-01", "end": "2013-03"}}}),
    "data.window (bundle)": ("bundle", {"data": {"window": {"start": "2013-01", "end": "2013-03"}}}),
    "train.max_depth (bundle)": ("bundle", {"train": {"max_depth": 3}}),
}


@pytest.mark.parametrize("key", sorted(FORMERLY_UNDECLARED))
def test_changing_a_key_a_stage_reads_makes_dvc_status_name_the_stage(pipeline_repo: Path, key: str) -> None:
    stage, change = FORMERLY_UNDECLARED[key]
    edit_params(pipeline_repo, change)
    status = run(["dvc", "status", stage, "--json"], pipeline_repo, repo_env(pipeline_repo)).stdout
    assert stage in json.loads(status or "{}"), (key, status)
