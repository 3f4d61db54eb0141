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
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

CATEGORICAL = ("carrier", "origin", "dest")
WEATHER = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
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
)
FEATURES = (
    "carrier",
    "origin",
    "dest",
    "month",
    "day_of_week",
    "dep_minute",
    "arr_minute",
    "distance",
    *WEATHER,
)
SPEC_VERSION = 1
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
        if d.get("version") != SPEC_VERSION:
            raise ValueError(f"feature spec version {d.get('version')} is not {SPEC_VERSION}")
        if tuple(d["features"]) != FEATURES:
            raise ValueError("feature spec lists different features than this code defines")
        cats = {k: {c: float(v) for c, v in m.items()} for k, m in d["categories"].items()}
        if set(cats) != set(CATEGORICAL):
            raise ValueError(f"feature spec categories {sorted(cats)} != {sorted(CATEGORICAL)}")
        return cls(categories=cats, meta=d.get("meta", {}))

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        return cls.from_json(Path(path).read_text())

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(self.to_json())


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
    derived = {
        "day_of_week": dates.dt.weekday.astype("float64").to_numpy(),
        "dep_minute": _hhmm_to_minutes(df["sched_dep_time"]),
        "arr_minute": _hhmm_to_minutes(df["sched_arr_time"]),
    }
    for j, name in enumerate(spec.features):
        if name in spec.categories:
            col = df[name].astype("object").map(spec.categories[name])
            out[:, j] = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=NAN)
        elif name in derived:
            out[:, j] = derived[name]
        else:
            out[:, j] = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64", na_value=NAN)
    return out


def _hhmm_to_minutes(s: pd.Series) -> np.ndarray:
    import pandas as pd

    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=NAN)
    minutes: np.ndarray = np.floor(v / 100) * 60 + np.mod(v, 100)
    return minutes


def encode_record(spec: FeatureSpec, rec: Mapping[str, Any]) -> list[float]:
    """Per-record encoding (serving). Missing optional values are None or absent → NaN."""
    row: list[float] = []
    for name in spec.features:
        if name in spec.categories:
            row.append(spec.categories[name].get(str(rec[name]), NAN))
        elif name == "day_of_week":
            row.append(float(dt.date(int(rec["year"]), int(rec["month"]), int(rec["day"])).weekday()))
        elif name == "dep_minute":
            row.append(_minute_of_day(float(rec["sched_dep_time"])))
        elif name == "arr_minute":
            row.append(_minute_of_day(float(rec["sched_arr_time"])))
        else:
            v = rec.get(name)
            row.append(NAN if v is None else float(v))
    return row


def encode_records(spec: FeatureSpec, recs: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Per-request encoding of many records: column by column (one pass of dict lookups per
    feature), which is several times faster than row by row for batches; same float32 result."""
    rows = recs if isinstance(recs, list) else list(recs)
    out = np.empty((len(rows), len(spec.features)), dtype=np.float32)
    if len(rows) == 1:
        out[0] = encode_record(spec, rows[0])
        return out
    for j, name in enumerate(spec.features):
        col: list[Any]
        if name in spec.categories:
            lookup = spec.categories[name]
            col = [lookup.get(v if isinstance(v, str) else str(v), NAN) for v in (r[name] for r in rows)]
        elif name == "day_of_week":
            col = [dt.date(int(r["year"]), int(r["month"]), int(r["day"])).weekday() for r in rows]
        elif name in ("dep_minute", "arr_minute"):
            key = "sched_dep_time" if name == "dep_minute" else "sched_arr_time"
            col = [_minute_of_day(float(r[key])) for r in rows]
        else:
            col = [r.get(name) for r in rows]  # None → NaN in a float array
        out[:, j] = np.asarray(col, dtype=np.float64)
    return out
