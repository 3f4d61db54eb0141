"""`prepare` stage: join each flight with its origin's weather for the scheduled hour and label it.

Documented rules
- Window: only partitions inside `data.window` are read; each must be present under `paths.raw`.
- Weather join: on (origin, year, month, day, hour of the *scheduled* departure) minus
  `prepare.weather_lead_hours`: with 1, a flight at 17:40 gets the 16:00 reading, which is known
  before departure (the 17:00 one is read during the departure hour). Before the first reading of
  the month (lead hours after midnight on the 1st) the weather is missing. The source has a few
  duplicated weather hours (daylight-saving change); the first reading of an hour is kept.
- Label `disrupted` = 1 when the arrival delay is ≥ `prepare.delay_threshold_min` minutes, or the
  arrival delay is missing (the flight was cancelled or diverted), else 0.
- `cancelled` = departure time missing (kept for reporting, never a feature).
- Schedule features (`features.SCHEDULE`) come from the month's schedule — the scheduled times,
  origins and aircraft of all its flights — never from outcomes: `aircraft_leg` numbers the
  aircraft's departures of the day in scheduled order, `aircraft_gap_min` is the time since its
  previous one that day (missing for the first), `origin_hour_departures` and
  `origin_day_departures` count the flights scheduled to leave the origin in the departure's
  hour and that day. A flight cancelled before an aircraft
  was named (the source then has no tail number) takes the median leg and gap of the same
  carrier, flight number, origin and scheduled time on the month's other days, so that an unknown
  aircraft does not give the cancellation away.
- Precipitation history (`features.PRECIP_HISTORY`): the origin's precipitation summed over the
  readings of the 6 hours ending with the reading the flight's weather fields carry (an
  hour without a reading counts as none), from the month's weather and, when its partition is
  under the same folder, the previous month's (else the first day's sums start with the month).
- Wind speeds above `prepare.max_wind_speed_mph` are sensor errors (the source has 1,048 mph) and
  become missing.
- Duplicated flights (same date, carrier, flight number, origin and scheduled time) are *flagged*
  in `is_duplicate`, not dropped: `validate` holds them to a budget and `featurize` drops them.
- Values are not coerced: a column that does not parse as numbers stays text so that `validate`
  can name it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.core import features
from flightdelay.core.errors import DataError, DataValidationError
from flightdelay.core.params import Params, Paths, PrepareParams, Window
from flightdelay.core.progress import say
from flightdelay.pipeline.source import FLIGHTS_FILE, WEATHER_FILE

FLIGHT_KEYS = ["year", "month", "day", "carrier", "flight", "origin", "sched_dep_time"]
WEATHER_KEYS = ["origin", "year", "month", "day", "hour"]
JOIN_REQUIRED = {
    "flights": ["year", "month", "day", "sched_dep_time", "origin"],
    "weather": WEATHER_KEYS,
}
OUTPUT_COLUMNS = [
    "partition",
    *features.INPUT_COLUMNS,
    "flight",
    "dep_delay",
    "arr_delay",
    "cancelled",
    "disrupted",
    "is_duplicate",
]


def _read_csv(path: Path, month: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(
            f"partition {month}: {path} is missing",
            hint=f"run `flightdelay data add {month}` or `dvc pull`",
        )
    try:
        return pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise DataError(f"partition {month}: cannot read {path}: {e}") from e


def _require_integer_keys(df: pd.DataFrame, cols: list[str], month: str, table: str) -> None:
    for col in cols:
        if col not in df.columns:
            raise DataValidationError(
                f"rule schema: partition {month} {table}.csv has no column {col!r} "
                "(needed to join flights with weather)",
                hint="restore the partition from the source (`flightdelay data restore`) or fix it",
            )
        if col != "origin" and not pd.api.types.is_integer_dtype(df[col]) and len(df):
            raise DataValidationError(
                f"rule types: partition {month} {table}.csv column {col!r} is a join key and must "
                f"hold whole numbers, but {_not_whole(df[col])}",
                hint=f"write {col} as integers, with no decimal point and no blanks, or restore the "
                "partition with `flightdelay data restore`; the join key cannot be guessed",
            )


def _not_whole(s: pd.Series) -> str:
    """Why a column is not a whole-number column, in words: its type and what is in it."""
    num = pd.to_numeric(s, errors="coerce")
    text = int((num.isna() & s.notna()).sum())
    blank = int(s.isna().sum())
    fraction = int((num.notna() & (num % 1 != 0)).sum())
    what = [
        f"{n} of {len(s)} are {kind}"
        for n, kind in ((text, "not numbers"), (blank, "blank"), (fraction, "not whole"))
        if n
    ]
    if pd.api.types.is_float_dtype(s):
        whole = num[num.notna() & (num % 1 == 0)]
        example = f", e.g. {whole.iloc[0]} where {int(whole.iloc[0])} belongs" if len(whole) else ""
        head = f"it was read as decimal numbers (float type{example})"
        return head + (f": {', '.join(what)}" if what else " although every value is whole")
    return f"it was read as {s.dtype} text: {', '.join(what) or 'values do not parse'}"


def _known_from(we: pd.DataFrame, hours: int) -> pd.DataFrame:
    """Each reading keyed to the hour `hours` later: the hour from which it is known in advance."""
    at = pd.to_datetime(we[["year", "month", "day", "hour"]], errors="coerce") + pd.Timedelta(hours=hours)
    we = we.loc[at.notna()].copy()
    at = at.dropna()
    for key in ("year", "month", "day", "hour"):
        we[key] = getattr(at.dt, key).astype(we[key].dtype)
    return we


def schedule_features(fl: pd.DataFrame) -> pd.DataFrame:
    """`features.SCHEDULE` for each row of a month's flights (same index), from the schedule only."""
    dep = pd.to_numeric(fl["sched_dep_time"], errors="coerce")
    s = pd.DataFrame(
        {
            "day": fl["year"] * 10_000 + fl["month"] * 100 + fl["day"],
            "minute": dep // 100 * 60 + dep % 100,
            "hour": dep // 100,
            "origin": fl["origin"],
            "tailnum": fl["tailnum"] if "tailnum" in fl.columns else pd.NA,
        },
        index=fl.index,
    )
    out = pd.DataFrame(index=fl.index)
    out["origin_hour_departures"] = s.groupby(["day", "origin", "hour"], dropna=False)["minute"].transform(
        "size"
    )
    out["origin_day_departures"] = s.groupby(["day", "origin"], dropna=False)["minute"].transform("size")
    known = s.dropna(subset=["tailnum", "minute"]).sort_values(["tailnum", "day", "minute"], kind="mergesort")
    by_day = known.groupby(["tailnum", "day"], sort=False)["minute"]
    out["aircraft_leg"] = (by_day.cumcount() + 1).reindex(fl.index).astype("float64")
    out["aircraft_gap_min"] = by_day.diff().reindex(fl.index)
    # No tail number: the flight was cancelled before an aircraft was named. The same scheduled
    # flight on other days of the month says where in an aircraft's day it sits.
    pattern = [c for c in ("carrier", "flight", "origin", "sched_dep_time") if c in fl.columns]
    unknown = s["tailnum"].isna()
    if unknown.any() and len(pattern) == 4:
        keys = fl[pattern]
        typical = out.loc[~unknown].groupby([keys[c] for c in pattern])[["aircraft_leg", "aircraft_gap_min"]]
        med = typical.median()
        fill = keys.loc[unknown].join(med, on=pattern)
        out.loc[unknown, "aircraft_leg"] = fill["aircraft_leg"].round()
        out.loc[unknown, "aircraft_gap_min"] = fill["aircraft_gap_min"]
    return out[list(features.SCHEDULE)]


