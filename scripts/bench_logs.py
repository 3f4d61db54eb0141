"""Prediction logs in the API's line format, for the benchmarks and the tests (the one writer):
a month's lines are encoded once, then copied with new request ids, so 100× a month (≈ 3 million
lines) takes seconds.

A copy's predictions either join (the same flights predicted again) or await their outcome (the
flight keys of a later year, which no outcome source holds yet).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from flightdelay.core import features

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
THRESHOLD = 0.35
REQUEST = b'"request_id":"r'


def _clean(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and math.isnan(v) else v


def month_lines(
    frame: pd.DataFrame,
    scores: np.ndarray,
    *,
    model_version: str = "1",
    start: dt.datetime = START,
    threshold: float = THRESHOLD,
    request_prefix: str = "r",
) -> bytes:
    """One JSON line per row (features, score, decision; the flight key when the frame has a
    `flight` column), one second apart from `start`, request ids r0, r1, … (`request_prefix`)."""
    keyed = "flight" in frame.columns
    # A frame without the optional schedule fields logs requests that did not send them.
    sent = [c for c in features.INPUT_COLUMNS if c in frame.columns]
    cols = [*sent, "flight"] if keyed else sent
    out = bytearray()
    for i, (rec, s) in enumerate(zip(frame[cols].to_dict(orient="records"), scores, strict=True)):
        line = {
            "ts": (start + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "request_id": f"{request_prefix}{i}",
            **({"flight_key": features.flight_key(rec)} if keyed else {}),
            "model_version": model_version,
            "score": float(s),
            "decision": bool(s >= threshold),
            "features": {k: _clean(rec[k]) for k in sent},
        }
        out += orjson.dumps(line) + b"\n"
    return bytes(out)


def write_copies(path: Path, month: bytes, copies: int, *, awaiting: bool = False) -> Path:
    """The month's lines, then `copies - 1` more copies with request ids of their own; with
    `awaiting`, the copies' flights are those of later years (no outcome yet)."""
    with path.open("wb") as out:
        out.write(month)
        for k in range(1, copies):
            block = month.replace(REQUEST, f'"request_id":"x{k}-'.encode())
            if awaiting:
                block = block.replace(b"-2013-", f"-{2013 + k}-".encode())
            out.write(block)
    return path
