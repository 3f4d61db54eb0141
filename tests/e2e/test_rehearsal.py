"""End to end: `make rehearse` runs the six workflow files through the local forge; what a user
would see on GitHub is asserted on its summary and on the forge's state."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT

# The fixture may wait for the background rehearsal far longer than the suite's 600 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# intake.yml is not part of the lifecycle story: tests/workflows/test_intake.py runs it under act.
RUN_ELSEWHERE = {"intake.yml"}
WORKFLOWS = {p.name for p in (REPO_ROOT / ".github" / "workflows").glob("*.yml")} - RUN_ELSEWHERE


def _wait(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"the background rehearsal (pid {pid}) is still running"
        time.sleep(1)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`make test` started `python -m rehearsal --fast` in the background (REHEARSAL_PID): wait for
    it. Run alone, this runs it."""
    pid = os.environ.get("REHEARSAL_PID")
    if pid:
        _wait(int(pid), timeout_s=1500)
        summary, log = REPO_ROOT / ".rehearsal/summary.json", REPO_ROOT / ".rehearsal/rehearse.log"
        stdout = log.read_text(errors="replace")
    else:
        work = tmp_path_factory.mktemp("rehearsal")
        summary = work / "summary.json"
        cmd = [
            sys.executable,
            "-m",
            "rehearsal",
            "--fast",
            "--quick",
            "--work",
            str(work / "work"),
            "--summary",
            str(summary),
        ]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=1500)
        stdout = proc.stdout + proc.stderr
    assert summary.exists(), stdout[-6000:]
    data: dict[str, Any] = json.loads(summary.read_text())
    assert data["passed"], stdout[-6000:]
    assert "rehearsal passed" in stdout
    data["stdout"] = stdout
    return data


def test_every_workflow_ran_and_every_job_passed_or_was_skipped(rehearsal: dict[str, Any]) -> None:
    ran = {w["file"] for w in rehearsal["workflows"]}
    assert ran == WORKFLOWS, f"workflows never run: {WORKFLOWS - ran}"
    for run in rehearsal["workflows"]:
        if run["conclusion"] == "cancelled":  # a newer run in its concurrency group replaced it
            assert run["file"] == "ci.yml", run
            continue
        assert run["jobs"], run
        for job in run["jobs"]:
            assert job["result"] in ("success", "skipped"), (run["file"], run["event"], job)
    lines = [line for line in rehearsal["stdout"].splitlines() if line.startswith("run ")]
    assert len(lines) == len([r for r in rehearsal["workflows"] if r["conclusion"] != "cancelled"])


def test_the_pr_carries_one_sticky_report_comment_with_table_and_images(rehearsal: dict[str, Any]) -> None:
    reports = [c for c in rehearsal["forge"]["comments"] if "flightdelay PR report" in c["body"]]
    by_pr: dict[int, list[dict[str, Any]]] = {}
    for c in reports:
        by_pr.setdefault(int(c["issue_number"]), []).append(c)
    assert by_pr, "no report comment was posted"
    for number, comments in by_pr.items():
        assert len(comments) == 1, f"PR #{number} has {len(comments)} report comments"
        body = comments[0]["body"]
        assert re.search(r"^\| .*roc_auc.* \|$", body, re.M), body[:500]
        assert "|---" in body
        images = [i for i in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", body) if "watermark" not in i]
        # `--publish`: the PNG plots are uploaded and linked as CML links them.
        assert len(images) >= 3 and all("cml=png" in i for i in images), images


def test_merges_released_and_bumped_staging_on_main(rehearsal: dict[str, Any]) -> None:
    forge = rehearsal["forge"]
    assert "model-v1" in forge["tags"]
    newest = "model-v2" if "model-v2" in forge["tags"] else "model-v1"  # `--quick` stops before v2
    assert re.fullmatch(newest + r"-[0-9a-f]{7}", forge["overlays"]["staging"]), forge["overlays"]
    assert re.fullmatch(r"model-v1-[0-9a-f]{7}", forge["overlays"]["production"]), forge["overlays"]
    assert forge["refused_pushes"] == [], "a workflow push was refused (GH006?)"


def test_one_drift_issue_and_a_gated_retraining_pr(rehearsal: dict[str, Any]) -> None:
    forge = rehearsal["forge"]
    issues = [i for i in forge["issues"] if not i.get("pull_request")]
    drift = [i for i in issues if "drift" in json.dumps(i.get("labels", []))]
    assert len(drift) == 1, drift
    retrain = [p for p in forge["pulls"] if str(p["head"]["ref"]).startswith("retrain/")]
    assert len(retrain) == 1, retrain
    gate_runs = [
        w
        for w in rehearsal["workflows"]
        if w["file"] == "pr.yml" and w["conclusion"] == "success" and w.get("pr") == retrain[0]["number"]
    ]
    assert gate_runs, "the retraining PR's gate never ran"
    assert retrain[0]["user"]["login"] == "flightdelay-bot[bot]", (
        "the retraining PR must be opened by the App"
    )


def test_the_promotion_pr_was_opened_by_the_app_and_its_gate_ran(rehearsal: dict[str, Any]) -> None:
    promotion = [p for p in rehearsal["forge"]["pulls"] if str(p["head"]["ref"]).startswith("promote/")]
    assert promotion and promotion[0]["user"]["login"] == "flightdelay-bot[bot]"
    assert any(
        w["file"] == "pr.yml" and w.get("pr") == promotion[0]["number"] for w in rehearsal["workflows"]
    )


def test_no_process_is_left_running(rehearsal: dict[str, Any]) -> None:
    """Nothing the rehearsal started (servers, act, jobs) still runs in or on its work folder."""
    work = str(Path(rehearsal["work"]).resolve())
    left = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = str((proc / "cwd").resolve())
        except OSError:
            continue
        if work in cmd or cwd.startswith(work):
            left.append(cmd[:160])
    assert not left, left