def precip_history(fl: pd.DataFrame, we: pd.DataFrame, lead_hours: int) -> pd.DataFrame:
    """`features.PRECIP_HISTORY` for each row of a month's flights (same index), from the weather
    readings `we` (deduplicated, not yet shifted): missing before the first reading only."""
    names = features.PRECIP_HISTORY
    out = pd.DataFrame(float("nan"), index=fl.index, columns=list(names))
    if "precip" not in we.columns or not len(fl):
        return out
    at = pd.to_datetime(we[["year", "month", "day", "hour"]], errors="coerce")
    rain = pd.DataFrame(
        {"origin": we["origin"], "at": at, "inches": pd.to_numeric(we["precip"], errors="coerce").fillna(0)}
    ).dropna(subset=["at"])
    day = pd.to_datetime(fl[["year", "month", "day"]], errors="coerce")
    known = day + pd.to_timedelta(fl["sched_dep_time"] // 100 - lead_hours, unit="h")
    for origin, g in rain.groupby("origin", sort=False):
        series = g.set_index("at")["inches"].sort_index()
        mine = (fl["origin"] == origin).to_numpy()
        # to the month's last departure: the hours after the last reading hold none
        end = max(series.index[-1], known[mine].max()) if mine.any() else series.index[-1]
        hourly = series.reindex(pd.date_range(series.index[0], end, freq="h"), fill_value=0.0)
        for name in names:
            hours = int(name.removeprefix("precip_").removesuffix("h"))
            summed = hourly.rolling(hours, min_periods=1).sum()
            out.loc[mine, name] = summed.reindex(known[mine]).to_numpy()
    return out


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}"


