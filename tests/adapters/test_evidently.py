"""The Evidently adapter: identical samples are not sent to Evidently (their distances are 0 by
definition), and Evidently, asked anyway, agrees for every method params allow."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightdelay.adapters import evidently as adapter
from flightdelay.core.params import CategoricalDistanceMethod, DistanceMethod, DriftParams

METHODS = typing.get_args(DistanceMethod)
CATEGORICAL = typing.get_args(CategoricalDistanceMethod)


def frame(seed: int, rows: int = 2_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = DriftParams()
    out = pd.DataFrame({c: rng.normal(50, 10, rows) for c in p.numerical})
    out.loc[rng.random(rows) < 0.1, "wind_gust"] = np.nan  # missing values are part of "identical"
    for c, values in (("carrier", ["AA", "B6", "DL", "UA"]), ("origin", ["EWR", "JFK", "LGA"])):
        out[c] = rng.choice(values, rows)
    out["dest"] = rng.choice(["ATL", "BOS", "LAX", "ORD", "MIA"], rows)
    return out


def params(method: str) -> DriftParams:
    cat = method if method in CATEGORICAL else "jensenshannon"
    return DriftParams(num_method=method, cat_method=cat, min_column_values=100)


@pytest.mark.parametrize("method", METHODS)
def test_identical_samples_skip_evidently_and_evidently_agrees(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = frame(1)
    evaluated = []
    real = adapter._evaluate
    monkeypatch.setattr(adapter, "_evaluate", lambda *a: evaluated.append(1) or real(*a))
    result = adapter.run(data, data.copy(), params(method))
    assert not evaluated, "identical samples were sent to Evidently"
    assert [c.score for c in result.columns] == [0.0] * len(result.columns)
    # What Evidently says for the same samples (its report, read as the adapter reads it):
    ref = adapter._frame(data, params(method).numerical, params(method).categorical)
    pl = adapter.plan(ref, ref, params(method), params(method).numerical)
    _, metrics = real(ref, ref.copy(), pl, params(method).categorical)
    computed = adapter._scores(metrics, pl.compared)
    assert set(computed) == {c.column for c in result.columns}
    assert max(abs(v) for v in computed.values()) < 1e-6, computed


def test_params_refuse_a_numbers_only_distance_for_categorical_columns() -> None:
    with pytest.raises(ValueError, match="cat_method"):
        DriftParams(cat_method="wasserstein")  # type: ignore[arg-type]


def test_different_samples_go_to_evidently() -> None:
    a, b = frame(1), frame(1)
    b.loc[0, "temp"] += 1.0  # one value differs
    result = adapter.run(a, b, params("wasserstein"))
    assert result.snapshot is not None
    assert next(c for c in result.columns if c.column == "temp").score > 0.0


def test_the_html_report_of_identical_samples_is_still_written(tmp_path: Path) -> None:
    data = frame(2, rows=600)
    result = adapter.run(data, data.copy(), params("wasserstein"))
    assert result.snapshot is None
    path = adapter.save_html(result, tmp_path / "drift.html")
    assert path.stat().st_size > 10_000 and b"<html" in path.read_bytes()[:5_000].lower()
