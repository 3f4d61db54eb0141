"""The one feature definition: raw flight record → float32 feature vector, for training and serving.

Training calls `encode_frame` on a DataFrame (vectorised); serving calls `encode_records` on
request dicts. Both produce the same float32 matrix (parity is tested). This module imports only
numpy at load time so that the serving image does not need pandas.

Categories (carrier, origin, dest) are encoded as the rank of their disruption rate in the training
window, so trees split on "riskier than" directly. A category seen fewer than
`featurize.min_category_count` times in training, or never seen, is encoded as missing (NaN), which
XGBoost routes down its learned default branch: unseen airports and carriers are scored, not refused.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

CATEGORICAL = ("carrier", "origin", "dest")
WEATHER = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")
# From the day's schedule (scheduled times of every flight, never outcomes); computed by
# `prepare` and sent by a client. Optional in a request:
# absent or null is scored as missing (the trees' learned default), like an unseen category.
SCHEDULE = (
    "aircraft_leg",  # this departure's number among the aircraft's departures that day (1 = first)
    "aircraft_gap_min",  # minutes since the aircraft's previous scheduled departure that day
    "origin_hour_departures",  # flights scheduled to leave the origin in the departure's hour
    "origin_day_departures",  # flights scheduled to leave the origin that day
)
# Precipitation at the origin (inches) summed over the hourly readings of the 6 hours ending
# with the reading the weather fields carry (known before departure); an hour without a reading
# counts as none. Computed by `prepare`, sent by a client. Absent or null is encoded as 0 (none
# recorded), as `prepare` counts a missing reading: training never has them missing, so the trees
# learned no default branch for them (it would score a bare request as if it had rained).
PRECIP_HISTORY = ("precip_6h",)
# The raw record a prediction needs: what is known before departure (the request schema).
INPUT_COLUMNS = (
    "year",
    "month",
    "day",
    "sched_dep_time",
    "sched_arr_time",
    "carrier",
    "origin",
    "dest",
    "distance",
    *WEATHER,
    *SCHEDULE,
    *PRECIP_HISTORY,
)
# What identifies a flight for the outcomes join (not model inputs): the flight number is optional
# in a request; a prediction logged without it cannot be joined with its outcome.
FLIGHT_KEY = ("carrier", "flight", "origin", "year", "month", "day", "sched_dep_time")
# Feature lists by spec version. A bundle of an older version is still scored: its spec names
# its own list, every feature of which this code still encodes the same way (the new request
# fields are then ignored).
CALENDAR_V1 = ("month", "day_of_week", "dep_minute", "arr_minute")
FEATURES_V1 = (*CATEGORICAL, *CALENDAR_V1, "distance", *WEATHER)
FEATURES_V2 = (*FEATURES_V1, *SCHEDULE)
FEATURES_V3 = (*FEATURES_V2, *PRECIP_HISTORY)
# Version 4 leaves `month` out: in a time split the newest months always lie beyond the months
# trained on, so the trees score them as the last month they saw (December as November), and the
# season is carried by the weather. Full-year backtest: ROC AUC 0.7263 → 0.7266, mean ECE 0.0539 → 0.0514
# (docs/model-quality.md). The month is still an input: the day of the week is computed from it.
FEATURES = tuple(f for f in FEATURES_V3 if f != "month")
SPEC_VERSION = 4
FEATURES_BY_VERSION = {1: FEATURES_V1, 2: FEATURES_V2, 3: FEATURES_V3, 4: FEATURES}
NAN = float("nan")


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to turn a raw record into the model's input vector."""

    categories: dict[str, dict[str, float]]
    features: tuple[str, ...] = FEATURES
    version: int = SPEC_VERSION
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "version": self.version,
                    "features": list(self.features),
                    "categories": self.categories,
                    "meta": self.meta,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        d = json.loads(text)
        version = d.get("version")
        names = check_features(version, d.get("features"))
        cats = {k: {c: float(v) for c, v in m.items()} for k, m in d["categories"].items()}
        if set(cats) != set(CATEGORICAL):
            raise ValueError(f"feature spec categories {sorted(cats)} != {sorted(CATEGORICAL)}")
        return cls(categories=cats, features=names, version=int(version), meta=d.get("meta", {}))

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        return cls.from_json(Path(path).read_text())

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(self.to_json())


def check_features(version: Any, names: Any) -> tuple[str, ...]:
    """The feature list of a spec of `version`, if this code encodes it; ValueError saying what to
    do otherwise."""
    known = FEATURES_BY_VERSION.get(version) if isinstance(version, int) else None
    if known is None:
        raise ValueError(
            f"feature spec version {version!r} is not one this code reads "
            f"({', '.join(map(str, FEATURES_BY_VERSION))}); rebuild the model with this code (`dvc repro`)"
        )
    if not isinstance(names, list) or tuple(names) != known:
        raise ValueError(
            f"feature spec version {version} lists other features than version {version} defines; "
            "rebuild the model with this code (`dvc repro`)"
        )
    return known


