"""Outcomes feedback: the flights' outcomes when they arrive, and the report of a join (`join.py`
joins them with the prediction log).

A prediction is identified by (`request_id`, `flight_key`) — see `features.flight_key`. Joined rows
are appended to one parquet store (`drift.live.store`): re-running with the same or overlapping
inputs adds nothing twice, and predictions whose outcome has not arrived yet are joined by a later
run. Nothing here is fatal for bad input: each problem is counted and reported.

Outcome sources: a month `YYYY-MM` (the labelled raw partition under `paths.raw`, i.e. the actual
arrival delay, cancellation and diversion) or a .csv/.parquet file with the flight key columns
and either `disrupted` (0/1) or `arr_delay` (minutes; missing = cancelled or diverted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flightdelay.core import features
from flightdelay.core.errors import DataError
from flightdelay.core.params import MONTH_RE
from flightdelay.lifecycle.drift.sources import LABEL

KEY_COLUMNS = features.FLIGHT_KEY
STORE_COLUMNS = [
    "request_id",
    "flight_key",
    "ts",
    "model_version",
    "score",
    "decision",
    "flight_date",
    LABEL,
    "joined_at",
]
LOCAL_TZ = "America/New_York"  # scheduled times in the data are local to the NYC airports


# Problems are listed in the order a reader follows the join: the log, the outcome sources, then
# the join itself, whatever order the steps counted them in.
PHASE = {
    "malformed_lines": 0,
    "unkeyed_predictions": 0,
    "duplicate_log_lines": 0,
    "rejected_outcome_rows": 1,
    "invalid_outcome_rows": 1,
    "unknown_version_predictions": 2,
    "duplicate_outcomes": 3,
    "outcome_before_prediction": 4,
}


@dataclass
class JoinReport:
    """What one run saw and did; every count is a number of rows (or log lines)."""

    counts: Counter[str] = field(default_factory=Counter)
    _problems: list[tuple[int, str]] = field(default_factory=list)

    def problem(self, kind: str, rows: int, message: str) -> None:
        if rows:
            self.counts[kind] += rows
            self._problems.append((PHASE[kind], message))

    @property
    def problems(self) -> list[str]:
        return [message for _, message in sorted(self._problems, key=lambda p: p[0])]


def _keys(df: pd.DataFrame) -> pd.Series:
    """`features.flight_key`, column-wise."""
    num = {
        c: pd.to_numeric(df[c], errors="coerce").astype("Int64")
        for c in KEY_COLUMNS
        if c not in ("carrier", "origin")
    }
    ok = pd.concat(num.values(), axis=1).notna().all(axis=1) & df["carrier"].notna() & df["origin"].notna()
    s = {c: v.astype("string") for c, v in num.items()}
    key = (
        df["carrier"].astype("string")
        + "-"
        + s["flight"]
        + "-"
        + df["origin"].astype("string")
        + "-"
        + s["year"].str.zfill(4)
        + "-"
        + s["month"].str.zfill(2)
        + "-"
        + s["day"].str.zfill(2)
        + "-"
        + s["sched_dep_time"].str.zfill(4)
    )
    return key.where(ok)


def outcome_frame(df: pd.DataFrame, where: str, delay_threshold: float, report: JoinReport) -> pd.DataFrame:
    """One source's outcomes → flight_key, flight_date, scheduled departure (UTC), disrupted."""
    has_label = LABEL in df.columns or "arr_delay" in df.columns
    missing = [c for c in KEY_COLUMNS if c not in df.columns] + (
        [] if has_label else [f"{LABEL} or arr_delay"]
    )
    if missing:
        report.problem(
            "rejected_outcome_rows",
            max(len(df), 1),
            f"{where}: outcomes rejected, missing column(s) {missing}; an outcome needs "
            f"{list(KEY_COLUMNS)} and either {LABEL} (0/1) or arr_delay (minutes)",
        )
        return pd.DataFrame(columns=["flight_key", "flight_date", "sched_utc", LABEL])
    key = _keys(df)
    if LABEL in df.columns:
        label = pd.to_numeric(df[LABEL], errors="coerce")
        label = label.where(label.isin([0, 1]))
    else:  # as `prepare` labels: late by the threshold, or no arrival (cancelled, diverted)
        delay = pd.to_numeric(df["arr_delay"], errors="coerce")
        label = ((delay >= delay_threshold) | delay.isna()).astype("float64")
    bad = key.isna() | label.isna()
    report.problem(
        "invalid_outcome_rows",
        int(bad.sum()),
        f"{where}: {int(bad.sum())} outcome row(s) with a blank or non-numeric key or label skipped",
    )
    num = df.loc[~bad, ["year", "month", "day", "sched_dep_time"]].apply(pd.to_numeric).astype("int64")
    date = pd.to_datetime(num[["year", "month", "day"]], errors="coerce")
    local = date + pd.to_timedelta(num["sched_dep_time"] // 100 * 60 + num["sched_dep_time"] % 100, unit="m")
    sched = local.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    out = pd.DataFrame(
        {"flight_key": key[~bad], "flight_date": date, "sched_utc": sched, LABEL: label[~bad].astype("int8")}
    )
    report.counts["outcome_rows"] += len(df)
    return out


def read_outcomes(source: str, raw: Path, delay_threshold: float, report: JoinReport) -> pd.DataFrame:
    """A month (its raw partition's flights) or a .csv/.parquet file of outcomes."""
    if MONTH_RE.match(source):
        path = raw / source / "flights.csv"
        if not path.is_file():
            raise DataError(
                f"the outcomes of {source} are not in {raw}",
                hint=f"run `flightdelay data add {source}` (or `dvc pull`) once the month is labelled",
            )
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(
                f"outcome file {source} does not exist", hint="pass YYYY-MM or a .csv/.parquet file"
            )
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        try:
            df = pd.read_csv(path, low_memory=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            report.problem("rejected_outcome_rows", 1, f"{path}: outcomes rejected, not readable as CSV: {e}")
            return outcome_frame(pd.DataFrame(), str(path), delay_threshold, JoinReport())
    else:
        raise DataError(f"{path}: unknown outcome file type {path.suffix!r}", hint="use .csv or .parquet")
    return outcome_frame(df, str(path), delay_threshold, report)


def dedupe_outcomes(outcomes: pd.DataFrame, report: JoinReport) -> pd.DataFrame:
    dup = outcomes.duplicated("flight_key")
    report.problem(
        "duplicate_outcomes",
        int(dup.sum()),
        f"{int(dup.sum())} duplicated flight(s) in the outcomes: the first outcome of each counts",
    )
    return outcomes.loc[~dup]


def windows(store: pd.DataFrame) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Row positions of each day, each ISO week (Monday first) and the newest 7 days, by the
    flights' scheduled dates."""
    dates = pd.to_datetime(store["flight_date"]).dt.normalize()
    days = [(f"{d:%Y-%m-%d}", np.flatnonzero(dates == d)) for d in sorted(dates.unique())]
    monday = dates - pd.to_timedelta(dates.dt.weekday, unit="D")
    weeks = []
    for m in sorted(monday.unique()):
        iso = pd.Timestamp(m).isocalendar()
        weeks.append((f"{iso.year}-W{iso.week:02d}", np.flatnonzero(monday == m)))
    newest = dates.max() if len(dates) else None
    trailing = (
        []
        if newest is None
        else [
            (
                f"{newest - pd.Timedelta(days=6):%Y-%m-%d}..{newest:%Y-%m-%d}",
                np.flatnonzero(dates > newest - pd.Timedelta(days=7)),
            )
        ]
    )
    return {"day": days, "week": weeks, "trailing_week": trailing}
