"""FLIGHTDELAY_TRACKING=off (pr.yml sets it): `train` writes the same model and skips MLflow; any
other value than on/off is refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flightdelay.adapters import hashing, tracking
from flightdelay.core.errors import ConfigError
from flightdelay.core.params import load_params
from flightdelay.pipeline import train


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("", True), ("off", False), (" OFF ", False)])
def test_the_switch_reads_on_and_off(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv(tracking.TRACKING_ENV, value)
    assert tracking.enabled() is expected


def test_an_unknown_value_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tracking.TRACKING_ENV, "false")
    with pytest.raises(ConfigError, match=r"FLIGHTDELAY_TRACKING='false' is not one of on, off"):
        tracking.enabled()


def test_train_with_tracking_off_logs_nothing_and_writes_the_same_model(
    pipeline_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(pipeline_repo)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv(tracking.TRACKING_ENV, "off")
    p = load_params("params.yaml")
    before = hashing.file_md5(p.paths.model)
    Path(p.paths.model).unlink()
    (pipeline_repo / "mlflow.db").unlink(missing_ok=True)  # what the pipeline's own run left
    shutil.rmtree(pipeline_repo / "mlruns", ignore_errors=True)

    train.run(p.paths, train.config(p))

    assert "not logged to MLflow (FLIGHTDELAY_TRACKING=off)" in capsys.readouterr().err
    assert not (pipeline_repo / "mlflow.db").exists()
    assert not (pipeline_repo / "mlruns").exists()
    assert hashing.file_md5(p.paths.model) == before  # what dvc.lock records is unchanged