def flight_key(rec: Mapping[str, Any]) -> str | None:
    """`B6-1234-JFK-2013-07-01-0515` (carrier, number, origin, scheduled local departure), or None
    when the record has no flight number. The outcomes join builds the same string column-wise."""
    number = rec.get("flight")
    if number is None:
        return None
    return (
        f"{rec['carrier']}-{int(number)}-{rec['origin']}-"
        f"{int(rec['year']):04d}-{int(rec['month']):02d}-{int(rec['day']):02d}-{int(rec['sched_dep_time']):04d}"
    )


def fit_spec(df: pd.DataFrame, label: str, min_count: int) -> FeatureSpec:
    """Rank each frequent-enough category by its label rate in `df` (ties broken by name)."""
    cats: dict[str, dict[str, float]] = {}
    for col in CATEGORICAL:
        g = df.groupby(col, observed=True)[label].agg(["mean", "size"])
        g = g[g["size"] >= min_count].reset_index()
        g = g.sort_values(["mean", col], kind="mergesort")
        cats[col] = {str(c): float(i) for i, c in enumerate(g[col])}
    return FeatureSpec(categories=cats)


def _minute_of_day(hhmm: float) -> float:
    if math.isnan(hhmm):
        return NAN
    h, m = divmod(int(hhmm), 100)
    return float(h * 60 + m)


def encode_frame(spec: FeatureSpec, df: pd.DataFrame) -> np.ndarray:
    """Vectorised encoding of a DataFrame with INPUT_COLUMNS → float32 (n, len(FEATURES))."""
    import pandas as pd

    n = len(df)
    out = np.empty((n, len(spec.features)), dtype=np.float32)
    dates = pd.to_datetime(
        pd.DataFrame({"year": df["year"], "month": df["month"], "day": df["day"]}), errors="coerce"
    )
    weekdays = dates.dt.weekday.astype("float64").to_numpy()
    for j, (op, inputs) in enumerate(encode_plan(spec)):
        if op == "category":
            col = df[inputs[0]].astype("object").map(spec.categories[inputs[0]])
            out[:, j] = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=NAN)
        elif op == "weekday":
            out[:, j] = weekdays
        elif op == "minute":
            out[:, j] = _hhmm_to_minutes(df[inputs[0]])
        else:
            v = pd.to_numeric(df[inputs[0]], errors="coerce").to_numpy(dtype="float64", na_value=NAN)
            out[:, j] = np.nan_to_num(v, nan=0.0) if op == "zero_missing" else v
    return out


def _hhmm_to_minutes(s: pd.Series) -> np.ndarray:
    import pandas as pd

    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=NAN)
    minutes: np.ndarray = np.floor(v / 100) * 60 + np.mod(v, 100)
    return minutes


def encode_record(spec: FeatureSpec, rec: Mapping[str, Any]) -> list[float]:
    """Per-record encoding (serving). Missing optional values are None or absent → NaN."""
    row: list[float] = []
    for op, inputs in encode_plan(spec):
        if op == "category":
            row.append(spec.categories[inputs[0]].get(str(rec[inputs[0]]), NAN))
        elif op == "weekday":
            row.append(float(dt.date(*(int(rec[c]) for c in inputs)).weekday()))
        elif op == "minute":
            row.append(_minute_of_day(float(rec[inputs[0]])))
        else:
            v = rec.get(inputs[0])
            x = NAN if v is None else float(v)
            row.append(0.0 if math.isnan(x) and op == "zero_missing" else x)
    return row


