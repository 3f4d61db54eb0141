"""The backtest's folds: several fitted at once, and the one the `train` stage already fitted reused.

The newest fold of the pipeline's window trains on the months before the holdout, which are the
`train` stage's training rows: with the same train params, the same spec (fitted on the same rows
with the same category floor) and the same `core.model.fit_model`, its model is `paths.model`. XGBoost
builds the same trees for any thread count (the June 2013 fold: identical scores with 1 and 2
threads), so the backtest's own `n_jobs` does not make it another model. The stage declares the
model and the spec as deps; the rows are checked before the model is used (`reusing`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pandas as pd

from flightdelay.core import features
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import Paths, TrainParams
from flightdelay.core.progress import say

T = TypeVar("T")
Scorer = Callable[[pd.DataFrame], np.ndarray]
Fitter = Callable[[pd.DataFrame], Scorer]


def in_parallel(fold: Callable[[int], T], indices: Sequence[int], workers: int) -> list[T]:
    """`fold(i)` for each index, in order, on `workers` threads, the last (largest) folds first.

    Threads, not processes: XGBoost trains and predicts outside the GIL (ctypes calls), each
    booster with its own thread-local random stream, so two folds use two cores and give the
    trees they give one after the other."""
    if workers <= 1 or len(indices) <= 1:
        return [fold(i) for i in indices]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fold") as pool:
        return list(pool.map(fold, indices[::-1]))[::-1]


def scorer(model: FlightDelayModel) -> Scorer:
    return lambda rows: np.asarray(model.predict_proba(rows[list(features.INPUT_COLUMNS)])[:, 1])


def reusing(fitter: Fitter, paths: Paths, train: TrainParams, min_category_count: int) -> Fitter:
    """`fitter`, except for the rows the `train` stage fitted `paths.model` on: that model.

    They are recognised by their months (the spec's training months) and checked to give the same
    spec; a model of the Dask engine (other trees) or with another tree count is fitted again."""
    spec = features.FeatureSpec.load(paths.feature_spec)
    months = sorted(str(m) for m in spec.meta.get("train_months", []))

    def fit(frame: pd.DataFrame) -> Scorer:
        if train.engine != "local" or sorted(frame["partition"].astype(str).unique()) != months:
            return fitter(frame)
        fold = features.fit_spec(frame, "disrupted", min_category_count)
        model = FlightDelayModel(spec, load_classifier(str(paths.model)))
        same = (
            fold.categories == spec.categories
            and fold.features == spec.features
            and model.classifier.get_booster().num_boosted_rounds() == train.n_estimators
        )
        if not same:
            return fitter(frame)
        say(f"backtest: {months[0]}..{months[-1]} is the train stage's fit: {paths.model} reused")
        return scorer(model)

    return fit
