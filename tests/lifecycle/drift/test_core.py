"""The pure verdict: weights from importance, shares, critical columns, quality floor."""

from __future__ import annotations

import pytest

from flightdelay.core import drift as core
from flightdelay.core.params import DriftParams

P = DriftParams()


def col(
    name: str,
    score: float | None,
    weight: float,
    kind: str = "numerical",
    values: tuple[int, int] = (1000, 1000),
    rows: tuple[int, int] = (0, 0),
) -> core.ColumnDrift:
    """A column result; `values` = non-missing (reference, current), `rows` = rows compared."""
    return core.ColumnDrift(
        column=name,
        kind=kind,
        method="wasserstein",
        threshold=0.1,  # type: ignore[arg-type]
        score=score,
        reference_values=values[0],
        current_values=values[1],
        weight=weight,
        reference_rows=rows[0],
        current_rows=rows[1],
    )


def test_weights_map_derived_features_back_to_input_columns() -> None:
    importance = [
        {"feature": "dep_minute", "gain": 6.0},
        {"feature": "temp", "gain": 2.0},
        {"feature": "month", "gain": 50.0},
        {"feature": "day_of_week", "gain": 50.0},
        {"feature": "arr_minute", "gain": 2.0},
    ]
    w = core.column_weights(importance, ["sched_dep_time", "sched_arr_time", "temp", "visib"])
    assert w == {"sched_dep_time": 0.6, "sched_arr_time": 0.2, "temp": 0.2, "visib": 0.0}


def test_weights_fall_back_to_uniform_without_importance() -> None:
    assert core.column_weights([], ["a", "b"]) == {"a": 0.5, "b": 0.5}


def test_weighted_share_counts_importance_not_columns() -> None:
    # One important column drifted out of four: unweighted 0.25, weighted 0.7.
    cols = [col("a", 0.5, 0.7), col("b", 0.01, 0.1), col("c", 0.02, 0.1), col("d", 0.0, 0.1)]
    v = core.decide(cols, P, prediction_score=None, current_roc_auc=None, floor=None)
    assert (v.status, v.exit_code) == ("drift", core.EXIT_DRIFT)
    assert v.drift_share == pytest.approx(0.7)
    assert v.unweighted_share == pytest.approx(0.25)


def test_unimportant_drift_alone_is_not_drift() -> None:
    cols = [col("a", 0.5, 0.05), col("b", 0.01, 0.95)]
    v = core.decide(cols, P, prediction_score=0.01, current_roc_auc=None, floor=None)
    assert v.status == "no_drift"
    assert v.exit_code == core.EXIT_NO_DRIFT


def test_a_critical_column_is_drift_whatever_its_weight() -> None:
    cols = [col("temp", 4.0, 0.01), col("b", 0.0, 0.99)]
    v = core.decide(cols, P, prediction_score=None, current_roc_auc=None, floor=None)
    assert v.status == "drift"
    assert v.critical_columns == ["temp"]


def test_a_column_gone_missing_is_critical_even_when_not_compared() -> None:
    gone = col("temp", None, 0.05, values=(20000, 0), rows=(20000, 8000))
    sparse = col("wind_gust", None, 0.05, values=(4000, 100), rows=(20000, 8000))
    v = core.decide(
        [gone, sparse, col("b", 0.0, 0.9)], P, prediction_score=None, current_roc_auc=None, floor=None
    )
    assert v.critical_columns == ["temp"]  # gusts were mostly missing already
    assert v.status == "drift"


def test_columns_not_compared_do_not_count() -> None:
    cols = [col("gust", None, 0.9), col("b", 0.0, 0.1)]
    assert core.drift_shares(cols) == (0.0, 0.0)


def test_prediction_drift_and_quality_floor_each_make_drift() -> None:
    calm = [col("a", 0.0, 1.0)]
    assert core.decide(calm, P, prediction_score=0.2, current_roc_auc=None, floor=None).prediction_drift
    v = core.decide(calm, P, prediction_score=0.0, current_roc_auc=0.70, floor=core.quality_floor(0.75, P))
    assert v.quality_below_floor
    assert v.status == "drift"
    ok = core.decide(calm, P, prediction_score=0.0, current_roc_auc=0.73, floor=0.72)
    assert ok.status == "no_drift"


def test_not_enough_data_has_its_own_exit_code() -> None:
    v = core.not_enough_data(10, P)
    assert (v.status, v.exit_code) == ("not_enough_data", core.EXIT_NOT_ENOUGH_DATA)
