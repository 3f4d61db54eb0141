"""release.yml's publishing step marks a model-vN release "latest" only when that version is the
champion: PR gates re-score the latest release's `champion.tar.gz`, so a release run that finishes
after a newer merge's release must not take "latest" from it.

The step's script runs as release.yml holds it, with `gh` and the job's `flightdelay` replaced by
recorders (the forge's own handling of `make_latest` is tested in tests/rehearsal/test_forge.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT

STEP = "publish the champion bundle (asset of the model-vN release; PR gates read it)"

GH = """#!/usr/bin/env bash
# Records each call; answers as the REST API would for the calls the step makes.
printf '%s\\n' "$*" >> "$CALLS"
case "$*" in
  "api repos/acme/flightdelay/releases/tags/"*)
    if [ -n "$EXISTING" ]; then echo '{"id": 41, "assets": []}'; else echo 'Not Found' >&2; exit 1; fi ;;
  "api repos/acme/flightdelay/releases -f"*) echo '{"id": 42, "assets": []}' ;;
esac
"""

FLIGHTDELAY = """#!/usr/bin/env bash
[ "$*" = "release champion" ] || { echo "unexpected: $*" >&2; exit 2; }
echo "$CHAMPION"
"""


def step_script() -> str:
    doc = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "release.yml").read_text())
    return str(next(s["run"] for s in doc["jobs"]["release"]["steps"] if s.get("name") == STEP))


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def publish(tmp_path: Path, *, version: str, champion: str, existing: bool) -> list[str]:
    """Run the step in a job workspace; the `gh` calls it made."""
    if shutil.which("jq") is None:
        pytest.fail("jq is not installed (.ci/system-packages installs it; runners have it)")
    work = tmp_path / "job"
    _executable(work / ".venv" / "bin" / "flightdelay", FLIGHTDELAY)
    _executable(tmp_path / "bin" / "gh", GH)
    (work / "models" / "cards").mkdir(parents=True)
    (work / "models" / "cards" / f"model-v{version}.md").write_text("card\n")
    (work / "build").mkdir()
    (work / "build" / "champion.tar.gz").write_bytes(b"bundle")
    calls = tmp_path / "calls.txt"
    env = {
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CALLS": str(calls),
        "GH_REPO": "acme/flightdelay",
        "VERSION": version,
        "CHAMPION": champion,
        "EXISTING": "1" if existing else "",
    }
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step_script()],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return calls.read_text().splitlines()


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
