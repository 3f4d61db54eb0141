"""The prediction log joined with outcomes, one batch of log lines at a time, and the joined store.

The log is read in batches of `logread.BATCH_LINES` lines and each batch is joined on its own, so
the process holds one batch, the outcomes, the joined rows and 8 bytes per distinct prediction
(`KeySet`): a log ten times as long does not need ten times the memory to read. A repeated line
(same `request_id` and `flight_key`) counts once wherever it falls, the first one seen wins, as if
the whole log had been read at once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core.errors import DataError
from flightdelay.lifecycle.drift import logread
from flightdelay.lifecycle.drift.outcomes import STORE_COLUMNS, JoinReport, dedupe_outcomes
from flightdelay.lifecycle.drift.sources import LABEL, _parse_ts

PRED_COLUMNS = ["request_id", "flight_key", "ts", "model_version", "score", "decision"]
KEY = ["request_id", "flight_key"]


class KeySet:
    """(request_id, flight_key) pairs met so far, as sorted 64-bit hashes: 8 bytes a prediction
    instead of two Python strings. Two distinct pairs share a hash with probability about
    n² / 2⁶⁵ over n pairs (under 10⁻⁶ for ten million predictions)."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)

    @staticmethod
    def hash(frame: pd.DataFrame) -> np.ndarray:
        hashes: np.ndarray = pd.util.hash_pandas_object(frame[KEY], index=False).to_numpy(dtype=np.uint64)
        return hashes

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self.hashes, hashes)
        found = np.zeros(len(hashes), dtype=bool)
        inside = at < len(self.hashes)
        found[inside] = self.hashes[at[inside]] == hashes[inside]
        return found

    def add(self, hashes: np.ndarray) -> None:
        merged = np.concatenate([self.hashes, hashes])
        merged.sort(kind="stable")  # two sorted runs: a linear merge
        self.hashes = merged

    def first_seen(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of the frame carry a pair not met before (in earlier rows or batches); adds them."""
        h = self.hash(frame)
        fresh: np.ndarray = ~pd.Series(h).duplicated().to_numpy() & ~self.contains(h)
        self.add(np.sort(h[fresh]))
        return fresh


@dataclass
class LogTally:
    """What the batches of one log held, summed over the batches."""

    malformed: int = 0
    unkeyed: int = 0
    duplicates: int = 0
    late: int = 0
    unknown_versions: Counter[str] = field(default_factory=Counter)


def check_log(path: Path) -> None:
    if not path.is_file():
        raise DataError(
            f"prediction log {path} does not exist",
            hint="pass the service's log file (PREDICTION_LOG of the API) with --log",
        )


def parse_batch(objects: Iterable[dict[str, Any] | None], tally: LogTally) -> pd.DataFrame:
    """The lines that can be joined (a key, a score, a time), as a frame; the rest counted."""
    rows: list[tuple[Any, ...]] = []
    for obj in objects:
        score = obj.get("score") if obj is not None else None
        ts = _parse_ts(obj.get("ts")) if obj is not None else None
        if obj is None or isinstance(score, bool) or not isinstance(score, int | float) or ts is None:
            tally.malformed += 1
            continue
        if not math.isfinite(score) or not isinstance(obj.get("request_id"), str):
            tally.malformed += 1
            continue
        key = obj.get("flight_key")
        if not isinstance(key, str):
            tally.unkeyed += 1
            continue
        rows.append(
            (obj["request_id"], key, ts, str(obj.get("model_version")), float(score), obj.get("decision"))
        )
    frame = pd.DataFrame(rows, columns=PRED_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


@dataclass
class BatchJoin:
    """The fixed side of the join and what has been met so far."""

    outcomes: pd.DataFrame
    known_versions: set[str]
    replay: bool
    now: dt.datetime
    report: JoinReport
    tally: LogTally = field(default_factory=LogTally)
    seen: KeySet = field(default_factory=KeySet)
    stored: KeySet = field(default_factory=KeySet)

    def __post_init__(self) -> None:
        self.matched = np.zeros(len(self.outcomes), dtype=bool)

    def rows(self, preds: pd.DataFrame) -> pd.DataFrame:
        """One batch of parsed log lines → the rows to append to the store."""
        counts = self.report.counts
        fresh = self.seen.first_seen(preds)
        self.tally.duplicates += int((~fresh).sum())
        preds = preds.loc[fresh]
        unknown = ~preds["model_version"].isin(self.known_versions)
        self.tally.unknown_versions.update(preds.loc[unknown, "model_version"])
        preds = preds.loc[~unknown]
        self.matched |= self.outcomes["flight_key"].isin(set(preds["flight_key"])).to_numpy()
        merged = preds.merge(self.outcomes, on="flight_key", how="left", indicator=True)
        waiting = merged["_merge"] == "left_only"
        counts["awaiting_outcome"] += int(waiting.sum())
        merged = merged.loc[~waiting]
        if not self.replay:
            late = merged["ts"] > merged["sched_utc"]
            self.tally.late += int(late.sum())
            merged = merged.loc[~late]
        new = merged.loc[~self.stored.contains(KeySet.hash(merged))]
        counts["already_joined"] += len(merged) - len(new)
        counts["newly_joined"] += len(new)
        return store_rows(new, self.now)


def store_rows(new: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
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


def join_log(
    log: Path,
    outcomes: pd.DataFrame,
    store: pd.DataFrame,
    *,
    known_versions: set[str],
    replay: bool,
    now: dt.datetime,
    report: JoinReport,
    batch_lines: int = logread.BATCH_LINES,
) -> pd.DataFrame:
    """Rows to append to the store: the log's predictions with an outcome, not stored before."""
    check_log(log)
    outcomes = dedupe_outcomes(outcomes, report)
    job = BatchJoin(outcomes, known_versions, replay, now, report)
    if len(store):
        job.stored.add(np.sort(KeySet.hash(store)))
    parts = []
    lines = 0
    for batch in logread.iter_json_batches(log, batch_lines):
        lines += len(batch.objects)
        parts.append(job.rows(parse_batch(batch.objects, job.tally)))
    report.counts["log_lines"] += lines
    report.counts["outcomes_without_prediction"] += int((~job.matched).sum())
    tell(job.tally, log, known_versions, report)
    filled = [part for part in parts if len(part)]  # (concat infers no dtypes from empty frames)
    if filled:
        return pd.concat(filled, ignore_index=True)
    return parts[0] if parts else job.rows(parse_batch([], LogTally()))


def tell(t: LogTally, log: Path, known_versions: set[str], report: JoinReport) -> None:
    """The log's problems, summed over its batches."""
    report.problem("malformed_lines", t.malformed, f"{t.malformed} malformed line(s) in {log} skipped")
    report.problem(
        "unkeyed_predictions",
        t.unkeyed,
        f"{t.unkeyed} prediction(s) without a flight key (the request had no `flight` number): "
        "they cannot be joined; clients should send the flight number",
    )
    report.problem("duplicate_log_lines", t.duplicates, f"{t.duplicates} repeated log line(s) counted once")
    unknown = sum(t.unknown_versions.values())
    report.problem(
        "unknown_version_predictions",
        unknown,
        f"{unknown} prediction(s) from model version(s) {dict(t.unknown_versions)} that no release "
        f"figures were given for (known: {sorted(known_versions)}): pass their bundle with --bundle",
    )
    report.problem(
        "outcome_before_prediction",
        t.late,
        f"{t.late} prediction(s) made after the flight's scheduled departure (the "
        "outcome predates the prediction): not forecasts, left out (a replay of past flights "
        "passes --replay)",
    )


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


def save_store(path: Path, store: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Append `new` to the store atomically (write a sibling, then rename)."""
    combined = pd.concat([store, new], ignore_index=True) if len(store) else new.reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    combined.to_parquet(tmp, index=False)
    tmp.replace(path)
    return combined
