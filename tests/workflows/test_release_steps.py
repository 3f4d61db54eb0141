"""release.yml's steps that decide what is published while later merges release beside the run,
run as release.yml holds them, with `gh` and the job's `flightdelay` replaced by recorders (the
forge's own handling of `make_latest` is tested in tests/rehearsal/test_forge.py):

- publishing marks a model-vN release "latest" only when that version is the champion: PR gates
  re-score the latest release's `champion.tar.gz`, so a release run that finishes after a newer
  merge's release must not take "latest" from it;
- only GitHub's 404 on the tag's lookup means "no release yet"; any other error stops the step;
- the staging job verifies with `--in-flight` while its version is the champion, and neither
  verifies nor opens a promotion PR for a version superseded during the run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import executable, gh_lookup, run_step, workflow_step

STEP = "publish the champion bundle (asset of the model-vN release; PR gates read it)"

GH = (
    """#!/usr/bin/env bash
# Records each call; answers as the REST API would for the calls the step makes.
printf '%s\\n' "$*" >> "$CALLS"
case "$*" in
  "api repos/acme/flightdelay/releases/tags/"*)
"""
    + gh_lookup("EXISTING", """echo '{"id": 41, "assets": []}'""", silent=False)
    + """
  "api repos/acme/flightdelay/releases -f"*) echo '{"id": 42, "assets": []}' ;;
esac
"""
)

FLIGHTDELAY = """#!/usr/bin/env bash
printf 'flightdelay %s\\n' "$*" >> "$CALLS"
case "$*" in
  "release champion") echo "$CHAMPION" ;;
  "release bump "*|"release verify --in-flight") echo "ok: $*" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


def step(job: str, name: str) -> dict[str, Any]:
    return workflow_step("release.yml", job, name)


def step_script() -> str:
    return str(step("release", STEP)["run"])


def job_step(
    tmp_path: Path, script: str, env: dict[str, str], *, fails: bool = False
) -> tuple[str, list[str]]:
    """Run a step's script in a job workspace (a git checkout) with the recorders on PATH; its
    output and the calls it made (`fails`: the step must exit non-zero)."""
    if shutil.which("jq") is None:
        pytest.fail("jq is not installed (.ci/system-packages installs it; runners have it)")
    work = tmp_path / "job"
    executable(work / ".venv" / "bin" / "flightdelay", FLIGHTDELAY)
    executable(tmp_path / "bin" / "gh", GH)
    subprocess.run(["git", "init", "--quiet", str(work)], check=True)
    calls = tmp_path / "calls.txt"
    calls.touch()
    base = {"HOME": str(tmp_path), "CALLS": str(calls), "GH_REPO": "acme/flightdelay"}
    proc = run_step(script, cwd=work, bin_dir=tmp_path / "bin", env={**base, **env}, inherit=False)
    assert (proc.returncode != 0) == fails, proc.stdout + proc.stderr
    return proc.stdout, calls.read_text().splitlines()


def publish(tmp_path: Path, *, version: str, champion: str, existing: bool | str) -> list[str]:
    """The publishing step; the `gh` calls it made (`existing="down"`: the lookup gets a 502)."""
    work = tmp_path / "job"
    (work / "models" / "cards").mkdir(parents=True)
    (work / "models" / "cards" / f"model-v{version}.md").write_text("card\n")
    (work / "build").mkdir()
    (work / "build" / "champion.tar.gz").write_bytes(b"bundle")
    lookup = existing if isinstance(existing, str) else ("found" if existing else "missing")
    env = {"VERSION": version, "CHAMPION": champion, "EXISTING": lookup}
    out, calls = job_step(tmp_path, step_script(), env, fails=lookup == "down")
    if lookup == "down":
        assert "::error::cannot tell whether release model-v2 exists: gh: Server Error (HTTP 502)" in out
    return [c for c in calls if not c.startswith("flightdelay ")]


def _latest_fields(calls: list[str]) -> list[str]:
    return [c for c in calls if "make_latest" in c]


def test_the_champions_release_is_made_latest(tmp_path: Path) -> None:
    calls = publish(tmp_path, version="2", champion="2", existing=False)
    created = [c for c in calls if c.startswith("api repos/acme/flightdelay/releases -f tag_name=model-v2")]
    assert len(created) == 1 and "make_latest=true" in created[0], calls
    assert any("releases/42/assets?name=champion.tar.gz" in c for c in calls), calls


def test_an_older_release_finishing_last_does_not_take_latest_from_the_champion(tmp_path: Path) -> None:
    latest = _latest_fields(publish(tmp_path, version="1", champion="2", existing=False))
    assert len(latest) == 1, latest  # the create call, and no PATCH
    assert "tag_name=model-v1" in latest[0] and "make_latest=false" in latest[0], latest


def test_a_rerun_makes_the_existing_release_latest_when_it_is_the_champions(tmp_path: Path) -> None:
    calls = publish(tmp_path, version="2", champion="2", existing=True)
    assert _latest_fields(calls) == [
        "api --method PATCH repos/acme/flightdelay/releases/41 -f make_latest=true --silent"
    ]
    assert not any("tag_name=" in c for c in calls), calls


def test_a_rerun_of_an_older_release_leaves_latest_alone(tmp_path: Path) -> None:
    assert _latest_fields(publish(tmp_path, version="1", champion="2", existing=True)) == []


def test_a_failed_lookup_other_than_404_stops_before_creating_a_release(tmp_path: Path) -> None:
    """A 502 (or a 403) on the tag's lookup is not "no release": creating one would fail on
    GitHub's tag check at best; the step says what went wrong and publishes nothing."""
    calls = publish(tmp_path, version="2", champion="2", existing="down")
    assert calls == ["api repos/acme/flightdelay/releases/tags/model-v2"], calls


BUMP = "bump staging (rebase-and-retry push)"


def staging(tmp_path: Path, *, version: str, champion: str) -> tuple[dict[str, str], str, list[str]]:
    """The staging job's bump step: its outputs, its job summary and the `flightdelay` calls."""
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {
        "VERSION": version,
        "CHAMPION": champion,
        "APP_SLUG": "flightdelay-bot",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    _, calls = job_step(tmp_path, str(step("staging", BUMP)["run"]), env)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return outputs, summary.read_text(), [c for c in calls if c.startswith("flightdelay ")]


def test_the_staging_job_verifies_its_champion_with_releases_in_flight(tmp_path: Path) -> None:
    outputs, summary, calls = staging(tmp_path, version="2", champion="2")
    assert outputs["champion"] == "2"
    assert calls[0].startswith("flightdelay release bump --env staging --version 2 ")
    assert calls[1:] == ["flightdelay release champion", "flightdelay release verify --in-flight"]
    assert "ok: release verify --in-flight" in summary


def test_a_version_superseded_during_the_run_is_neither_verified_nor_promoted(tmp_path: Path) -> None:
    outputs, summary, calls = staging(tmp_path, version="2", champion="3")
    assert outputs["champion"] == "3"
    assert calls[1:] == ["flightdelay release champion"]  # no verify
    assert "model-v2 was superseded by model-v3" in summary
    promote = step("staging", "promotion PR for production")
    assert promote["if"] == "steps.bump.outputs.champion == needs.release.outputs.version"
    assert step("staging", BUMP)["id"] == "bump"
