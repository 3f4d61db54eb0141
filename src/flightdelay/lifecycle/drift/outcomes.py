"""Outcomes feedback: the prediction log joined with the flights' outcomes when they arrive.

A prediction is identified by (`request_id`, `flight_key`) — see `features.flight_key`. Joined rows
are appended to one parquet store (`drift.live.store`): re-running with the same or overlapping
inputs adds nothing twice, and predictions whose outcome has not arrived yet are joined by a later
run. Nothing here is fatal for bad input: each problem is counted and reported.

Outcome sources: a month `YYYY-MM` (the labelled raw partition under `paths.raw`, i.e. the actual
arrival delay, cancellation and diversion) or a .csv/.parquet file with the flight key columns
and either `disrupted` (0/1) or `arr_delay` (minutes; missing = cancelled or diverted).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from flightdelay.core import features
from flightdelay.core.errors import DataError
from flightdelay.core.params import MONTH_RE
from flightdelay.lifecycle.drift.sources import LABEL, _parse_ts

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


@dataclass
class JoinReport:
    """What one run saw and did; every count is a number of rows (or log lines)."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, rows: int, message: str) -> None:
        if rows:
            self.counts[kind] += rows
            self.problems.append(message)


def read_log(path: Path, report: JoinReport) -> pd.DataFrame:
    """The prediction log's rows that can be joined (a key, a score, a time); the rest counted."""
    if not path.is_file():
        raise DataError(
            f"prediction log {path} does not exist",
            hint="pass the service's log file (PREDICTION_LOG of the API) with --log",
        )
    rows: list[tuple[Any, ...]] = []
    malformed = unkeyed = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                malformed += 1
                continue
            score = obj.get("score") if isinstance(obj, dict) else None
            ts = _parse_ts(obj.get("ts")) if isinstance(obj, dict) else None
            if isinstance(score, bool) or not isinstance(score, int | float) or ts is None:
                malformed += 1
                continue
            if not math.isfinite(score) or not isinstance(obj.get("request_id"), str):
                malformed += 1
                continue
            key = obj.get("flight_key")
            if not isinstance(key, str):
                unkeyed += 1
                continue
            decision = obj.get("decision")
            rows.append((obj["request_id"], key, ts, str(obj.get("model_version")), float(score), decision))
    report.counts["log_lines"] += len(rows) + malformed + unkeyed
    report.problem("malformed_lines", malformed, f"{malformed} malformed line(s) in {path} skipped")
    report.problem(
        "unkeyed_predictions",
        unkeyed,
        f"{unkeyed} prediction(s) without a flight key (the request had no `flight` number): "
        "they cannot be joined; clients should send the flight number",
    )
    frame = pd.DataFrame(
        rows, columns=["request_id", "flight_key", "ts", "model_version", "score", "decision"]
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    dup = frame.duplicated(["request_id", "flight_key"])
    report.problem(
        "duplicate_log_lines", int(dup.sum()), f"{int(dup.sum())} repeated log line(s) counted once"
    )
    return frame.loc[~dup].reset_index(drop=True)


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


def load_store(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in STORE_COLUMNS})
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise DataError(
            f"joined store {path} cannot be read: {e}",
            hint="delete it and re-run the join over the whole prediction log (joins are idempotent)",
        ) from e


def join(
    preds: pd.DataFrame,
    outcomes: pd.DataFrame,
    store: pd.DataFrame,
    *,
    known_versions: set[str],
    replay: bool,
    now: dt.datetime,
    report: JoinReport,
) -> pd.DataFrame:
    """Rows to append to the store: predictions with an outcome, not stored before."""
    unknown = ~preds["model_version"].isin(known_versions)
    if unknown.any():
        versions = dict(Counter(preds.loc[unknown, "model_version"]))
        report.problem(
            "unknown_version_predictions",
            int(unknown.sum()),
            f"{int(unknown.sum())} prediction(s) from model version(s) {versions} that no release "
            f"figures were given for (known: {sorted(known_versions)}): pass their bundle with --bundle",
        )
    preds = preds.loc[~unknown]
    outcomes = dedupe_outcomes(outcomes, report)
    merged = preds.merge(outcomes, on="flight_key", how="left", indicator=True)
    waiting = merged["_merge"] == "left_only"
    report.counts["awaiting_outcome"] += int(waiting.sum())
    matched_keys = set(preds["flight_key"])
    orphans = int((~outcomes["flight_key"].isin(matched_keys)).sum())
    report.counts["outcomes_without_prediction"] += orphans
    merged = merged.loc[~waiting]
    if not replay:
        late = merged["ts"] > merged["sched_utc"]
        report.problem(
            "outcome_before_prediction",
            int(late.sum()),
            f"{int(late.sum())} prediction(s) made after the flight's scheduled departure (the "
            "outcome predates the prediction): not forecasts, left out (a replay of past flights "
            "passes --replay)",
        )
        merged = merged.loc[~late]
    stored = set(zip(store["request_id"], store["flight_key"], strict=True))
    fresh = [(r, k) not in stored for r, k in zip(merged["request_id"], merged["flight_key"], strict=True)]
    new = merged.loc[fresh]
    report.counts["already_joined"] += len(merged) - len(new)
    report.counts["newly_joined"] += len(new)
    decision = new["decision"].astype("boolean").fillna(False).astype(bool)
    return pd.DataFrame(
        {
            "request_id": new["request_id"].astype(str),
            "flight_key": new["flight_key"].astype(str),
            "ts": new["ts"],
            "model_version": new["model_version"].astype(str),
            "score": new["score"].astype("float64"),
            "decision": decision,
            "flight_date": new["flight_date"],
            LABEL: new[LABEL].astype("int8"),
            "joined_at": pd.Timestamp(now),
        }
    )


def save_store(path: Path, store: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Append `new` to the store atomically (write a sibling, then rename)."""
    combined = pd.concat([store, new], ignore_index=True) if len(store) else new.reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    combined.to_parquet(tmp, index=False)
    tmp.replace(path)
    return combined


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
