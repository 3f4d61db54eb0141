"""End to end on a real trained repo: check a prediction log, decide the issue, prepare retraining."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import check, schema
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month
from tests.helpers import repo_env, run
from tests.lifecycle.drift.logs import write_prediction_log
from tests.lifecycle.drift.summaries import drift_summary

pytestmark = pytest.mark.slow

SUMMARY_FIELDS = {
    "schema_version",
    "live_quality",
    "drifted_features",
    "status",
    "exit_code",
    "drift_detected",
    "reasons",
    "checked_at",
    "checked_at_unix",
    "current",
    "reference",
    "data_drift",
    "prediction_drift",
    "model_quality",
    "trigger",
    "artifacts",
    "run_url",
}


def fd(repo: Path, *args: str, check_rc: bool = False) -> tuple[int, str, str]:
    proc = run([sys.executable, "-m", "flightdelay", *args], repo, repo_env(repo), check=check_rc)
    return proc.returncode, proc.stdout, proc.stderr


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo, repo_env(repo)).stdout.strip()


@pytest.fixture
def july_log(pipeline_repo: Path, tmp_path: Path) -> Path:
    """Real July flights scored by the repo's bundle, as the API would log them."""
    raw = tmp_path / "raw"
    source.materialize("2013-07", raw)
    df, _ = prepare_month("2013-07", raw, load_params(pipeline_repo / "params.yaml").prepare)
    df = df.loc[~df["is_duplicate"]].sample(8000, random_state=1).reset_index(drop=True)
    scores = check.score_with_bundle(df, pipeline_repo / "models" / "bundle")
    return write_prediction_log(tmp_path / "predictions.jsonl", df, scores, malformed=2)


def test_log_check_exit_codes_outputs_trigger_and_issue(pipeline_repo: Path, july_log: Path) -> None:
    repo = pipeline_repo
    history = repo / "reports" / "drift" / "history.json"
    history.parent.mkdir(parents=True)
    earlier = [
        {"checked_at": f"2026-01-0{i}T00:00:00+00:00", "status": s, "drift_share": 0.0}
        for i, s in enumerate(["drift", "no_drift", "drift"], start=1)
    ]
    history.write_text(json.dumps({"schema_version": 1, "checks": earlier}))

    rc, out, err = fd(repo, "drift", "check", "--log", str(july_log))
    assert rc == 10, err
    assert json.loads(out)["status"] == "drift"
    assert "skipped 2 malformed line(s)" in err
    summary = json.loads((repo / "reports/drift/summary.json").read_text())
    assert set(summary) == SUMMARY_FIELDS  # the documented shape, schema_version 1
    assert schema.dump(schema.read(schema.DriftSummary, repo / "reports/drift/summary.json", "")) == summary
    assert summary["schema_version"] == 1
    assert summary["current"]["malformed_lines"] == 2
    assert summary["current"]["rows"] == 8000
    assert summary["prediction_drift"]["score"] is not None
    assert summary["model_quality"] is None  # a log has no outcomes
    assert summary["live_quality"] is None  # no --live: no joined outcomes either
    # Drift now and in 1 of the 2 checks before (the oldest fell out of the last 3): 2 of 3.
    assert summary["trigger"]["considered"] == ["no_drift", "drift", "drift"]
    assert json.loads(out)["retrain_recommended"] is True
    assert summary["trigger"]["signal"] == "input drift"
    assert len(json.loads(history.read_text())["checks"]) == 4
    prom = (repo / "reports/drift/metrics.prom").read_text()
    for name in (
        "flightdelay_drift_share",
        "flightdelay_drift_detected",
        "flightdelay_model_quality_roc_auc",
        "flightdelay_model_quality_floor",
    ):
        assert f"# TYPE {name} gauge" in prom
    assert "flightdelay_model_quality_roc_auc NaN" in prom
    assert "flightdelay_drift_detected 1.0" in prom

    existing = repo / "existing.json"
    existing.write_text(json.dumps([{"number": 7, "state": "OPEN"}]))
    _, out, _ = fd(
        repo,
        "drift",
        "issue-action",
        "--summary",
        "reports/drift/summary.json",
        "--existing",
        str(existing),
        check_rc=True,
    )
    assert json.loads(out)["action"] == "update"
    assert json.loads(out)["number"] == 7

    rc, _, err = fd(repo, "drift", "check", "--months", "next")
    assert rc == 3
    assert "flightdelay data add 2013-03" in err


def test_retrain_prepare_commits_a_branch_linked_to_the_evidence(pipeline_repo: Path) -> None:
    repo = pipeline_repo
    evidence = repo / "reports" / "drift" / "summary.json"
    evidence.parent.mkdir(parents=True)
    checked = drift_summary(checked_at="2026-01-02T00:00:00+00:00")
    schema.write(
        evidence,
        checked.model_copy(update={"data_drift": checked.data_drift.model_copy(update={"share": 0.42})}),
    )
    rc, out, err = fd(
        repo, "retrain", "prepare", "--months", "next", "--evidence", str(evidence), "--issue", "12"
    )
    assert rc == 0, err
    res = json.loads(out)
    assert res["branch"] == "retrain/2013-03"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "retrain/2013-03"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    message = git(repo, "log", "-1", "--format=%B")
    assert "move the training window end 2013-02 → 2013-03" in message
    assert "Refs #12" in message
    assert "drift share 0.42" in message
    changed = set(git(repo, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert {"params.yaml", "data/raw/2013-03.dvc"} <= changed
    assert load_params(repo / "params.yaml").data.window.end == "2013-03"
    body = (
        Path(res["body"]).read_text() if Path(res["body"]).is_absolute() else (repo / res["body"]).read_text()
    )
    assert "Refs #12" in body
    assert "temp" in body


def test_retrain_prepare_refuses_a_dirty_tree_and_rolls_back_on_failure(
    pipeline_repo: Path,
) -> None:
    repo = pipeline_repo
    params = repo / "params.yaml"
    original = params.read_text()
    params.write_text(original + "\n# local edit\n")
    rc, _, err = fd(repo, "retrain", "prepare", "--months", "2013-03")
    assert rc == 8
    assert "uncommitted changes" in err
    assert git(repo, "branch", "--list", "retrain/*") == ""

    # A window written in flow style cannot be edited: the step fails after `data add` ran,
    # and everything it did is undone.
    text = original.replace(
        "window:\n    start: 2013-01\n    end: 2013-02",
        'window: {start: "2013-01", end: "2013-02"}',
    )
    assert text != original
    params.write_text(text)
    git(repo, "commit", "-qam", "flow-style window")
    head = git(repo, "rev-parse", "HEAD")
    rc, _, err = fd(repo, "retrain", "prepare", "--months", "2013-03")
    assert rc == 2, err
    assert "block style" in err
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "branch", "--list", "retrain/*") == ""
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / "data/raw/2013-03.dvc").exists()
    assert not (repo / "data/raw/2013-03").exists()
