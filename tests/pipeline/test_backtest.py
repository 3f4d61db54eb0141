"""Rolling origin: each month is scored by a model of the months before it only; the metrics it reports."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from flightdelay.cli import main
from flightdelay.core.errors import ConfigError, DataError
from flightdelay.core.metrics import expected_calibration_error
from flightdelay.core.params import TrainParams
from flightdelay.pipeline import backtest

MONTHS = ["2013-01", "2013-02", "2013-03", "2013-04"]


def _frame(rows_per_month: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    parts = []
    for i, m in enumerate(MONTHS):
        n = rows_per_month
        dep = rng.integers(5, 23, n) * 100
        parts.append(
            pd.DataFrame(
                {
                    "partition": m,
                    "year": 2013,
                    "month": i + 1,
                    "day": rng.integers(1, 28, n),
                    "sched_dep_time": dep,
                    "sched_arr_time": dep + 200,
                    "carrier": rng.choice(["AA", "B6", "UA"], n),
                    "origin": rng.choice(["EWR", "JFK", "LGA"], n),
                    "dest": rng.choice(["ORD", "MIA"], n),
                    "distance": rng.uniform(200, 2500, n),
                    **{w: rng.normal(10, 3, n) for w in backtest.features.WEATHER},
                    "aircraft_leg": rng.integers(1, 4, n).astype(float),
                    "aircraft_gap_min": rng.uniform(60, 400, n),
                    "origin_hour_departures": rng.integers(5, 35, n).astype(float),
                    "origin_day_departures": rng.integers(250, 380, n).astype(float),
                    "precip_6h": rng.exponential(0.02, n),
                    # late departures are disrupted more often: something to learn
                    "disrupted": (rng.random(n) < 0.1 + 0.5 * (dep >= 1700)).astype("int8"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_each_month_is_scored_by_a_model_of_the_months_before_it_only() -> None:
    seen: list[tuple[str, ...]] = []

    def fitter(train: pd.DataFrame) -> Callable[[pd.DataFrame], np.ndarray]:
        seen.append(tuple(sorted(train["partition"].unique())))
        return lambda rows: np.full(len(rows), 0.3)

    rows = backtest.rolling_origin(_frame(), MONTHS, min_train_months=2, fitter=fitter, bins=10)
    assert [r["month"] for r in rows] == ["2013-03", "2013-04"]
    assert seen == [("2013-01", "2013-02"), ("2013-01", "2013-02", "2013-03")]
    assert rows[0]["train_months"] == "2013-01..2013-02"
    assert all(r["rows"] == 400 for r in rows)


def test_the_real_fitter_learns_and_the_summary_names_the_worst_month() -> None:
    fitter = backtest.xgboost_fitter(
        TrainParams(n_estimators=20, max_depth=3), min_category_count=5, n_jobs=1
    )
    rows = backtest.rolling_origin(_frame(), MONTHS, min_train_months=1, fitter=fitter, bins=10)
    assert len(rows) == 3
    assert all(r["roc_auc"] > 0.7 for r in rows)  # the hour signal is found every month
    s = backtest.summarize(rows)
    assert s["worst_roc_auc"] == pytest.approx(min(r["roc_auc"] for r in rows), abs=1e-6)
    assert s["mean_roc_auc"] == pytest.approx(np.mean([r["roc_auc"] for r in rows]), abs=1e-6)
    table = backtest.format_table({"summary": s, "per_month": rows})
    assert "2013-02" in table and "mean" in table and f"worst month by ROC AUC: {s['worst_month']}" in table


def test_a_calibrated_fitter_keeps_the_ranking_and_moves_the_scores_to_the_recent_rate() -> None:
    """train.calibration: platt — each fold's model is mapped on its newest month (scored by a model
    of the months before it); a monotone map, so ROC AUC stays, and the ECE reported is the
    calibrated one."""
    frame = _frame()
    # the months before each scored one end with a month whose rate is lower: the map lowers scores
    for m in MONTHS[1:3]:
        rows = frame.index[frame["partition"] == m]
        frame.loc[rows[::2], "disrupted"] = 0
    base = TrainParams(n_estimators=20, max_depth=3)
    runs = {
        c: backtest.rolling_origin(
            frame,
            MONTHS,
            min_train_months=2,
            fitter=backtest.xgboost_fitter(
                base.model_copy(update={"calibration": c}), min_category_count=5, n_jobs=1
            ),
            bins=10,
        )
        for c in ("none", "platt")
    }
    for plain, cal in zip(runs["none"], runs["platt"], strict=True):
        assert cal["roc_auc"] == pytest.approx(plain["roc_auc"], abs=1e-9)
        assert cal["mean_predicted"] != pytest.approx(plain["mean_predicted"], abs=1e-3)
        assert cal["ece"] != plain["ece"]


def test_expected_calibration_error() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0]), 10) == 0.0
    # every flight predicted 0.5, half disrupted: calibrated on average, so no error
    assert expected_calibration_error(y, np.full(4, 0.5), 10) == pytest.approx(0.0)
    # predicted 0.9 for all, 50% observed: off by 0.4
    assert expected_calibration_error(y, np.full(4, 0.9), 10) == pytest.approx(0.4)
    # two bins, each off by 0.2 in opposite directions: errors do not cancel
    s = np.array([0.2, 0.2, 0.8, 0.8])
    assert expected_calibration_error(np.array([0, 0, 1, 1]), s, 10) == pytest.approx(0.2)


def test_too_short_a_window_and_missing_months_are_explained() -> None:
    with pytest.raises(ConfigError, match="min_train_months=4"):
        backtest.rolling_origin(_frame(), MONTHS, min_train_months=4, fitter=lambda f: len, bins=10)
    with pytest.raises(DataError, match="no rows for 2013-05"):
        backtest.rolling_origin(
            _frame(), [*MONTHS, "2013-05"], min_train_months=1, fitter=lambda f: len, bins=10
        )


@pytest.mark.parametrize("window", ["2013-01", "2013-13:2013-14", "2013-06:2013-01", "jan:dec"])
def test_cli_refuses_a_bad_window(window: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--window", window]) == ConfigError.exit_code
    assert "YYYY-MM:YYYY-MM" in capsys.readouterr().err
