"""hadolint and checkov on the root Dockerfile (required), and on a bad and a good sample."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tests.policy.tools import run_tool

DOCKERFILE = REPO_ROOT / "Dockerfile"


BAD_DOCKERFILE = """\
FROM python:latest
USER root
COPY . /app
RUN pip install --no-cache-dir -r /app/requirements-serve.txt
CMD gunicorn api.main:app
"""
GOOD_DOCKERFILE = f"""\
FROM python:3.11-slim@sha256:{"0" * 64}
WORKDIR /app
COPY requirements-serve.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements-serve.txt \\
    && useradd --create-home --uid 10001 app
USER 10001
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "print('ok')"]
CMD ["gunicorn", "api.main:app"]
"""
HADOLINT = ["--no-color", "--failure-threshold", "warning"]


def require_dockerfile() -> Path:
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root: the serving image is built from it"
    return DOCKERFILE


@pytest.fixture(scope="module")
def checkov_failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """One checkov run (it is slow to start) over the repository's Dockerfile and the two samples."""
    root = tmp_path_factory.mktemp("dockerfiles")
    for name, text in (("bad", BAD_DOCKERFILE), ("good", GOOD_DOCKERFILE)):
        (root / name).mkdir()
        (root / name / "Dockerfile").write_text(text)
    if DOCKERFILE.is_file():
        (root / "repo").mkdir()
        shutil.copyfile(DOCKERFILE, root / "repo" / "Dockerfile")
    args = ["--skip-download", "--framework", "dockerfile", "--quiet", "--compact", "-o", "json"]
    proc = run_tool("checkov", [*args, "-d", str(root)])
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    failures: dict[str, set[str]] = {"bad": set(), "good": set(), "repo": set()}
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            failures[check["file_path"].strip("/").split("/")[0]].add(check["check_id"])
    return failures


def test_hadolint_passes_the_dockerfile() -> None:
    proc = run_tool("hadolint", [*HADOLINT, str(require_dockerfile())])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_passes_the_dockerfile(checkov_failures: dict[str, set[str]]) -> None:
    require_dockerfile()
    assert not checkov_failures["repo"], f"checkov failed checks on Dockerfile: {checkov_failures['repo']}"


def test_hadolint_catches_root_latest_and_shell_form(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.Dockerfile", tmp_path / "good.Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    good.write_text(GOOD_DOCKERFILE)
    proc = run_tool("hadolint", [*HADOLINT, str(bad)])
    assert proc.returncode == 1
    assert {"DL3007", "DL3002", "DL3025"} <= set(re.findall(r"DL\d{4}", proc.stdout))
    assert run_tool("hadolint", [*HADOLINT, str(good)]).returncode == 0


def test_checkov_catches_root_and_latest(checkov_failures: dict[str, set[str]]) -> None:
    # CKV_DOCKER_7: base image tag `latest`; CKV_DOCKER_8: last USER root; CKV_DOCKER_2: no HEALTHCHECK.
    assert {"CKV_DOCKER_7", "CKV_DOCKER_8", "CKV_DOCKER_2"} <= checkov_failures["bad"]
    assert checkov_failures["good"] == set()


def test_the_image_builds_and_ships_every_c_library_the_service_loads() -> None:
    """Each C source under api/ is copied into the kernel stage, each library it builds is copied
    into the runtime, and a library built on the host never reaches the build context: a library
    left out would make the image serve on the slower fallback without a word."""
    from api import ckernel

    text = DOCKERFILE.read_text()
    kernel_copy = re.search(r"^COPY (api/\S+ )+\./api/$", text, re.MULTILINE)
    assert kernel_copy is not None, "the kernel stage copies no api/ sources"
    sources = {Path(p).name for p in kernel_copy.group(0).split()[1:-1]}
    assert {p.name for p in (REPO_ROOT / "api").glob("*.c")} <= sources
    runtime_copy = next(line for line in text.splitlines() if line.startswith("COPY --from=kernel"))
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    for library in (ckernel.library_path(), ckernel.rows_library_path()):
        stem = library.name.split("-")[0]
        assert f"/src/api/{stem}-*.so" in runtime_copy, stem
        assert f"api/{stem}-*.so" in ignored, stem
