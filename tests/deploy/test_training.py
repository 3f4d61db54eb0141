"""The training manifests (deploy/training/: the Job, and Job + DaskCluster for `train.engine:
dask`) and the training image: rendered, schema-checked (the DaskCluster's embedded pod and
service specs against the Kubernetes OpenAPI), policy-checked; broken copies fail with the object
and field named; hadolint on Dockerfile.train; the job's entrypoint refuses what it cannot run."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from check_common import TRAINING, TRAINING_TARGETS, render
from check_training import check_training

from tests.deploy.conftest import Obj, find, run_check
from tests.helpers import REPO_ROOT, edit_params
from tests.policy.tools import run_tool

Mutate = Callable[[list[Obj]], None]


@pytest.fixture(scope="module")
def training() -> dict[str, list[Obj]]:
    return {t: render(TRAINING / t) for t in TRAINING_TARGETS}


def _write(tmp_path: Path, docs: list[Obj], mutate: Mutate | None = None) -> Path:
    docs = copy.deepcopy(docs)
    if mutate:
        mutate(docs)
    path = tmp_path / "training.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _worker(docs: list[Obj]) -> Obj:
    container: Obj = find(docs, "DaskCluster")["spec"]["worker"]["spec"]["containers"][0]
    return container


def test_targets_render_the_job_and_the_dask_cluster(training: dict[str, list[Obj]]) -> None:
    assert sorted(d["kind"] for d in training["base"]) == [
        "ConfigMap",
        "Job",
        "NetworkPolicy",
        "ServiceAccount",
    ]
    cluster = find(training["dask"], "DaskCluster")
    job = find(training["dask"], "Job")
    assert cluster["metadata"]["namespace"] == job["metadata"]["namespace"] == "flightdelay-train"
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("ghcr.io/") and _worker(training["dask"])["image"] == image
    assert check_training(training["base"]) == check_training(training["dask"]) == []


def test_committed_targets_pass_the_schemas(training: dict[str, list[Obj]], tmp_path: Path) -> None:
    for docs in training.values():
        run = run_check("schema", _write(tmp_path, docs))
        assert run.returncode == 0, run.output


SCHEMA_CASES: list[tuple[str, Mutate, str]] = [
    (
        "daskcluster-typo",
        lambda d: find(d, "DaskCluster")["spec"]["worker"].update({"replica": 3}),
        "DaskCluster flightdelay-train/flightdelay-train: spec.worker: Additional properties are not "
        "allowed ('replica' was unexpected)",
    ),
    (
        "embedded-pod-spec-typo",
        lambda d: _worker(d).update({"imagePullPolicyy": "Always"}),
        "spec.worker.spec.containers[0]: Additional properties are not allowed ('imagePullPolicyy'",
    ),
    (
        "embedded-service-spec-type",
        lambda d: find(d, "DaskCluster")["spec"]["scheduler"]["service"]["ports"][0].update({"port": "x"}),
        "spec.scheduler.service.ports[0].port: 'x' is not of type 'integer'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES]
)
def test_broken_dask_cluster_fails_the_schema(
    training: dict[str, list[Obj]], tmp_path: Path, mutate: Mutate, expected: str
) -> None:
    run = run_check("schema", _write(tmp_path, training["dask"], mutate))
    assert run.returncode == 1 and expected in run.output, run.output


def _no_dask_policy(docs: list[Obj]) -> None:
    docs.remove(find(docs, "NetworkPolicy", "flightdelay-train-dask"))


POLICY_CASES: list[tuple[str, Mutate, str]] = [
    (
        "job-backoff",
        lambda d: find(d, "Job")["spec"].pop("backoffLimit"),
        "Job flightdelay-train/flightdelay-train: spec.backoffLimit: is None",
    ),
    (
        "job-restart-in-place",
        lambda d: find(d, "Job")["spec"]["template"]["spec"].update({"restartPolicy": "OnFailure"}),
        "spec.template.spec.restartPolicy: must be Never",
    ),
    (
        "job-no-deadline",
        lambda d: find(d, "Job")["spec"].pop("activeDeadlineSeconds"),
        "spec.activeDeadlineSeconds: missing",
    ),
    (
        "worker-privileged",
        lambda d: _worker(d)["securityContext"].update({"privileged": True}),
        "spec.worker.spec.containers[worker].securityContext.privileged: true",
    ),
    (
        "worker-no-memory-limit",
        lambda d: _worker(d)["resources"]["limits"].pop("memory"),
        "spec.worker.spec.containers[worker].resources.limits.memory: missing",
    ),
    (
        "worker-other-image",
        lambda d: _worker(d).update({"image": "ghcr.io/example-org/other:1"}),
        "the job and the Dask pods run different images",
    ),
    ("dask-pods-not-isolated", _no_dask_policy, "spec.scheduler.spec: no NetworkPolicy selects these pods"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES]
)
def test_broken_training_manifest_fails_the_policy(
    training: dict[str, list[Obj]], tmp_path: Path, mutate: Mutate, expected: str
) -> None:
    docs = copy.deepcopy(training["dask"])
    mutate(docs)
    findings = [str(f) for f in check_training(docs)]
    assert any(expected in f for f in findings), findings


def test_policy_command_checks_training_manifests(training: dict[str, list[Obj]], tmp_path: Path) -> None:
    run = run_check(
        "policy", _write(tmp_path, training["dask"], lambda d: find(d, "Job")["spec"].pop("backoffLimit"))
    )
    assert run.returncode == 1 and "spec.backoffLimit" in run.output, run.output


def test_hadolint_passes_the_training_dockerfile() -> None:
    proc = run_tool(
        "hadolint", ["--no-color", "--failure-threshold", "style", str(REPO_ROOT / "Dockerfile.train")]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _job(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shutil.rmtree(tmp_path / "work", ignore_errors=True)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    base = {"PATH": path, "PYTHON": sys.executable, "HOME": str(tmp_path), "WORK_DIR": str(tmp_path / "work")}
    return subprocess.run(
        ["sh", str(REPO_ROOT / "scripts" / "train_job.sh")],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def _commit(origin: Path, message: str) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", message]):
        subprocess.run([*git, *cmd], cwd=origin, check=True, capture_output=True)


def test_job_entrypoint_names_a_missing_setting(tmp_path: Path) -> None:
    proc = _job(tmp_path, {"GIT_REPO": "https://example.invalid/x.git"})
    assert proc.returncode != 0 and "GIT_REF" in proc.stderr and "flightdelay-train-settings" in proc.stderr


def test_job_entrypoint_refuses_a_ref_pinning_other_requirements(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "requirements.txt").write_text("xgboost-cpu==3.2.0\n")
    _commit(origin, "pins")
    image_pins = tmp_path / "image-requirements.txt"
    image_pins.write_text("xgboost-cpu==3.1.0\n")
    env = {"GIT_REPO": str(origin), "GIT_REF": "main", "IMAGE_REQUIREMENTS": str(image_pins)}
    proc = _job(tmp_path, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert (
        "checked out" in proc.stdout
        and "build the training image (Dockerfile.train) from main" in proc.stderr
    )


def test_job_entrypoint_refuses_dask_training_of_code_the_image_does_not_run(tmp_path: Path) -> None:
    origin, image_src = tmp_path / "origin", tmp_path / "image-src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO_ROOT / "src", origin / "src", ignore=skip)
    shutil.copytree(origin / "src", image_src)
    shutil.copy(REPO_ROOT / "params.yaml", origin / "params.yaml")
    edit_params(origin, {"train": {"engine": "dask"}})
    (origin / "requirements.txt").write_text("pins\n")
    (tmp_path / "image-requirements.txt").write_text("pins\n")
    _commit(origin, "dask")
    env = {
        "GIT_REPO": str(origin),
        "GIT_REF": "main",
        "IMAGE_REQUIREMENTS": str(tmp_path / "image-requirements.txt"),
        "IMAGE_SRC": str(image_src),
    }
    same = _job(tmp_path, env)  # the image's code: it goes on, and stops at the data this repo lacks
    assert "differs from this image" not in same.stderr and "no partitions tracked" in same.stderr, (
        same.stderr
    )
    (image_src / "flightdelay" / "features.py").write_text("# another version\n")
    proc = _job(tmp_path, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "train.engine is dask and the code of main differs from this image's" in proc.stderr
