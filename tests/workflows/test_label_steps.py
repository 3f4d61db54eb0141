"""The steps that make sure an issue label exists before opening issues with it — drift.yml's "open,
update or close the drift issue" and intake.yml's "one issue per malformed file" — run as the
workflows hold them, with `gh` and the job's `flightdelay` replaced by recorders.

Only GitHub's 404 means the label is missing and is to be created. Any other answer (a 403 from a
token without the scope, a 5xx) must stop the step with that answer, not lead to a create that
fails with a misleading "already exists" or, worse, to issues opened on a guess.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import executable, gh_lookup, run_step, workflow_step

GH = (
    """#!/usr/bin/env bash
printf 'gh %s\\n' "$*" >> "$CALLS"
case "$*" in
  "api repos/acme/flightdelay/labels/"*" --silent")
"""
    + gh_lookup("LABEL", "exit 0")
    + """
  "api repos/acme/flightdelay/labels -f name="*) exit 0 ;;
  "api repos/acme/flightdelay/issues?labels="*) echo '[]' ;;
  "api repos/acme/flightdelay/issues -f title="*) echo 7 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""
)
ISSUE_ACTION = """#!/usr/bin/env bash
printf 'flightdelay %s\\n' "$*" >> "$CALLS"
echo '{"action": "open", "title": "Drift in 2013-08", "comment": ""}'
"""

CASES = {
    "drift": ("drift.yml", "check", "Open, update or close the drift issue", "labels/drift --silent"),
    "intake": ("intake.yml", "intake", "One issue per malformed file", "labels/data-intake --silent"),
}


def label_step(tmp_path: Path, which: str, label: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    file, job, name, _ = CASES[which]
    step = workflow_step(file, job, name)
    work, bin_dir, runner_temp = tmp_path / "work", tmp_path / "bin", tmp_path / "runner"
    for d in (work / "reports" / "drift", bin_dir, runner_temp):
        d.mkdir(parents=True)
    (work / "reports" / "drift" / "issue.md").write_text("drift\n")
    executable(bin_dir / "gh", GH)
    executable(work / ".venv" / "bin" / "flightdelay", ISSUE_ACTION)
    plan = runner_temp / "plan.json"
    plan.write_text(json.dumps({"issues": [{"title": "Malformed 2013-08.csv", "body": "column missing"}]}))
    calls = tmp_path / "calls"
    calls.touch()
    env = {
        "CALLS": str(calls),
        "LABEL": label,
        "GH_REPO": "acme/flightdelay",
        "DRIFT_LABEL": "drift",
        "INTAKE_LABEL": "data-intake",
        "PLAN": str(plan),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(runner_temp / "output"),
    }
    proc = run_step(step["run"], cwd=work, bin_dir=bin_dir, env=env)
    return proc, calls.read_text().splitlines()


def opened(calls: list[str]) -> bool:
    return any(c.startswith("gh api repos/acme/flightdelay/issues -f title=") for c in calls)


def created_label(calls: list[str]) -> bool:
    return any(c.startswith("gh api repos/acme/flightdelay/labels -f name=") for c in calls)


@pytest.mark.parametrize("which", sorted(CASES))
def test_an_existing_label_is_used_as_it_is(tmp_path: Path, which: str) -> None:
    proc, calls = label_step(tmp_path, which, "found")
    assert proc.returncode == 0, proc.stderr
    assert calls[0].endswith(CASES[which][3])
    assert not created_label(calls)
    assert opened(calls)


@pytest.mark.parametrize("which", sorted(CASES))
def test_a_missing_label_is_created_then_used(tmp_path: Path, which: str) -> None:
    proc, calls = label_step(tmp_path, which, "missing")
    assert proc.returncode == 0, proc.stderr
    assert created_label(calls)
    assert opened(calls)


@pytest.mark.parametrize("which", sorted(CASES))
@pytest.mark.parametrize(("label", "status"), [("forbidden", "HTTP 403"), ("down", "HTTP 502")])
def test_an_error_other_than_404_stops_the_step_with_it(
    tmp_path: Path, which: str, label: str, status: str
) -> None:
    proc, calls = label_step(tmp_path, which, label)
    assert proc.returncode == 1
    assert "::error::cannot tell whether label " in proc.stdout
    assert status in proc.stdout
    assert not created_label(calls)
    assert not opened(calls)
