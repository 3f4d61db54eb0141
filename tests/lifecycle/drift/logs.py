"""Prediction logs for tests: the benchmarks' writer (scripts/bench_logs.py), plus broken lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from bench_logs import START, month_lines

MALFORMED = (b"{not json", b'{"score": "high"}', b"[1, 2]")


def write_prediction_log(
    path: Path,
    frame: pd.DataFrame,
    scores: np.ndarray,
    *,
    model_version: str = "1",
    start: dt.datetime | None = None,
    malformed: int = 0,
    threshold: float = 0.35,
    request_prefix: str = "r",
    mode: str = "w",
) -> Path:
    """One JSON line per row (features + score), then `malformed` broken lines. With a `flight`
    column, each line carries the flight key as the API writes it. `mode="a"` appends."""
    lines = month_lines(
        frame,
        scores,
        model_version=model_version,
        start=start or START,
        threshold=threshold,
        request_prefix=request_prefix,
    )
    broken = b"".join(MALFORMED[i % len(MALFORMED)] + b"\n" for i in range(malformed))
    with path.open(mode + "b") as fh:
        fh.write(lines + broken)
    return path
