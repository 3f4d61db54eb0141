"""drift.yml's "prepare the retraining branch" step, run as the workflow holds it, with `gh`, `git`
and the job's `flightdelay` replaced by recorders.

The step first asks whether the month's branch exists. Only GitHub's 404 means it does not; any
other answer (a 403 from a token without `contents: read`, a 5xx) must stop the job before the
retraining runs, not be read as "no branch" and end at a push that cannot land.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import executable, gh_lookup, run_step, workflow_step

GH = (
    """#!/usr/bin/env bash
printf 'gh %s\\n' "$*" >> "$CALLS"
case "$*" in
  "api repos/acme/flightdelay/branches/retrain/2013-08 --silent")
"""
    + gh_lookup("BRANCH", "exit 0", message="Branch not found")
    + """
  "api repos/acme/flightdelay --jq .default_branch") echo main ;;
  "api users/flightdelay-bot[bot] --jq .id") echo 41 ;;
  "api repos/acme/flightdelay/pulls "*) echo "opened https://github.com/acme/flightdelay/pull/9" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""
)
RECORDER = """#!/usr/bin/env bash
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$CALLS"
"""
PREPARE = """#!/usr/bin/env bash
printf 'flightdelay %s\\n' "$*" >> "$CALLS"
echo '{"title": "Retrain on 2013-07 2013-08"}'
"""


def branch_step(tmp_path: Path, branch: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    step = workflow_step("drift.yml", "retrain", "Prepare the retraining branch and open the pull request")
    work, bin_dir, runner_temp = tmp_path / "work", tmp_path / "bin", tmp_path / "runner"
    for d in (work, bin_dir, runner_temp):
        d.mkdir()
    executable(bin_dir / "gh", GH)
    executable(bin_dir / "git", RECORDER)
    executable(work / ".venv" / "bin" / "flightdelay", PREPARE)
    calls = tmp_path / "calls"
    calls.touch()
    env = {
        "CALLS": str(calls),
        "BRANCH": branch,
        "GH_REPO": "acme/flightdelay",
        "APP_SLUG": "flightdelay-bot",
        "MONTHS": "2013-07 2013-08",
        "ISSUE": "",
        "RUN_URL": "https://github.com/acme/flightdelay/actions/runs/1",
        "RUNNER_TEMP": str(runner_temp),
        "DVC_REMOTE_URL": "",  # none configured: the step does not push to a DVC remote
    }
    proc = run_step(step["run"], cwd=work, bin_dir=bin_dir, env=env)
    return proc, calls.read_text().splitlines()


def test_an_existing_branch_ends_the_job_quietly(tmp_path: Path) -> None:
    proc, calls = branch_step(tmp_path, "found")
    assert proc.returncode == 0, proc.stderr
    assert "already exists" in proc.stdout
    assert not any(c.startswith(("flightdelay", "git")) for c in calls)


def test_a_missing_branch_is_prepared_pushed_and_proposed(tmp_path: Path) -> None:
    proc, calls = branch_step(tmp_path, "missing")
    assert proc.returncode == 0, proc.stderr
    assert any(c.startswith("flightdelay retrain prepare --months 2013-07 2013-08") for c in calls)
    assert "git push origin HEAD:refs/heads/retrain/2013-08" in calls
    assert "opened https://github.com/acme/flightdelay/pull/9" in proc.stdout


@pytest.mark.parametrize(("branch", "status"), [("forbidden", "HTTP 403"), ("down", "HTTP 502")])
def test_an_error_other_than_404_stops_the_job_before_the_retraining(
    tmp_path: Path, branch: str, status: str
) -> None:
    proc, calls = branch_step(tmp_path, branch)
    assert proc.returncode == 1
    assert "::error::cannot tell whether branch retrain/2013-08 exists: gh: " in proc.stdout
    assert status in proc.stdout
    assert not any(c.startswith(("flightdelay", "git")) for c in calls)
