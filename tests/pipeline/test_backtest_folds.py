"""The backtest's folds: fitted at once they are the models fitted one after the other, and the fold
of the training months is the `train` stage's model, reused only when it is that fold's model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flightdelay.core.params import Params, TrainParams, load_params
from flightdelay.pipeline import backtest, folds
from tests.pipeline.test_backtest import MONTHS, _frame


def test_folds_fitted_at_once_are_the_folds_fitted_one_after_the_other() -> None:
    # row and column sampling on: each booster must draw from its own random stream
    train = TrainParams(n_estimators=30, max_depth=3, subsample=0.7, colsample_bytree=0.6)
    fitter = backtest.xgboost_fitter(train, min_category_count=5, n_jobs=1)
    runs = {
        workers: backtest.rolling_origin(
            _frame(2000), MONTHS, min_train_months=1, fitter=fitter, bins=10, workers=workers
        )
        for workers in (1, 2, 3)
    }
    assert [r["month"] for r in runs[2]] == MONTHS[1:]
    assert runs[2] == runs[1] and runs[3] == runs[1]


def test_in_parallel_keeps_the_order_and_starts_the_largest_fold_first() -> None:
    started: list[int] = []

    def fold(i: int) -> int:
        started.append(i)
        return i * 10

    assert folds.in_parallel(fold, range(2, 6), workers=1) == [20, 30, 40, 50]
    assert started == [2, 3, 4, 5]
    started.clear()
    assert folds.in_parallel(fold, range(2, 6), workers=2) == [20, 30, 40, 50]
    assert started[0] == 5


def _counting_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    fits: list[int] = []
    real = backtest.fit_model

    def fit_model(frame: Any, *args: Any, **kw: Any) -> Any:
        fits.append(len(frame))
        return real(frame, *args, **kw)

    monkeypatch.setattr(backtest, "fit_model", fit_model)
    return fits


@pytest.fixture
def stage(built_repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Params, pd.DataFrame]:
    """The small repository after `dvc repro`: January trains, February is the holdout and the one
    backtest month; its params and featurized rows."""
    monkeypatch.chdir(built_repo)
    p = load_params("params.yaml")
    return p, backtest.featurized_rows(p.paths)


def _backtest(p: Params, frame: pd.DataFrame, train: TrainParams, reuse: bool) -> dict[str, Any]:
    cfg = backtest.config(p)
    cfg = backtest.BacktestConfig(cfg.backtest, train, cfg.min_category_count, cfg.window)
    months = cfg.window.months
    return backtest.evaluate(cfg, frame, months, cfg.backtest.min_train_months, p.paths if reuse else None)


@pytest.mark.slow
def test_the_stage_reuses_the_train_stage_model_and_writes_what_fitting_the_fold_gives(
    stage: tuple[Params, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, frame = stage
    fits = _counting_fits(monkeypatch)
    fitted = _backtest(p, frame, p.train, reuse=False)
    assert len(fits) == 1
    reused = _backtest(p, frame, p.train, reuse=True)
    assert len(fits) == 1, "the fold of the training months was fitted again"
    assert reused["per_month"] == fitted["per_month"]
    # what `dvc repro` wrote (reusing) is what fitting every fold writes
    committed = json.loads(Path(p.paths.backtest).read_text())
    assert committed["per_month"] == fitted["per_month"]
    assert committed["summary"] == fitted["summary"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "labels"),
    [({"n_estimators": 29}, "same"), ({"engine": "dask"}, "same"), ({}, "flipped")],
    ids=["another tree count", "the dask engine", "other labels (a spec of other category ranks)"],
)
def test_a_model_that_is_not_the_fold_s_is_not_reused(
    stage: tuple[Params, pd.DataFrame], monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], labels: str
) -> None:
    p, frame = stage
    if labels == "flipped":
        frame["disrupted"] = 1 - frame["disrupted"]
    fits = _counting_fits(monkeypatch)
    _backtest(p, frame, p.train.model_copy(update=change), reuse=True)
    assert len(fits) == 1
