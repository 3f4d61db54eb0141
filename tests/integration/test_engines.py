"""`train.engine: dask` (xgboost.dask on a LocalCluster) against the default local engine on the
same small repository: same feature spec, same bundle format, holdout ROC AUC within 0.005."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightdelay.core import bundle, features
from flightdelay.core.errors import ConfigError
from flightdelay.core.params import DaskParams, load_params
from flightdelay.pipeline import bundle as bundle_stage
from flightdelay.pipeline import evaluate, train
from tests.helpers import edit_params

AUC_TOLERANCE = 0.005
# Two workers as threads of the test process: no process start-up, still two XGBoost ranks.
DASK = {"engine": "dask", "dask": {"n_workers": 2, "processes": False, "memory_limit": "1GiB"}}
# Row and column sampling draw from each worker's own random stream, so with them the two engines
# train on different samples of the same rows; without them what differs is the engine alone.
SAME_SAMPLE = {"subsample": 1.0, "colsample_bytree": 1.0}


def test_dask_engine_matches_the_local_engine(
    pipeline_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(pipeline_repo)
    edit_params(pipeline_repo, {"train": SAME_SAMPLE})
    p = load_params("params.yaml")
    train.run(p.paths, train.config(p), log=False)
    local_auc = evaluate.run(p.paths, evaluate.config(p))["roc_auc"]
    written_bundle = bundle_stage.run(p.paths, bundle_stage.config(p))
    local = bundle.load(shutil.copytree(written_bundle, tmp_path / "local"), require_manifest=True)

    edit_params(pipeline_repo, {"train": DASK})
    p = load_params("params.yaml")
    written = Path(p.paths.model).stat().st_mtime_ns
    train.run(p.paths, train.config(p), log=False)
    assert "xgboost.dask on 2 worker(s)" in capsys.readouterr().err
    metrics = evaluate.run(p.paths, evaluate.config(p))
    dask_bundle = bundle.load(bundle_stage.run(p.paths, bundle_stage.config(p)), require_manifest=True)

    # The dask engine wrote its own model (on this small data it may be byte-identical to the local one).
    assert Path(p.paths.model).stat().st_mtime_ns != written, "the dask engine did not write a model"
    assert metrics["roc_auc"] == pytest.approx(local_auc, abs=AUC_TOLERANCE)
    assert dask_bundle.spec == local.spec
    assert (dask_bundle.path / bundle.SPEC_FILE).read_bytes() == (local.path / bundle.SPEC_FILE).read_bytes()
    assert dask_bundle.meta.params == local.meta.params  # hyperparameters only: the engine is not the model
    assert dask_bundle.booster.num_features() == local.booster.num_features() == len(features.FEATURES)
    # Serving's path (bundle booster on encoded records) gives the pipeline's scores.
    holdout = pd.read_parquet(Path(p.paths.features) / "holdout.parquet").head(200)
    records = holdout[list(features.INPUT_COLUMNS)].to_dict("records")
    served = dask_bundle.booster.inplace_predict(features.encode_records(dask_bundle.spec, records))
    np.testing.assert_allclose(served, evaluate.score_frame(evaluate.load_model(p.paths), holdout), atol=1e-6)


def test_unreachable_scheduler_is_a_config_error() -> None:
    d = DaskParams(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1)
    with (
        pytest.raises(ConfigError, match=r"train\.dask\.scheduler='tcp://127\.0\.0\.1:9'"),
        train.dask_client(d),
    ):
        pass
