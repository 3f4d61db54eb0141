"""Reading the prediction log (malformed lines, time filter) and the sampling cap."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightdelay.core import features
from flightdelay.core.errors import DataError
from flightdelay.lifecycle.drift import sources
from tests.lifecycle.drift.logs import write_prediction_log


def frame(n: int) -> pd.DataFrame:
    row = {
        "year": 2013,
        "month": 7,
        "day": 1,
        "sched_dep_time": 830,
        "sched_arr_time": 1100,
        "carrier": "UA",
        "origin": "EWR",
        "dest": "ORD",
        "distance": 719,
        "temp": 80.1,
        "dewp": 60.0,
        "humid": 50.0,
        "wind_dir": 200,
        "wind_speed": 8.0,
        "wind_gust": float("nan"),
        "precip": 0.0,
        "pressure": 1012.0,
        "visib": 10.0,
    }
    return pd.DataFrame([row] * n)


def test_log_lines_become_rows_and_malformed_ones_are_counted(tmp_path: Path) -> None:
    path = write_prediction_log(
        tmp_path / "p.jsonl", frame(5), np.linspace(0.1, 0.5, 5), model_version="3", malformed=3
    )
    with path.open("a") as fh:
        fh.write("\n")  # blank lines are not lines
    cur = sources.read_prediction_log(path)
    assert (len(cur.frame), cur.rows_read, cur.malformed) == (5, 8, 3)
    assert cur.model_versions == {"3": 5}
    assert list(cur.frame.columns[: len(features.INPUT_COLUMNS)]) == list(features.INPUT_COLUMNS)
    assert cur.frame["wind_gust"].isna().all()  # null in the log → missing
    assert cur.frame["score"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert not cur.labelled


def test_log_lines_with_wrong_types_are_malformed() -> None:
    good = {
        "ts": "2026-01-01T00:00:00Z",
        "score": 0.3,
        "features": {"carrier": "UA", "origin": "EWR", "dest": "ORD"},
    }
    assert sources.parse_log_line(json.dumps(good).encode()) is not None
    for bad in (
        {**good, "score": True},
        {**good, "score": "0.3"},
        {**good, "ts": "yesterday"},
        {**good, "features": []},
        {**good, "score": float("nan")},
    ):
        assert sources.parse_log_line(json.dumps(bad).encode()) is None


def test_since_keeps_recent_lines(tmp_path: Path) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    path = write_prediction_log(tmp_path / "p.jsonl", frame(10), np.full(10, 0.2), start=start)
    cur = sources.read_prediction_log(path, since=start + dt.timedelta(seconds=6))
    assert len(cur.frame) == 4


def test_a_missing_log_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--log"):
        sources.read_prediction_log(tmp_path / "nope.jsonl")


def test_cap_is_a_fixed_seed_sample() -> None:
    df = pd.DataFrame({"x": range(1000)})
    a, b = sources.cap(df, 100, seed=1), sources.cap(df, 100, seed=1)
    assert len(a) == 100
    assert a["x"].tolist() == b["x"].tolist()
    assert a["x"].tolist() != sources.cap(df, 100, seed=2)["x"].tolist()
    assert len(sources.cap(df, 5000, seed=1)) == 1000


def test_reads_what_the_api_writes(tmp_path: Path) -> None:
    """Contract with the service: its prediction log writer's lines parse here, row for row."""
    from api.predlog import PredictionLog

    records = frame(3).to_dict(orient="records")
    del records[1]["wind_gust"], records[1]["temp"]  # optional fields the client left out
    sink = tmp_path / "log" / "predictions.jsonl"
    plog = PredictionLog(str(sink), sample_rate=1.0, queue_bytes=1_000_000)
    plog.start()
    plog.record("req-1", "7", 0.35, records, np.array([0.1, 0.5, 0.9]))
    plog.stop()
    cur = sources.read_prediction_log(sink)
    assert (len(cur.frame), cur.malformed) == (3, 0)
    assert cur.model_versions == {"7": 3}
    assert cur.frame["score"].tolist() == pytest.approx([0.1, 0.5, 0.9])
    assert cur.frame["temp"].isna().tolist() == [False, True, False]
    assert cur.frame["carrier"].tolist() == ["UA"] * 3
