"""The one feature definition: vectorised (training) and per-record (serving) encodings agree."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from flightdelay.core import features
from flightdelay.core.features import FeatureSpec, encode_frame, encode_record, encode_records, fit_spec


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": [2013, 2013, 2013, 2013],
            "month": [1, 2, 6, 12],
            "day": [1, 28, 15, 31],
            "sched_dep_time": [515, 2359, 0, 1230],
            "sched_arr_time": [819, 5, 130, 1545],
            "carrier": ["UA", "AA", "ZZ", "B6"],
            "origin": ["EWR", "JFK", "LGA", "XXX"],
            "dest": ["IAH", "MIA", "ORD", "NEW"],
            "distance": [1400.0, 1089.0, 733.0, 2475.0],
            "temp": [39.02, np.nan, 80.1, 20.0],
            "dewp": [26.06, 10.0, 60.0, 5.0],
            "humid": [59.37, 50.0, 70.0, 40.0],
            "wind_dir": [270.0, np.nan, 10.0, 0.0],
            "wind_speed": [10.35702, 8.0, 0.0, 30.0],
            "wind_gust": [np.nan, np.nan, 20.0, 40.0],
            "precip": [0.0, 0.1, 0.0, 0.02],
            "pressure": [1012.0, np.nan, 1020.5, 990.0],
            "visib": [10.0, 2.0, 10.0, 0.25],
            "aircraft_leg": [1.0, 3.0, np.nan, 2.0],
            "aircraft_gap_min": [np.nan, 125.0, np.nan, 0.0],
            "origin_hour_departures": [12.0, 30.0, 1.0, np.nan],
            "origin_day_departures": [301.0, np.nan, 1.0, 377.0],
            "precip_6h": [0.12, 0.31, np.nan, 0.02],
        }
    )


SPEC = FeatureSpec(
    categories={
        "carrier": {"UA": 0.0, "AA": 1.0, "B6": 2.0},
        "origin": {"EWR": 0.0, "JFK": 1.0, "LGA": 2.0},
        "dest": {"IAH": 0.0, "MIA": 1.0, "ORD": 2.0},
    }
)


def test_frame_and_record_encodings_are_identical() -> None:
    df = _rows()
    by_frame = encode_frame(SPEC, df)
    by_record = encode_records(SPEC, df.replace({np.nan: None}).to_dict("records"))
    assert by_frame.dtype == by_record.dtype == np.float32
    np.testing.assert_array_equal(by_frame, by_record)


def test_derived_schedule_features() -> None:
    row = encode_record(SPEC, _rows().iloc[0].to_dict())
    f = dict(zip(features.FEATURES, row, strict=True))
    assert f["dep_minute"] == 5 * 60 + 15
    assert f["arr_minute"] == 8 * 60 + 19
    assert f["day_of_week"] == 1.0  # 2013-01-01 was a Tuesday
    assert "month" not in f  # an input since version 4, not a feature (see FEATURES)
    assert f["precip_6h"] == np.float32(0.12)  # sent as it is


def test_unseen_categories_become_missing_not_errors() -> None:
    row = dict(zip(features.FEATURES, encode_record(SPEC, _rows().iloc[3].to_dict()), strict=True))
    assert math.isnan(row["origin"]) and math.isnan(row["dest"])
    assert row["carrier"] == 2.0


def test_fit_spec_ranks_categories_by_label_rate_and_drops_rare() -> None:
    df = pd.DataFrame(
        {
            "carrier": ["A"] * 30 + ["B"] * 30 + ["C"] * 5,
            "origin": ["EWR"] * 65,
            "dest": ["IAH"] * 65,
            "y": [1] * 20 + [0] * 10 + [1] * 5 + [0] * 25 + [1] * 5,
        }
    )
    spec = fit_spec(df, "y", min_count=20)
    assert spec.categories["carrier"] == {"B": 0.0, "A": 1.0}  # C is too rare → missing


def test_spec_round_trips_and_refuses_other_versions() -> None:
    again = FeatureSpec.from_json(SPEC.to_json())
    assert again.categories == SPEC.categories
    with pytest.raises(ValueError, match=r"version 99 is not one this code reads.*dvc repro"):
        FeatureSpec.from_json(SPEC.to_json().replace('"version": 4', '"version": 99'))
    with pytest.raises(ValueError, match="lists other features than version 4 defines"):
        FeatureSpec.from_json(SPEC.to_json().replace('"aircraft_leg",', ""))
    with_month = json.loads(SPEC.to_json()) | {"features": list(features.FEATURES_V3)}
    with pytest.raises(ValueError, match="lists other features than version 4 defines"):
        FeatureSpec.from_json(json.dumps(with_month))


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_older_spec_is_scored_with_its_own_features_and_ignores_the_new_inputs(version: int) -> None:
    """A bundle made before the schedule features (version 1), before the precipitation history
    (version 2) or with `month` as a feature (versions 1–3): its spec lists its version's
    features, which this code encodes exactly as before, whatever else a request carries."""
    names = features.FEATURES_BY_VERSION[version]
    doc = json.loads(SPEC.to_json())
    old = FeatureSpec.from_json(json.dumps(doc | {"version": version, "features": list(names)}))
    assert old.version == version and old.features == names
    df = _rows()
    by_frame = encode_frame(old, df)
    full, at = encode_frame(SPEC, df), {name: j for j, name in enumerate(SPEC.features)}
    for j, name in enumerate(names):
        expected = df["month"].to_numpy(np.float32) if name == "month" else full[:, at[name]]
        np.testing.assert_array_equal(by_frame[:, j], expected)
    newer = [c for c in features.FEATURES if c not in names and c in df]
    bare = df.drop(columns=newer).replace({np.nan: None})
    np.testing.assert_array_equal(by_frame, encode_records(old, bare.to_dict("records")))
    with pytest.raises(ValueError, match=f"version {version} lists other features"):
        FeatureSpec.from_json(json.dumps(doc | {"version": version}))


def test_schedule_inputs_left_out_are_missing_and_precipitation_history_none() -> None:
    rec = _rows().iloc[0].to_dict()
    optional = (*features.SCHEDULE, *features.PRECIP_HISTORY)
    for name in optional:
        del rec[name]
    row = dict(zip(features.FEATURES, encode_record(SPEC, rec), strict=True))
    assert all(math.isnan(row[n]) for n in features.SCHEDULE)
    assert all(row[n] == 0.0 for n in features.PRECIP_HISTORY)  # none recorded, as `prepare` counts
    assert row["dep_minute"] == 5 * 60 + 15


def test_weekdays_stay_right_when_the_cache_is_full_and_cleared() -> None:
    """The weekday cache is bounded: past its size it is cleared, and a batch of dates partly
    cached before the clearing still gets every weekday (a forgotten date would be None)."""
    start = dt.date(2000, 1, 1)
    dates = [start + dt.timedelta(days=i) for i in range(features._WEEKDAYS_KEPT + 500)]
    codes = [d.year * 10_000 + d.month * 100 + d.day for d in dates]
    expected = [float(d.weekday()) for d in dates]
    features._WEEKDAYS.clear()
    for lo in range(0, len(codes), 700):  # overlapping batches: cached and new dates together
        batch = slice(max(0, lo - 100), lo + 700)
        np.testing.assert_array_equal(features._weekdays(codes[batch]), expected[batch])
    assert len(features._WEEKDAYS) <= features._WEEKDAYS_KEPT + 800
