"""Calibration: fitted maps correct a biased score, survive the model file, and refuse bad documents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flightdelay.core import calibration
from flightdelay.core.calibration import Calibration


def _biased(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores that rank well but say twice the true rate."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(0.02, 0.45, n)
    return (rng.uniform(size=n) < true).astype(int), np.clip(2 * true, 0, 0.999).astype(np.float32)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_a_fitted_map_brings_the_mean_to_the_observed_rate_and_keeps_the_order(method: str) -> None:
    y, p = _biased()
    c = calibration.fit(method, y, p)
    q = c.apply(p)
    assert q.dtype == np.float32
    assert abs(float(p.mean()) - y.mean()) > 0.1  # the fixture is biased
    assert abs(float(q.mean()) - y.mean()) < 0.01
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= 0)  # monotone: ROC AUC unchanged (isotonic may tie)
    y2, p2 = _biased(seed=1)
    brier = lambda s: float(np.mean((s - y2) ** 2))  # noqa: E731
    assert brier(c.apply(p2)) < brier(p2)


@pytest.mark.parametrize("method", ["none", "platt", "isotonic"])
def test_the_map_round_trips_through_json(method: str) -> None:
    y, p = _biased(2000)
    c = calibration.fit(method, y, p)  # type: ignore[arg-type]
    again = Calibration.from_json(c.to_json())
    np.testing.assert_array_equal(again.apply(p), c.apply(p))
    assert Calibration.from_json(None).apply(p) is p  # a model from before calibration: identity


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"method": "sigmoid"}, "not one of none, platt, isotonic"),
        ({"method": "platt", "a": "1", "b": 0}, "finite numbers a and b"),
        ({"method": "platt", "a": float("nan"), "b": 0}, "finite numbers a and b"),
        ({"method": "isotonic", "x": [0.1, 0.05], "y": [0.1, 0.2]}, "x \\(increasing\\)"),
        ({"method": "isotonic", "x": [0.1, 0.2], "y": [0.3, 0.2]}, "non-decreasing"),
        ({"method": "isotonic", "x": [0.1], "y": []}, "equally long"),
    ],
)
def test_a_malformed_map_is_refused_with_what_is_wrong(doc: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Calibration.from_json(json.dumps(doc))