def _previous_weather(month: str, raw: Path) -> pd.DataFrame | None:
    """The previous month's weather readings when its partition is under `raw` and readable."""
    path = raw / previous_month(month) / WEATHER_FILE
    if not path.is_file():
        return None
    try:
        we = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError):
        return None  # its own prepare reports it
    cols = [*WEATHER_KEYS, "precip"]
    if any(c not in we.columns for c in cols) or any(
        not pd.api.types.is_integer_dtype(we[c]) for c in WEATHER_KEYS if c != "origin"
    ):
        return None
    return we[cols]


def prepare_month(month: str, raw: Path, cfg: PrepareParams) -> tuple[pd.DataFrame, dict[str, Any]]:
    fl = _read_csv(raw / month / FLIGHTS_FILE, month)
    we = _read_csv(raw / month / WEATHER_FILE, month)
    info: dict[str, Any] = {
        "rows": len(fl),
        "weather_rows": len(we),
        "flight_columns": {c: str(t) for c, t in fl.dtypes.items()},
        "weather_columns": {c: str(t) for c, t in we.dtypes.items()},
    }
    _require_integer_keys(fl, JOIN_REQUIRED["flights"], month, "flights")
    _require_integer_keys(we, JOIN_REQUIRED["weather"], month, "weather")

    we = we.drop_duplicates(subset=WEATHER_KEYS, keep="first")
    info["weather_duplicates_dropped"] = info["weather_rows"] - len(we)
    before = _previous_weather(month, raw)
    readings = we if before is None else pd.concat([before, we]).drop_duplicates(WEATHER_KEYS, keep="last")
    history = precip_history(fl, readings, cfg.weather_lead_hours)
    if cfg.weather_lead_hours:
        we = _known_from(we, cfg.weather_lead_hours)
    if "wind_speed" in we.columns and pd.api.types.is_numeric_dtype(we["wind_speed"]):
        we.loc[we["wind_speed"] > cfg.max_wind_speed_mph, "wind_speed"] = float("nan")

    fl = fl.assign(hour=fl["sched_dep_time"] // 100).join(schedule_features(fl)).join(history)
    # Columns missing from a partition become empty so that validate can report all of them at once.
    for col in features.INPUT_COLUMNS:
        if col not in fl.columns and col not in we.columns:
            (fl if col not in features.WEATHER else we)[col] = pd.NA
    weather_cols = [c for c in features.WEATHER if c in we.columns]
    for col in ("dep_time", "arr_delay", "dep_delay", "flight", "carrier"):
        if col not in fl.columns:
            fl[col] = pd.NA
    df = fl.drop(columns=[c for c in weather_cols if c in fl.columns]).merge(
        we[[*WEATHER_KEYS, *weather_cols]], on=WEATHER_KEYS, how="left", validate="many_to_one"
    )
    arr_delay = pd.to_numeric(df["arr_delay"], errors="coerce")
    df["cancelled"] = df["dep_time"].isna()
    df["disrupted"] = ((arr_delay >= cfg.delay_threshold_min) | arr_delay.isna()).astype("int8")
    df["is_duplicate"] = df.duplicated(subset=[k for k in FLIGHT_KEYS if k in df.columns])
    df["partition"] = month
    return df[OUTPUT_COLUMNS], info


@dataclass(frozen=True)
class PrepareConfig:
    """What the stage reads of params.yaml: its section and the window's months (`data.window`)."""

    prepare: PrepareParams
    window: Window


def config(p: Params) -> PrepareConfig:
    return PrepareConfig(prepare=p.prepare, window=p.data.window)


def run(paths: Paths, cfg: PrepareConfig) -> pd.DataFrame:
    raw = Path(paths.raw)
    out_dir = Path(paths.prepared)
    frames, parts = [], {}
    for month in cfg.window.months:
        df, info = prepare_month(month, raw, cfg.prepare)
        frames.append(df)
        parts[month] = info
        rate = f"{df['disrupted'].mean():.3f}" if len(df) else "n/a"
        say(f"prepare: {month}: {len(df):,} flights, disrupted {rate}")
    # An empty partition (all-text columns) must not change the dtypes of the others.
    all_rows = pd.concat([f for f in frames if len(f)] or frames, ignore_index=True)
    # Text that failed to parse must survive the parquet write for validate to name it.
    for col in all_rows.columns:
        if all_rows[col].dtype == object and col not in ("partition", *features.CATEGORICAL):
            all_rows[col] = all_rows[col].astype("string")
    out_dir.mkdir(parents=True, exist_ok=True)
    all_rows.to_parquet(out_dir / "flights.parquet", index=False)
    (out_dir / "partitions.json").write_text(json.dumps(parts, indent=2, sort_keys=True) + "\n")
    say(f"prepare: wrote {len(all_rows):,} rows for {len(parts)} months to {out_dir}")
    return all_rows
