"""Reading the current window: the service's prediction log, labelled partitions, or a file.

Prediction log contract (one JSON object per line, written by the API):
`{"ts": ISO 8601 UTC, "request_id": str, "model_version": str, "score": float, "decision": bool,
"features": {INPUT_COLUMNS…}}`. Malformed lines are counted and skipped, never fatal.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import features
from flightdelay.core.errors import DataError
from flightdelay.core.params import MONTH_RE, Params
from flightdelay.core.progress import say
from flightdelay.lifecycle.drift import logread

LABEL = "disrupted"


@dataclass
class Current:
    """The current window and where it came from."""

    frame: pd.DataFrame
    source: str  # prediction_log | partitions | file
    description: str
    rows_read: int
    malformed: int = 0
    months: list[str] = field(default_factory=list)
    model_versions: dict[str, int] = field(default_factory=dict)
    sampled_from: int | None = None  # `frame` is a fixed-seed sample of this many window rows

    @property
    def rows(self) -> int:
        """Rows in the window (more than `frame` holds when it is a sample)."""
        return self.sampled_from or len(self.frame)

    @property
    def labelled(self) -> bool:
        return LABEL in self.frame.columns and bool(self.frame[LABEL].notna().all())


def _parse_ts(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


def parse_log_line(line: bytes) -> dict[str, Any] | None:
    """One log line → a flat row (features + score + ts + model_version), or None if malformed."""
    return log_row(logread.decode(line))


def log_row(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A decoded log line → a flat row, or None if it is not a valid prediction."""
    if obj is None:
        return None
    feats, score = obj.get("features"), obj.get("score")
    if not isinstance(feats, dict) or isinstance(score, bool) or not isinstance(score, int | float):
        return None
    if not math.isfinite(score) or not all(c in feats for c in ("carrier", "origin", "dest")):
        return None
    ts = _parse_ts(obj.get("ts"))
    if ts is None:
        return None
    row = {c: feats.get(c) for c in features.INPUT_COLUMNS}
    row.update(score=float(score), ts=ts, model_version=str(obj.get("model_version", "unknown")))
    return row


def read_prediction_log(
    path: Path, since: dt.datetime | None = None, *, max_rows: int | None = None, seed: int = 0
) -> Current:
    """The log's valid rows at or after `since`, read in batches (logread). With `max_rows`, memory
    stays bounded at any log size: a first pass counts the rows (and keeps them while they fit),
    a second, only when more arrived, keeps the fixed-seed sample `cap` would take."""
    if not path.is_file():
        raise DataError(
            f"prediction log {path} does not exist",
            hint="pass the service's log file (PREDICTION_LOG of the API) with --log",
        )

    def in_window(obj: dict[str, Any] | None) -> dict[str, Any] | None:
        row = log_row(obj)
        return row if row is not None and (since is None or row["ts"] >= since) else None

    rows: list[dict[str, Any]] = []
    malformed, first_bad, total, kept = 0, 0, 0, 0
    versions: Counter[str] = Counter()
    first = last = None
    for batch in logread.iter_json_batches(path):
        for obj, lineno in zip(batch.objects, batch.line_numbers, strict=True):
            total += 1
            row = log_row(obj)
            if row is None:
                malformed += 1
                first_bad = first_bad or lineno
                continue
            if since is not None and row["ts"] < since:
                continue
            kept += 1
            versions[row["model_version"]] += 1
            first = row["ts"] if first is None else min(first, row["ts"])
            last = row["ts"] if last is None else max(last, row["ts"])
            if max_rows is None or len(rows) < max_rows:
                rows.append(row)
    sampled = max_rows is not None and kept > max_rows
    if sampled:
        positions = logread.sample_indices(kept, int(max_rows or 0), seed)
        rows = logread.take(logread.stream(logread.iter_json_batches(path), in_window), positions)
    if malformed:
        say(
            f"drift: warning: skipped {malformed} malformed line(s) of {total} in {path} "
            f"(first at line {first_bad})"
        )
    frame = pd.DataFrame(rows, columns=[*features.INPUT_COLUMNS, "score", "ts", "model_version"])
    span = f", {first:%Y-%m-%d %H:%M} … {last:%Y-%m-%d %H:%M} UTC" if first and last else ""
    return Current(
        frame=frame,
        source="prediction_log",
        description=f"prediction log {path.name}{span}" + (f" (a sample of {kept:,})" if sampled else ""),
        rows_read=total,
        malformed=malformed,
        model_versions=dict(versions),
        sampled_from=kept if sampled else None,
    )


def next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:])
    return f"{y + (m == 12):04d}-{m % 12 + 1:02d}"


def resolve_months(months: list[str], p: Params) -> list[str]:
    """`next` means the month after the training window; others must be YYYY-MM."""
    out = [next_month(p.data.window.end) if m == "next" else m for m in months]
    bad = [m for m in out if not MONTH_RE.match(m)]
    if bad:
        raise DataError(f"{bad} are not months", hint="write them as YYYY-MM (or `next`)")
    return out


def read_partitions(months: list[str], p: Params) -> Current:
    """Labelled raw partitions, prepared exactly as training prepares them (duplicates dropped)."""
    from flightdelay.pipeline.prepare import prepare_month

    raw = Path(p.paths.raw)
    frames = []
    for m in months:
        if not (raw / m).is_dir():
            raise DataError(
                f"partition {m} is not in {raw}",
                hint=f"run `flightdelay data add {m}` (or `dvc pull`) first",
            )
        df, _ = prepare_month(m, raw, p.prepare)
        frames.append(df.loc[~df["is_duplicate"], ["partition", *features.INPUT_COLUMNS, LABEL]])
        say(f"drift: {m}: {len(frames[-1]):,} labelled flights")
    frame = pd.concat(frames, ignore_index=True)
    return Current(
        frame=frame,
        source="partitions",
        description=f"labelled partitions {', '.join(months)}",
        rows_read=len(frame),
        months=months,
    )


def read_file(path: Path) -> Current:
    """A parquet/CSV table with INPUT_COLUMNS (and optionally `score`, `disrupted`), or a log."""
    if not path.is_file():
        raise DataError(f"{path} does not exist", hint="pass an existing .parquet, .csv or .jsonl file")
    if path.suffix in (".jsonl", ".log", ".ndjson"):
        return read_prediction_log(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path, low_memory=False)
    else:
        raise DataError(
            f"{path}: unknown file type {path.suffix!r}",
            hint="use .parquet, .csv, or .jsonl (prediction log)",
        )
    missing = [c for c in features.INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks input columns {missing}",
            hint="the current window needs every model input column",
        )
    return Current(frame=frame, source="file", description=f"file {path.name}", rows_read=len(frame))


def cap(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """A fixed-seed sample of at most `max_rows` rows (the cost bound at any volume)."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    idx = np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False)
    return frame.iloc[np.sort(idx)].reset_index(drop=True)
