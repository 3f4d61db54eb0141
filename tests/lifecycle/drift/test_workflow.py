"""drift.yml: the hardening policy, and the issue step's shell run against a recording `gh` stub."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flightdelay.lifecycle.drift import schema
from tests.helpers import REPO_ROOT, executable, run_step, workflow_step
from tests.lifecycle.drift.summaries import drift_summary

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "drift.yml"
GH_STUB = """#!/usr/bin/env bash
echo "$*" >> "$GH_CALLS"
case "$*" in
  # the label does not exist yet: GitHub's 404, as gh prints it
  "api repos/o/r/labels/drift --silent") echo "gh: Not Found (HTTP 404)" >&2; exit 1 ;;
  "api repos/o/r/issues?labels="*) cat "$GH_EXISTING" ;;
  "api repos/o/r/issues -f title="*) echo 31 ;;
esac
"""


def workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def test_least_privilege_pinned_and_bounded() -> None:
    text = WORKFLOW.read_text()
    w = workflow()
    assert w["permissions"] == {}
    for uses in re.findall(r"uses:\s*(\S+.*)", text):
        assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", uses), uses
    for name, job in w["jobs"].items():
        assert job.get("timeout-minutes"), name
        writes = {k for k, v in job.get("permissions", {}).items() if v == "write"}
        # The token writes issues (check) and re-enables the schedule (keepalive); id-token only
        # lets a job ask for the DVC remote's short-lived cloud credentials.
        allowed = {"check": {"issues", "id-token"}, "keepalive": {"actions"}, "retrain": {"id-token"}}
        assert writes <= allowed[name], (name, writes)
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                # Only the retraining job keeps credentials: the App token's, to push its branch.
                keeps = step["with"]["persist-credentials"]
                assert keeps is (name == "retrain"), name
                if keeps:
                    assert step["with"]["token"] == "${{ steps.app-token.outputs.token }}"  # noqa: S105
            # Expressions only in env/with, never spliced into shell.
            assert "${{" not in step.get("run", ""), step.get("name")
    assert w["jobs"]["retrain"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert w["jobs"]["keepalive"]["if"] == "github.event_name == 'schedule'"


LABEL_GET = "api repos/o/r/labels/drift --silent"
LABEL_CREATE = "api repos/o/r/labels -f name=drift"
LIST = "api repos/o/r/issues?labels=drift&state=open&per_page=20"


def issue_step() -> str:
    return str(workflow_step("drift.yml", "check", "issue")["run"])


@pytest.mark.slow  # runs the CLI in a shell per case
@pytest.mark.parametrize(
    ("status", "existing", "expected"),
    [
        ("drift", [], [LABEL_GET, LABEL_CREATE, LIST, "api repos/o/r/issues -f title="]),
        (
            "drift",
            [{"number": 5, "state": "open"}],
            [
                LABEL_GET,
                LABEL_CREATE,
                LIST,
                "api --method PATCH repos/o/r/issues/5 -F body=@",
                "api repos/o/r/issues/5/comments -F body=@",
            ],
        ),
        (
            "no_drift",
            [{"number": 5, "state": "open"}, {"number": 8, "state": "open"}],
            [
                LABEL_GET,
                LABEL_CREATE,
                LIST,
                "api repos/o/r/issues/5/comments -F body=@",
                "api --method PATCH repos/o/r/issues/5 -f state=closed -f state_reason=completed",
                "api repos/o/r/issues/8/comments -F body=@",
                "api --method PATCH repos/o/r/issues/8 -f state=closed -f state_reason=completed",
            ],
        ),
        ("not_enough_data", [{"number": 5, "state": "open"}], [LABEL_GET, LABEL_CREATE, LIST]),
    ],
)
def test_issue_step_runs_the_decision(
    tmp_path: Path, status: str, existing: list[Any], expected: list[str]
) -> None:
    bin_dir = tmp_path / "stub-bin"
    executable(bin_dir / "gh", GH_STUB)
    work = tmp_path / "work"
    (work / "reports" / "drift").mkdir(parents=True)
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "flightdelay").symlink_to(Path(sys.executable).parent / "flightdelay")
    (work / "params.yaml").symlink_to(REPO_ROOT / "params.yaml")
    schema.write(work / "reports/drift/summary.json", drift_summary(status, retrain=False))  # type: ignore[arg-type]
    (work / "reports/drift/issue.md").write_text("body")
    (tmp_path / "gh-open-issues.json").write_text(json.dumps(existing))
    env = {
        "DRIFT_LABEL": "drift",
        "GH_REPO": "o/r",
        "GH_CALLS": str(tmp_path / "calls"),
        "GH_EXISTING": str(tmp_path / "gh-open-issues.json"),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    proc = run_step(issue_step(), cwd=work, bin_dir=bin_dir, env=env)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == len(expected)
    for call, prefix in zip(calls, expected, strict=True):
        assert call.startswith(prefix), (call, prefix)
    number = "31" if expected[-1].startswith("api repos/o/r/issues -f title=") else ("5" if existing else "")
    assert f"number={number}" in (tmp_path / "out").read_text()