def encode_records(spec: FeatureSpec, recs: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Per-request encoding of many records; same float32 result as `encode_record` row by row.

    Column-wise: the numeric inputs of all rows go into one float64 array (an `itemgetter` per
    row, one numpy conversion), then `encode_columns`. A record missing a date or schedule input
    is encoded row by row, which raises as `encode_record` does."""
    rows = recs if isinstance(recs, list) else list(recs)
    n = len(rows)
    if n == 1:
        return np.array([encode_record(spec, rows[0])], dtype=np.float32)
    names = numeric_inputs(spec)
    get = operator.itemgetter(*names)
    try:
        table = list(map(get, rows))
    except KeyError:  # optional inputs left out: None, as `encode_record` reads them
        absent = dict.fromkeys(names)
        table = list(map(get, ({**absent, **r} for r in rows)))
    values = np.array(table, dtype=np.float64).reshape(n, len(names))  # None → NaN
    if np.isnan(values[:, [names.index(c) for c in _DERIVED_FROM]]).any():
        return np.array([encode_record(spec, r) for r in rows], dtype=np.float32)
    numeric = {c: values[:, i] for i, c in enumerate(names)}
    categorical = {c: list(map(operator.itemgetter(c), rows)) for c in spec.categories}
    return encode_columns(spec, n, numeric, categorical)


def numeric_inputs(spec: FeatureSpec) -> list[str]:
    """The numeric input columns `encode_columns` reads: features taken as they are, and the
    date and schedule inputs of the derived ones."""
    names = [inputs[0] for op, inputs in encode_plan(spec) if op in ("copy", "zero_missing")]
    return names + [c for c in _DERIVED_FROM if c not in names]


def encode_columns(
    spec: FeatureSpec,
    n: int,
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, Sequence[Any]],
    *,
    strings: bool = False,
) -> np.ndarray:
    """Encoding of `n` records given column by column: `numeric` maps each of `numeric_inputs` to
    float64 values (NaN: missing; the date and schedule inputs complete), `categorical` each
    category column to its values (`strings`: all known to be `str`, as validation leaves them,
    so no type pass). Same float32 result as `encode_record` row by row: minutes are computed on
    the arrays, weekdays looked up per date, categories by one dict lookup per value; the columns
    become the float32 matrix in one conversion."""
    columns: list[np.ndarray] = []
    for op, inputs in encode_plan(spec):
        if op == "category":
            columns.append(_categories(spec.categories[inputs[0]], categorical[inputs[0]], strings=strings))
        elif op == "weekday":
            year, month, day = (numeric[c] for c in inputs)
            columns.append(_weekdays((year * 10_000 + month * 100 + day).astype(np.int64).tolist()))
        elif op == "minute":
            hhmm = np.trunc(numeric[inputs[0]])
            columns.append(np.floor_divide(hhmm, 100) * 60 + np.mod(hhmm, 100))  # as `_minute_of_day`
        elif op == "zero_missing":
            values = numeric[inputs[0]]
            columns.append(np.where(np.isnan(values), 0.0, values))
        else:
            columns.append(numeric[inputs[0]])
    return np.ascontiguousarray(np.array(columns, dtype=np.float32).reshape(len(columns), n).T)


Plan = tuple[tuple[str, tuple[str, ...]], ...]
_PLANS: dict[tuple[tuple[str, ...], tuple[str, ...]], Plan] = {}


def encode_plan(spec: FeatureSpec) -> Plan:
    """How `encode_columns` makes each feature, in order: (op, input columns), op one of
    `category` (the code of the value), `weekday` (of year, month, day), `minute` (of the day, of
    an hhmm), `zero_missing` (missing as 0) or `copy`. The one dispatch of every encoder
    (`encode_frame` for training, `encode_record` and `encode_columns` for serving, and the serving
    path's C one, api/rows.c), so that none can drift from the others."""
    key = (spec.features, tuple(spec.categories))
    plan = _PLANS.get(key)
    if plan is None:
        steps: list[tuple[str, tuple[str, ...]]] = []
        for name in spec.features:
            if name in spec.categories:
                steps.append(("category", (name,)))
            elif name == "day_of_week":
                steps.append(("weekday", ("year", "month", "day")))
            elif name in ("dep_minute", "arr_minute"):
                steps.append(("minute", ("sched_dep_time" if name == "dep_minute" else "sched_arr_time",)))
            elif name in PRECIP_HISTORY:
                steps.append(("zero_missing", (name,)))
            else:
                steps.append(("copy", (name,)))
        plan = _PLANS[key] = tuple(steps)
    return plan


_DERIVED_FROM = ("year", "month", "day", "sched_dep_time", "sched_arr_time")


def _categories(lookup: Mapping[str, float], values: Sequence[Any], *, strings: bool = False) -> np.ndarray:
    """Codes of a column's values (unknown: NaN); one C-level pass when all are strings."""
    if not strings and set(map(type, values)) != {str}:
        values = [v if isinstance(v, str) else str(v) for v in values]
    return np.fromiter(map(lookup.get, values, itertools.repeat(NAN, len(values))), np.float64, len(values))


_WEEKDAYS: dict[int, float] = {}  # yyyymmdd → weekday; a batch's few dates are looked up, not computed
_WEEKDAYS_KEPT = 4096


def _weekdays(codes: list[int]) -> np.ndarray:
    """Weekdays (Monday 0) of valid yyyymmdd dates, one dict lookup each (a bounded cache)."""
    try:
        return np.fromiter(map(_WEEKDAYS.__getitem__, codes), np.float64, len(codes))
    except KeyError:
        if len(_WEEKDAYS) >= _WEEKDAYS_KEPT:
            _WEEKDAYS.clear()
        for code in set(codes).difference(_WEEKDAYS):
            year, rest = divmod(code, 10_000)
            _WEEKDAYS[code] = float(dt.date(year, rest // 100, rest % 100).weekday())
        return np.fromiter(map(_WEEKDAYS.__getitem__, codes), np.float64, len(codes))
