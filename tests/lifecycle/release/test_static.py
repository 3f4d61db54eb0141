"""Static checks of the release artefacts: Dockerfile (hadolint) and the release workflows
(zizmor --offline, GitHub's workflow schema, SHA-pinned actions, per-job limits). The linters come
from .venv-tools ($FLIGHTDELAY_TOOLS_BIN, set by make); a missing linter fails the test."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT

WORKFLOWS = [
    REPO_ROOT / ".github/workflows/release.yml",
    REPO_ROOT / ".github/workflows/promote.yml",
]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def tool(name: str) -> str:
    bin_dir = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN") or REPO_ROOT / ".venv-tools/bin")
    path = bin_dir / name
    if not path.is_file():
        pytest.fail(f"{name} not found in {bin_dir}: run `make tools`")
    return str(path)


def check(*cmd: str) -> None:
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}\n{proc.stderr}"


def test_dockerfile_is_hadolint_clean() -> None:
    check(tool("hadolint"), "--failure-threshold", "style", "Dockerfile")


def test_dockerfile_runs_the_contracted_service() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM \S+:\d+\.\d+\.\d+-slim\S*( AS \w+)?$", text, re.M)) == 2
    assert "USER 10001:10001" in text
    assert "MODEL_DIR=/app/model" in text
    assert "COPY build/model/ ./model/" in text
    assert re.search(r"^HEALTHCHECK .*\n.*8000/healthz", text, re.M)
    assert 'ENTRYPOINT ["gunicorn", "-c", "api/gunicorn.conf.py", "api.main:app"]' in text
    assert "--no-deps ." in text


def test_workflows_are_zizmor_clean_offline() -> None:
    check(tool("zizmor"), "--offline", *map(str, WORKFLOWS))


def test_workflows_match_the_github_schema() -> None:
    check(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, WORKFLOWS),
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_jobs_are_pinned_bounded_and_least_privilege(path: Path) -> None:
    wf = yaml.safe_load(path.read_text())
    assert wf["permissions"] == {}, "default token permissions must be empty"
    # Keyed per commit or run: a group shared by successive merges would drop queued runs.
    assert re.search(r"github\.(sha|run_id)", wf["concurrency"]["group"]), wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] is False
    uses = re.findall(r"uses: (.+)$", path.read_text(), re.M)
    assert uses
    assert all(PINNED.match(u) for u in uses), [u for u in uses if not PINNED.match(u)]
    for name, job in wf["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 30, name
        assert "write-all" not in str(job.get("permissions")), name
        assert job["permissions"].get("contents") in ("read", "write"), name


def test_release_commits_do_not_retrigger_the_release() -> None:
    wf = yaml.safe_load(WORKFLOWS[0].read_text())
    ignored = wf[True]["push"]["paths-ignore"]  # YAML 1.1 reads `on:` as True
    for managed in ("deploy/**", "models/cards/**", "CHANGELOG.md"):
        assert managed in ignored
