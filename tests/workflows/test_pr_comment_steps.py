"""pr-comment.yml's "validate the artifact" step, run as the workflow holds it, with `gh` replaced
by a recorder that answers the pull request's head commit as the REST API would.

A push to the PR after pr.yml started makes that run's report stale: the newer commit's run posts
its own. The stale report is not posted, and the run does not fail for it (a red run would mail
the author about a race, not a defect). A pr_number that is not a number is still refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT, executable, run_step, workflow_step

REPORT_SHA = "a" * 40
NEWER_SHA = "b" * 40

GH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$CALLS"
case "$*" in
  "api repos/acme/flightdelay/pulls/7 --jq .head.sha") echo "$PR_HEAD" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


def validate(
    tmp_path: Path, *, pr_number: str, pr_head: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    step = workflow_step("pr-comment.yml", "comment", "pr")
    artifact, safe, bin_dir = tmp_path / "artifact", tmp_path / "safe", tmp_path / "bin"
    for d in (artifact, bin_dir):
        d.mkdir()
    (artifact / "pr_number").write_text(pr_number)
    (artifact / "report.md").write_text("## report\n![drift](drift.png)\n")
    executable(bin_dir / "gh", GH)
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        "CALLS": str(tmp_path / "calls"),
        "PR_HEAD": pr_head,
        "ARTIFACT": str(artifact),
        "SAFE": str(safe),
        "HEAD_SHA": REPORT_SHA,
        "GITHUB_REPOSITORY": "acme/flightdelay",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    output.touch()
    summary.touch()
    proc = run_step(step["run"], cwd=tmp_path, bin_dir=bin_dir, env=env)
    return proc, tmp_path


def test_a_report_for_the_pr_head_is_validated_and_posted(tmp_path: Path) -> None:
    proc, d = validate(tmp_path, pr_number="7\n", pr_head=REPORT_SHA)
    assert proc.returncode == 0, proc.stderr
    assert (d / "output").read_text() == "number=7\n"
    # The image link names no PNG of the artifact, so it is dropped to its text.
    assert (d / "safe" / "report.md").read_text() == "## report\n_drift_\n"


def test_a_report_superseded_by_a_push_is_not_posted_and_the_run_does_not_fail(tmp_path: Path) -> None:
    proc, d = validate(tmp_path, pr_number="7", pr_head=NEWER_SHA)
    assert proc.returncode == 0, proc.stderr
    assert (d / "output").read_text() == ""  # no number: the CML steps are skipped
    assert not (d / "safe" / "report.md").exists()
    assert (
        f"::notice::PR #7 is at {NEWER_SHA[:12]}; this report was built for {REPORT_SHA[:12]}" in proc.stdout
    )
    assert "superseded" in (d / "summary").read_text()


@pytest.mark.parametrize("number", ["0", "7; rm -rf /", "12345678901", ""])
def test_a_pr_number_that_is_not_one_fails_before_any_call(tmp_path: Path, number: str) -> None:
    proc, d = validate(tmp_path, pr_number=number, pr_head=REPORT_SHA)
    assert proc.returncode == 1
    assert "not a pull request number" in proc.stdout
    assert not (d / "calls").exists()


def test_the_comment_steps_run_only_for_a_validated_current_report() -> None:
    doc = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "pr-comment.yml").read_text())
    after = [s for s in doc["jobs"]["comment"]["steps"] if s.get("id") not in ("download", "pr")]
    assert [s.get("name", s.get("uses", "").split("@")[0]) for s in after] == [
        "actions/setup-node",
        "post or update the report comment (CML)",
    ]
    assert all(s["if"] == "steps.pr.outputs.number != ''" for s in after)
