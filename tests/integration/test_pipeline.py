"""The real pipeline (`dvc repro`) in a temporary git + DVC repository: outputs, idempotence,
MLflow tracking, and refusal of corrupted partitions. Reproducibility (a `dvc repro` from scratch
gives the committed model hash and metrics) is asserted where a release relies on it, in
tests/lifecycle/release/test_handoff.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from flightdelay.adapters.hashing import file_md5
from flightdelay.core import bundle
from tests.helpers import flightdelay, repo_env, run

pytestmark = pytest.mark.slow

METRIC_KEYS = {"roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall"}


def test_repro_writes_every_declared_output(built_repo: Path) -> None:
    metrics = json.loads((built_repo / "reports/metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    assert metrics["holdout_months"] == ["2013-02"]
    assert 0.6 < metrics["roc_auc"] < 1.0
    slices = json.loads((built_repo / "reports/slices.json").read_text())
    assert {s["slice"] for s in slices} == {"carrier", "origin"}
    for plot in (
        "roc.json",
        "precision_recall.json",
        "calibration.json",
        "importance.json",
        "confusion.csv",
    ):
        assert (built_repo / "reports/plots" / plot).stat().st_size > 0
    backtest = json.loads((built_repo / "reports/backtest.json").read_text())
    assert [(r["month"], r["train_months"]) for r in backtest["per_month"]] == [
        ("2013-02", "2013-01..2013-01")
    ]
    assert set(backtest["per_month"][0]) >= {
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "positive_rate",
        "rows",
    }
    assert backtest["summary"]["worst_month"] == "2013-02"
    assert json.loads((built_repo / "reports/plots/backtest.json").read_text())[0]["month"] == "2013-02"
    ref = pd.read_parquet(built_repo / "data/reference/reference.parquet")
    assert {"score", "disrupted", "temp", "carrier"} <= set(ref.columns)
    b = bundle.load(built_repo / "models/bundle")
    assert b.metadata["model_md5"] == file_md5(built_repo / "models/model.json")
    assert b.metadata["training_window"] == {"start": "2013-01", "end": "2013-02"}
    assert run(["dvc", "status", "--json"], built_repo).stdout.strip() in ("{}", "")


def test_second_repro_is_a_no_op(pipeline_repo: Path) -> None:
    lock = (pipeline_repo / "dvc.lock").read_text()
    out = run(["dvc", "repro"], pipeline_repo, repo_env(pipeline_repo)).stdout
    assert "Running stage" not in out
    assert (pipeline_repo / "dvc.lock").read_text() == lock


def test_train_logs_params_metrics_hashes_and_model_to_mlflow(built_repo: Path) -> None:
    db = sqlite3.connect(built_repo / "mlflow.db")
    params = dict(db.execute("select key, value from params").fetchall())
    metrics = dict(db.execute("select key, value from metrics").fetchall())
    tags = dict(db.execute("select key, value from tags").fetchall())
    assert params["train.max_depth"] == "4" and params["data.window"] == "2013-01..2013-02"
    assert metrics["holdout_roc_auc"] == pytest.approx(
        json.loads((built_repo / "reports/metrics.json").read_text())["roc_auc"], abs=1e-6
    )
    assert tags["dvc.model_md5"] == file_md5(built_repo / "models/model.json")
    assert len(tags["git_sha"]) == 40
    assert tags["dvc.raw.2013-01"].endswith(".dir")
    mlmodels = list((built_repo / "mlruns").rglob("MLmodel"))
    assert mlmodels, "the model was not logged"
    assert "signature" in mlmodels[0].read_text()


def _celsius(repo: Path) -> None:
    path = repo / "data/raw/2013-02/weather.csv"
    w = pd.read_csv(path)
    w["temp"] = ((w["temp"] - 32) * 5 / 9).round(2)
    w.to_csv(path, index=False)


def _drop_column(repo: Path) -> None:
    path = repo / "data/raw/2013-02/weather.csv"
    pd.read_csv(path).drop(columns=["humid"]).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("corrupt", "says"),
    [(_celsius, "rule temperature_units"), (_drop_column, "no column 'humid'")],
    ids=["celsius", "missing-column"],
)
def test_corrupted_partition_fails_validate_and_keeps_model_and_metrics(
    pipeline_repo: Path,
    corrupt: object,
    says: str,
) -> None:
    before = {
        p: (pipeline_repo / p).read_bytes()
        for p in ("models/model.json", "reports/metrics.json", "models/bundle/metadata.json")
    }
    corrupt(pipeline_repo)  # type: ignore[operator]
    proc = run(["dvc", "repro"], pipeline_repo, repo_env(pipeline_repo), check=False)
    assert proc.returncode != 0
    assert says in proc.stderr + proc.stdout
    assert "validate" in proc.stderr + proc.stdout
    for p, content in before.items():
        assert (pipeline_repo / p).read_bytes() == content, f"{p} changed after a failed validate"


def test_fresh_clone_restores_partitions_from_the_embedded_source(built_repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(built_repo), str(clone)], tmp_path)
    remote = tmp_path / "remote"
    env = {**repo_env(clone), "DVC_REMOTE_URL": str(remote)}
    proc = flightdelay(clone, "data", "restore", env=env)
    assert "embedded source" in proc.stderr
    dvc_files = sorted(str(p.relative_to(clone)) for p in (clone / "data/raw").glob("*.dvc"))
    assert run(["dvc", "status", "--json", *dvc_files], clone, env).stdout.strip() in ("{}", "")
    assert any(remote.rglob("*")), "restore did not fill the remote named by DVC_REMOTE_URL"
    assert run(["git", "status", "--porcelain"], clone).stdout.strip() == "", "tracked files changed"

    # A partition gone from the workspace but in the DVC cache (a CI cache restore) comes back
    # from the cache, with no remote configured.
    run(["rm", "-rf", "data/raw/2013-02"], clone)
    proc = flightdelay(clone, "data", "restore", env={**env, "DVC_REMOTE_URL": ""})
    assert "2013-02 ← DVC cache" in proc.stderr
    assert (clone / "data/raw/2013-02").is_dir()

    # A .dvc file whose hash the source cannot reproduce is refused, not silently rewritten.
    dvc_file = clone / "data/raw/2013-01.dvc"
    run(["rm", "-rf", "data/raw/2013-01"], clone)
    text = dvc_file.read_text()
    md5 = text.split("md5: ")[1].split(".dir")[0]
    dvc_file.write_text(text.replace(md5, "0" * 32))
    proc = flightdelay(clone, "data", "restore", "--no-push", env={**env, "DVC_REMOTE_URL": ""}, check=False)
    assert proc.returncode == 3
    assert "do not match" in proc.stderr
