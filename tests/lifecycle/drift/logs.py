"""A tiny prediction-log writer for tests, in the API's line format."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import features


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
    request_prefix: str = "r",
    mode: str = "w",
) -> Path:
    """One JSON line per row (features + score), then `malformed` broken lines. With a `flight`
    column, each line carries the flight key as the API writes it."""
    t0 = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    keyed = "flight" in frame.columns
    # A frame without the optional schedule fields logs requests that did not send them.
    sent = [c for c in features.INPUT_COLUMNS if c in frame.columns]
    cols = [*sent, "flight"] if keyed else sent
    records = frame[cols].to_dict(orient="records")
    with path.open(mode) as fh:
        for i, (rec, s) in enumerate(zip(records, scores, strict=True)):
            line = {
                "ts": (t0 + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "request_id": f"{request_prefix}{i}",
                **({"flight_key": features.flight_key(rec)} if keyed else {}),
                "model_version": model_version,
                "score": float(s),
                "decision": bool(s >= threshold),
                "features": {k: _clean(rec[k]) for k in sent},
            }
            fh.write(json.dumps(line) + "\n")
        for i in range(malformed):
            fh.write(["{not json", '{"score": "high"}', "[1, 2]"][i % 3] + "\n")
    return path
