"""End to end on a real trained repo: check a prediction log, decide the issue, prepare retraining."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import check, schema
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month
from tests.helpers import flightdelay, repo_env, run
from tests.lifecycle.drift.logs import write_prediction_log

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
    res = flightdelay(repo, *args, check=check_rc)
    return res.returncode, res.stdout, res.stderr


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


def test_retrain_prepare_commits_a_branch_linked_to_the_evidence(
    retrained_repo: Path, tmp_path: Path
) -> None:
    """`retrain prepare --months next --evidence … --issue 12`, run once for the session on a copy of
    the trained repo (`retrained_repo`, which the release and PR-report tests build on): what it
    printed and left, and the branch it committed."""
    repo, branch = retrained_repo, "retrain/2013-03"
    prepared = json.loads((repo.parent / "prepared.json").read_text())
    assert prepared["returncode"] == 0, prepared["stderr"]
    res = json.loads(prepared["stdout"])
    assert res["branch"] == branch
    assert prepared["head"] == branch
    assert prepared["status"] == ""
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert "move the training window end 2013-02 → 2013-03" in message
    assert "Refs #12" in message
    assert "drift share 0.42" in message
    changed = set(git(repo, "show", "--name-only", "--format=", branch).splitlines())
    # the retrained lock (and the metrics it names) committed with the data and the window
    assert {"dvc.lock", "params.yaml", "data/raw/2013-03.dvc", "reports/metrics.json"} <= changed
    params = tmp_path / "params.yaml"
    params.write_text(git(repo, "show", f"{branch}:params.yaml"))
    assert load_params(params).data.window.end == "2013-03"
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
