"""The numpy forest used for small batches gives XGBoost's answers, or is not used at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from api import treeeval
from api.state import SMALL_BATCH, load_model
from flightdelay import bundle

pytestmark = pytest.mark.serve_only


def test_forest_matches_the_booster_with_missing_values(bundles: tuple[Path, Path]) -> None:
    for path in bundles:
        b = bundle.load(path)
        forest = treeeval.from_booster(b.booster)
        assert forest is not None
        rng = np.random.default_rng(7)
        x = rng.normal(size=(300, b.booster.num_features())).astype(np.float32)
        x[rng.random(x.shape) < 0.3] = np.nan
        ref = b.booster.inplace_predict(x)
        for n in (1, 2, SMALL_BATCH, 300):
            assert np.abs(forest.predict(x[:n]) - ref[:n]).max() <= 1e-6
        assert treeeval.check(forest, b.booster, x.shape[1]) <= 1e-6


def test_served_model_uses_the_forest_only_for_small_batches(bundles: tuple[Path, Path]) -> None:
    m = load_model(bundles[0], generation=0)
    assert m.forest is not None


def test_other_objectives_are_left_to_xgboost() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(x, label=x[:, 0]), 3)
    assert treeeval.from_booster(booster) is None
