"""checkov (offline, one run per session: it is slow to start) on the rendered manifests, the
Argo CD objects, the training manifests and both Dockerfiles: zero failures; a privileged copy is
caught."""

from __future__ import annotations

import copy
import re
import shutil

import pytest
import yaml
from check_common import TRAINING, TRAINING_TARGETS, render

from tests.deploy.conftest import CheckRun, Obj, find, run_check
from tests.helpers import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
TRAINING_DOCKERFILE = REPO_ROOT / "Dockerfile.train"
pytestmark = pytest.mark.slow  # checkov takes 10-30 s to start


def _broken(docs: list[Obj], edit: str) -> list[Obj]:
    docs = copy.deepcopy(docs)
    container = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    if edit == "privileged":
        container["securityContext"]["privileged"] = True
    else:
        container.pop(edit)
    return docs


@pytest.fixture(scope="module")
def checkov_run(rendered: dict[str, list[Obj]], tmp_path_factory: pytest.TempPathFactory) -> CheckRun:
    scan = tmp_path_factory.mktemp("checkov")
    for name, docs in rendered.items():
        (scan / f"{name}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    for edit in ("privileged", "readinessProbe"):
        (scan / f"broken-{edit}.yaml").write_text(
            yaml.safe_dump_all(_broken(rendered["production"], edit), sort_keys=False)
        )
    for target in TRAINING_TARGETS:
        (scan / f"training-{target}.yaml").write_text(
            yaml.safe_dump_all(render(TRAINING / target), sort_keys=False)
        )
    shutil.copy(TRAINING_DOCKERFILE, scan / "Dockerfile.train")
    # The release step owns the Dockerfile; it is scanned here as soon as it exists.
    if DOCKERFILE.is_file():
        shutil.copy(DOCKERFILE, scan / "Dockerfile")
    return run_check("checkov", scan)


def _failures(run: CheckRun, file: str) -> list[str]:
    return re.findall(rf"^FAIL \[checkov\] {re.escape(file)}: (\S+)", run.output, flags=re.M)


def test_committed_manifests_have_no_checkov_failures(checkov_run: CheckRun) -> None:
    assert "checkov did not report" not in checkov_run.output, checkov_run.output
    files = ["staging.yaml", "production.yaml", "argocd.yaml", "Dockerfile", "Dockerfile.train"]
    for file in files + [f"training-{t}.yaml" for t in TRAINING_TARGETS]:
        assert _failures(checkov_run, file) == [], checkov_run.output


def test_checkov_catches_the_broken_copies(checkov_run: CheckRun) -> None:
    assert checkov_run.returncode == 1, checkov_run.output
    assert "CKV_K8S_16" in _failures(checkov_run, "broken-privileged.yaml"), checkov_run.output
    assert "CKV_K8S_9" in _failures(checkov_run, "broken-readinessProbe.yaml"), checkov_run.output
    assert "checkov.io/skipN: CHECK_ID=reason` annotation on the object" in checkov_run.output
