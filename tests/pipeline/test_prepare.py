"""prepare: labels, the scheduled-hour weather join, and its documented cleaning rules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flightdelay.core import features
from flightdelay.core.errors import DataValidationError
from flightdelay.core.params import load_params
from flightdelay.pipeline.prepare import prepare_month
from flightdelay.pipeline.source import RAW_FLIGHT_COLUMNS, RAW_WEATHER_COLUMNS
from tests.helpers import REPO_ROOT

PREPARE = load_params(REPO_ROOT / "params.yaml").prepare
SAME_HOUR = PREPARE.model_copy(update={"weather_lead_hours": 0})


def _flight(**kw: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(RAW_FLIGHT_COLUMNS)
    base.update(
        year=2013,
        month=3,
        day=5,
        dep_time=600,
        sched_dep_time=559,
        dep_delay=1,
        arr_time=800,
        sched_arr_time=805,
        arr_delay=-5,
        carrier="UA",
        flight=1,
        tailnum="N1",
        origin="EWR",
        dest="IAH",
        air_time=200,
        distance=1400,
        hour=5,
        minute=59,
        time_hour="2013-03-05T10:00:00Z",
    )
    base.update(kw)
    return base


def _weather(hour: int, temp: float, **kw: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(RAW_WEATHER_COLUMNS, 1.0)
    base.update(origin="EWR", year=2013, month=3, day=5, hour=hour, temp=temp, wind_speed=5.0, time_hour="x")
    base.update(kw)
    return base


def _write(tmp: Path, flights: list[dict[str, object]], weather: list[dict[str, object]]) -> Path:
    part = tmp / "2013-03"
    part.mkdir(parents=True)
    pd.DataFrame(flights).to_csv(part / "flights.csv", index=False)
    pd.DataFrame(weather).to_csv(part / "weather.csv", index=False)
    return tmp


def test_label_rules(tmp_path: Path) -> None:
    flights = [
        _flight(flight=1, arr_delay=14),  # on time
        _flight(flight=2, arr_delay=15),  # exactly 15 → disrupted
        _flight(flight=3, arr_delay=None, dep_time=None),  # cancelled
        _flight(flight=4, arr_delay=None),  # diverted (departed, never arrived)
    ]
    df, _ = prepare_month("2013-03", _write(tmp_path, flights, [_weather(5, 40.0)]), PREPARE)
    assert df.sort_values("flight")["disrupted"].tolist() == [0, 1, 1, 1]
    assert df.sort_values("flight")["cancelled"].tolist() == [False, False, True, False]


def test_weather_joins_on_the_scheduled_hour_first_reading_kept(tmp_path: Path) -> None:
    weather = [_weather(5, 40.0), _weather(5, 99.0), _weather(6, 50.0, wind_speed=1048.0)]
    flights = [_flight(flight=1, sched_dep_time=559), _flight(flight=2, sched_dep_time=600)]
    df, info = prepare_month("2013-03", _write(tmp_path, flights, weather), SAME_HOUR)
    by = df.set_index("flight")
    assert by.loc[1, "temp"] == 40.0  # 05:59 uses the 05:00 reading, the first of the duplicates
    assert by.loc[2, "temp"] == 50.0
    assert pd.isna(by.loc[2, "wind_speed"])  # 1,048 mph is a sensor error → missing
    assert info["weather_duplicates_dropped"] == 1


def test_duplicates_are_flagged_not_dropped(tmp_path: Path) -> None:
    flights = [_flight(flight=1), _flight(flight=1), _flight(flight=2)]
    df, _ = prepare_month("2013-03", _write(tmp_path, flights, [_weather(5, 40.0)]), PREPARE)
    assert len(df) == 3 and df["is_duplicate"].sum() == 1


def test_missing_join_key_is_a_readable_error(tmp_path: Path) -> None:
    flights = [{k: v for k, v in _flight().items() if k != "origin"}]
    with pytest.raises(DataValidationError, match=r"2013-03 flights.csv has no column 'origin'"):
        prepare_month("2013-03", _write(tmp_path, flights, [_weather(5, 40.0)]), PREPARE)


def test_a_float_join_key_says_it_is_float_and_what_to_do(tmp_path: Path) -> None:
    """A year written as 2013.0 parses as numbers, so "0 rows are not whole" says nothing: the
    message names the float type, an example and the fix."""
    flights = [_flight(year=2013.0), _flight(year=2013.0, flight=2)]
    raw = _write(tmp_path, flights, [_weather(5, 40.0)])
    text = (raw / "2013-03" / "flights.csv").read_text()
    assert "2013.0," in text  # the fixture really holds floats
    with pytest.raises(DataValidationError) as e:
        prepare_month("2013-03", raw, PREPARE)
    msg = str(e.value)
    assert "column 'year'" in msg and "float" in msg and "2013.0" in msg, msg
    assert "0 of" not in msg, msg
    assert "e.g. 2013.0 where 2013 belongs" in msg and "write year as integers" in msg, msg
    assert "data restore" in msg, msg


def test_weather_known_an_hour_before_the_scheduled_departure(tmp_path: Path) -> None:
    """weather_lead_hours: 1 — the reading of the hour before, across midnight too."""
    lead = SAME_HOUR.model_copy(update={"weather_lead_hours": 1})
    weather = [_weather(4, 30.0), _weather(5, 40.0), _weather(23, 20.0, day=4), _weather(0, 21.0)]
    flights = [
        _flight(flight=1, sched_dep_time=559),  # 04:00 reading
        _flight(flight=2, sched_dep_time=10),  # 00:10 on the 5th: 23:00 on the 4th
        _flight(flight=3, sched_dep_time=30, day=1),  # 00:30 on the 1st: the month has no earlier hour
    ]
    df, _ = prepare_month("2013-03", _write(tmp_path, flights, weather), lead)
    by = df.set_index("flight")
    assert by.loc[1, "temp"] == 30.0
    assert by.loc[2, "temp"] == 20.0
    assert pd.isna(by.loc[3, "temp"])
    assert PREPARE.weather_lead_hours == 1  # what the pipeline uses


def test_schedule_features_come_from_the_schedule_not_from_outcomes(tmp_path: Path) -> None:
    """The aircraft's legs of the day in scheduled order, the gap since its previous one, and the
    origin's departures in the hour; a cancellation changes none of them."""
    flights = [
        _flight(flight=1, tailnum="N1", sched_dep_time=600),
        _flight(flight=2, tailnum="N1", sched_dep_time=1015, dep_time=None, arr_delay=None),  # cancelled
        _flight(flight=3, tailnum="N1", sched_dep_time=1620),
        _flight(flight=4, tailnum="N1", sched_dep_time=700, day=6),  # another day: its first leg
        _flight(flight=5, tailnum="N2", sched_dep_time=630),
        _flight(flight=6, tailnum="N3", sched_dep_time=645, origin="JFK"),
    ]
    df, _ = prepare_month("2013-03", _write(tmp_path, flights, [_weather(5, 40.0)]), PREPARE)
    by = df.set_index("flight")
    assert by["aircraft_leg"].tolist() == [1, 2, 3, 1, 1, 1]
    assert by.loc[2, "aircraft_gap_min"] == 4 * 60 + 15 and by.loc[3, "aircraft_gap_min"] == 6 * 60 + 5
    assert by.loc[[1, 4, 5, 6], "aircraft_gap_min"].isna().all()  # first legs have no previous one
    assert by.loc[[1, 5], "origin_hour_departures"].tolist() == [2, 2]  # EWR 06:00–06:59 on the 5th
    assert by.loc[[2, 6], "origin_hour_departures"].tolist() == [1, 1]  # JFK is another airport
    assert by["origin_day_departures"].tolist() == [4, 4, 4, 1, 4, 1]  # EWR on the 5th: four flights
    again, _ = prepare_month(
        "2013-03",
        _write(
            tmp_path / "outcomes",
            [{**f, "dep_time": 600, "arr_delay": 0} for f in flights],
            [_weather(5, 40.0)],
        ),
        PREPARE,
    )
    cols = list(features.SCHEDULE)
    pd.testing.assert_frame_equal(again[cols], df[cols])


