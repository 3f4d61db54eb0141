"""Prediction log for monitoring: sampled JSON lines written by a background thread, never blocking.

One line per prediction: {"ts", "request_id", "model_version", "score", "decision", "features"}.
The request path only samples and enqueues; a full queue drops the line and counts it in
`flightdelay_prediction_log_dropped_total`. The drift job reads the file sink.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from flightdelay.features import INPUT_COLUMNS

log = logging.getLogger("flightdelay.api")
_STOP = object()


class PredictionLog:
    """`sink` is "off", "stdout" or a file path (appended; one JSON object per line)."""

    def __init__(self, sink: str, sample_rate: float, queue_size: int, on_drop: Any = None) -> None:
        self.sink = sink
        self.enabled = sink != "off" and sample_rate > 0
        self.sample_rate = sample_rate
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._on_drop = on_drop
        self._thread: threading.Thread | None = None
        self._rng = random.Random()  # noqa: S311 - sampling, not security

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        if self.sink != "stdout":
            Path(self.sink).parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued (bounded wait), then stop the writer."""
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("prediction log: queue still full at shutdown; lines were dropped")
        self._thread.join(timeout)
        self._thread = None

    def record(
        self,
        request_id: str,
        model_version: str,
        threshold: float,
        records: Sequence[Mapping[str, Any]],
        scores: np.ndarray,
    ) -> None:
        if not self.enabled:
            return
        n = len(records)
        if self.sample_rate >= 1.0:
            picked: Sequence[int] = range(n)
        else:
            picked = [i for i in range(n) if self._rng.random() < self.sample_rate]
        if not picked:
            return
        try:
            self._queue.put_nowait(
                (
                    dt.datetime.now(dt.UTC),
                    request_id,
                    model_version,
                    threshold,
                    [records[i] for i in picked],
                    scores[list(picked)].tolist(),
                )
            )
        except queue.Full:
            if self._on_drop is not None:
                self._on_drop(len(picked))

    def _run(self) -> None:
        out: IO[bytes]
        out = sys.stdout.buffer if self.sink == "stdout" else Path(self.sink).open("ab")  # noqa: SIM115
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                out.write(_lines(item))
                if self._queue.empty():
                    out.flush()
        except OSError as e:
            log.error("prediction log: cannot write to %s (%s); logging stopped", self.sink, e)
        finally:
            out.flush()
            if out is not sys.stdout.buffer:
                out.close()


def _lines(item: Any) -> bytes:
    ts, request_id, version, threshold, records, scores = item
    stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return b"".join(
        orjson.dumps(
            {
                "ts": stamp,
                "request_id": request_id,
                "model_version": version,
                "score": s,
                "decision": s >= threshold,
                "features": {c: r.get(c) for c in INPUT_COLUMNS},
            }
        )
        + b"\n"
        for r, s in zip(records, scores, strict=True)
    )
