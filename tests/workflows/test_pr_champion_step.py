"""pr.yml's "champion" step, run as the workflow holds it, with `gh` replaced by a recorder.

The step fetches the latest model-vN release's `champion.tar.gz` for the gate. Only GitHub's 404
("no release yet", a fork's first pull request) lets the gate go on without a champion; any other
failure must fail the check closed, since a gate that silently skipped the champion could pass a
model worse than the one serving.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.helpers import executable, gh_lookup, run_step, workflow_step

GH = (
    """#!/usr/bin/env bash
printf 'gh %s\\n' "$*" >> "$CALLS"
case "$*" in
  "api repos/acme/flightdelay/releases/latest")
"""
    + gh_lookup("LATEST", 'cat "$RELEASE_JSON"', silent=False)
    + """
  "api -H Accept: application/octet-stream repos/acme/flightdelay/releases/assets/7") cat "$ASSET" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""
)


def champion_step(
    tmp_path: Path, latest: str, assets: list[dict[str, object]] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    step = workflow_step(
        "pr.yml", "gate", "champion (the latest model-vN release asset; read-only, no secret)"
    )
    bin_dir, runner_temp = tmp_path / "bin", tmp_path / "runner"
    for d in (bin_dir, runner_temp):
        d.mkdir()
    executable(bin_dir / "gh", GH)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "MLmodel").write_text("flavor: flightdelay\n")
    asset = tmp_path / "champion.tar.gz"
    with tarfile.open(asset, "w:gz") as tar:
        tar.add(bundle / "MLmodel", arcname="MLmodel")
    release = tmp_path / "release.json"
    release.write_text(json.dumps({"tag_name": "model-v3", "assets": assets or []}))
    env_file, summary = runner_temp / "env", runner_temp / "summary"
    env = {
        "CALLS": str(tmp_path / "calls"),
        "LATEST": latest,
        "RELEASE_JSON": str(release),
        "ASSET": str(asset),
        "GH_REPO": "acme/flightdelay",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_ENV": str(env_file),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    proc = run_step(step["run"], cwd=tmp_path, bin_dir=bin_dir, env=env)
    exported = dict(
        line.split("=", 1) for line in (env_file.read_text().splitlines() if env_file.exists() else [])
    )
    return proc, exported, summary.read_text() if summary.exists() else ""


def test_no_release_yet_gates_without_a_champion(tmp_path: Path) -> None:
    proc, exported, summary = champion_step(tmp_path, "missing")
    assert proc.returncode == 0, proc.stderr
    assert exported == {"CHAMPION_BUNDLE": "none"}
    assert "No model released yet" in summary


def test_the_latest_release_asset_becomes_the_champion_bundle(tmp_path: Path) -> None:
    proc, exported, summary = champion_step(tmp_path, "found", [{"name": "champion.tar.gz", "id": 7}])
    assert proc.returncode == 0, proc.stderr
    champion = Path(exported["CHAMPION_BUNDLE"])
    assert (champion / "MLmodel").read_text() == "flavor: flightdelay\n"
    assert "Champion: model-v3" in summary


def test_a_release_without_the_asset_fails_the_check_saying_what_to_do(tmp_path: Path) -> None:
    proc, exported, _ = champion_step(tmp_path, "found", [{"name": "notes.txt", "id": 8}])
    assert proc.returncode == 1
    assert (
        "::error::release model-v3 has no champion.tar.gz asset; re-run its release workflow" in proc.stdout
    )
    assert "CHAMPION_BUNDLE" not in exported


@pytest.mark.parametrize(("latest", "status"), [("forbidden", "HTTP 403"), ("down", "HTTP 502")])
def test_an_error_other_than_404_fails_the_check_closed(tmp_path: Path, latest: str, status: str) -> None:
    proc, exported, _ = champion_step(tmp_path, latest)
    assert proc.returncode == 1
    assert "::error::cannot read the latest release (the champion); the gate fails closed" in proc.stdout
    assert status in proc.stderr
    assert "CHAMPION_BUNDLE" not in exported