def test_a_flight_without_a_tail_number_takes_its_usual_place_in_the_aircrafts_day(tmp_path: Path) -> None:
    """The source names no aircraft for some cancelled flights; a missing leg would give the
    cancellation away, so the same scheduled flight on other days of the month says where it sits."""
    flights = (
        [_flight(flight=9, tailnum="N1", sched_dep_time=600, day=d) for d in (3, 4)]
        + [_flight(flight=7, tailnum="N1", sched_dep_time=900, day=d) for d in (3, 4)]
        + [_flight(flight=7, tailnum=None, sched_dep_time=900, day=5, dep_time=None, arr_delay=None)]
    )
    df, _ = prepare_month("2013-03", _write(tmp_path, flights, [_weather(5, 40.0)]), PREPARE)
    row = df[df["day"] == 5].iloc[0]
    assert row["aircraft_leg"] == 2 and row["aircraft_gap_min"] == 180


def test_precipitation_history_sums_the_readings_known_before_departure(tmp_path: Path) -> None:
    """The 6 h sum ends with the reading the weather fields carry (the hour before the departure
    hour), reaches into the previous month's partition, and counts an hour without a reading as
    none (after the month's last reading too)."""
    raw = _write(
        tmp_path,
        [
            _flight(flight=1, sched_dep_time=1030),  # the 09:00 reading: 04:00–09:00
            _flight(flight=2, sched_dep_time=130, day=1),  # the reading of 00:00 on the 1st
            _flight(flight=3, sched_dep_time=1430, day=5),  # 13:00: 08:00–13:00, the last reading 10:00
            _flight(flight=5, sched_dep_time=2330, day=5),  # 22:00: 12 h after the last reading
            _flight(flight=4, sched_dep_time=1030, dep_time=None, arr_delay=None),  # cancelled: same sum
        ],
        [
            _weather(h, 40.0, day=d, precip=p)
            for d, h, p in [(4, 9, 0.5), (5, 3, 1.0), (5, 4, 0.1), (5, 9, 0.02), (5, 10, 2.0)]
        ]
        + [_weather(0, 40.0, day=1, precip=0.01)],
    )
    prev = raw / "2013-02"
    prev.mkdir()
    pd.DataFrame([_weather(h, 30.0, month=2, day=28, precip=0.2) for h in (18, 23)]).to_csv(
        prev / "weather.csv", index=False
    )
    df, _ = prepare_month("2013-03", raw, PREPARE)
    by = df.set_index("flight")
    assert by.loc[1, "precip_6h"] == pytest.approx(0.12)  # 04:00 and 09:00; 03:00 is 7 h before
    assert by.loc[2, "precip_6h"] == pytest.approx(0.21)  # 23:00 on 28 February and 00:00
    assert by.loc[3, "precip_6h"] == pytest.approx(2.02)
    assert by.loc[5, "precip_6h"] == 0
    assert by.loc[4, "precip_6h"] == by.loc[1, "precip_6h"]
    alone = _write(
        tmp_path / "alone",
        [_flight(flight=2, sched_dep_time=130, day=1)],
        [_weather(0, 40.0, day=1, precip=0.01)],
    )
    alone_df, _ = prepare_month("2013-03", alone, PREPARE)
    assert alone_df["precip_6h"].tolist() == [pytest.approx(0.01)]  # no previous partition: the month's own
