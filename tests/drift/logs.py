"""A tiny prediction-log writer for tests, in the API's line format."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay import features


def _clean(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and math.isnan(v) else v


def write_prediction_log(
    path: Path,
    frame: pd.DataFrame,
    scores: np.ndarray,
    *,
    model_version: str = "1",
    start: dt.datetime | None = None,
    malformed: int = 0,
    threshold: float = 0.35,
) -> Path:
    """One JSON line per row (features + score), then `malformed` broken lines."""
    t0 = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    records = frame[list(features.INPUT_COLUMNS)].to_dict(orient="records")
    with path.open("w") as fh:
        for i, (rec, s) in enumerate(zip(records, scores, strict=True)):
            line = {
                "ts": (t0 + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "request_id": f"r{i}",
                "model_version": model_version,
                "score": float(s),
                "decision": bool(s >= threshold),
                "features": {k: _clean(v) for k, v in rec.items()},
            }
            fh.write(json.dumps(line) + "\n")
        for i in range(malformed):
            fh.write(["{not json", '{"score": "high"}', "[1, 2]"][i % 3] + "\n")
    return path
