"""Prediction log for monitoring: sampled JSON lines written by a background thread; it degrades
(drops and counts lines), it never fails a request or the start-up.

One line per prediction: {"ts", "request_id", "flight_key", "model_version", "score", "decision",
"features"}; `flight_key` (features.flight_key, null without a flight number) and `request_id` let
`flightdelay monitor outcomes` join the prediction with the flight's outcome once it is known.
The request path only samples and enqueues. The queue is bounded in bytes (each queued row is
charged the memory it holds, `ROW_BYTES`): past the bound new lines are dropped. A sink that cannot
be opened (missing or uncreatable directory, read-only file) or written (no space left) drops
lines too; the writer tries it again every `retry_seconds` and resumes once it works. Every dropped
line is counted in `flightdelay_prediction_log_dropped_total{reason}`; each outage is logged once
when it starts and once when it ends. The drift job reads the file sink (and skips a line cut short
by a full disk).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from api.schemas import EXAMPLE_FLIGHT
from flightdelay.core.features import INPUT_COLUMNS, flight_key

log = logging.getLogger("flightdelay.api")
_STOP = object()
QUEUE_FULL, WRITE_ERROR = "queue_full", "write_error"


def _footprint(record: Mapping[str, Any]) -> int:
    """Bytes a queued row keeps alive: the validated flight dict, its values, its score."""
    return sys.getsizeof(dict(record)) + sum(sys.getsizeof(v) for v in record.values()) + 64


ROW_BYTES = _footprint({k: float(v) if isinstance(v, int) else v for k, v in EXAMPLE_FLIGHT.items()})


class PredictionLog:
    """`sink` is "off", "stdout" or a file path (appended; one JSON object per line).

    `on_drop(lines, reason)` is called for every dropped line (reason: "queue_full" or
    "write_error"), from the request path or from the writer thread.
    """

    def __init__(
        self,
        sink: str,
        sample_rate: float,
        queue_bytes: int,
        on_drop: Callable[[int, str], None] | None = None,
        retry_seconds: float = 1.0,
    ) -> None:
        self.sink = sink
        self.enabled = sink != "off" and sample_rate > 0
        self.sample_rate = sample_rate
        self.queue_bytes = queue_bytes
        self.retry_seconds = retry_seconds
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queued = 0  # bytes charged for the rows in the queue
        self._lock = threading.Lock()
        self._on_drop = on_drop
        self._thread: threading.Thread | None = None
        self._rng = random.Random()  # noqa: S311 - sampling, not security
        # writer-thread state
        self._out: IO[bytes] | None = None
        self._retry_at = 0.0
        self._outage: str | None = None  # why the sink fails, while it does
        self._lost = 0  # lines dropped in the current outage
        self._cut = False  # the file may end in a line cut short by a failed write

    def start(self) -> None:
        """Start the writer. Never raises: a sink that cannot be opened only drops lines."""
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued (bounded wait), then stop the writer."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning(
                "prediction log: the writer did not finish within %.0f s; lines were dropped", timeout
            )
        self._thread = None

    @property
    def queued_bytes(self) -> int:
        return self._queued

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
        cost = len(picked) * ROW_BYTES
        with self._lock:
            fits = self._queued + cost <= self.queue_bytes
            if fits:
                self._queued += cost
        if not fits:
            self._drop(len(picked), QUEUE_FULL)
            return
        self._queue.put(
            (
                dt.datetime.now(dt.UTC),
                request_id,
                model_version,
                threshold,
                [records[i] for i in picked],
                scores[list(picked)].tolist(),
            )
        )

    def _drop(self, lines: int, reason: str) -> None:
        if self._on_drop is not None and lines:
            self._on_drop(lines, reason)

    def _run(self) -> None:
        try:
            while True:
                items = [self._queue.get()]
                while True:  # everything queued meanwhile goes out in one write
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                batch = [i for i in items if i is not _STOP]
                if batch:
                    rows = sum(len(i[4]) for i in batch)
                    with self._lock:
                        self._queued -= rows * ROW_BYTES
                    self._write(b"".join(_lines(i) for i in batch), rows)
                if len(batch) < len(items):
                    return
        finally:
            self._close()

    def _write(self, chunk: bytes, lines: int) -> None:
        """Write whole lines or count them as dropped; (re)open the sink when it is due."""
        out = self._out or self._open()
        if out is None:
            self._lost += lines
            self._drop(lines, WRITE_ERROR)
            return
        skip = 1 if self._cut else 0
        if skip:  # end the line a failed write cut short: the lines after it parse again
            chunk = b"\n" + chunk
        done = 0
        try:
            while done < len(chunk):
                n = out.write(chunk[done:])
                done += len(chunk) - done if n is None else n
            out.flush()  # a no-op for the unbuffered file; stdout is buffered
        except OSError as e:
            if out is sys.stdout.buffer:
                done = 0  # buffered: which lines got out is unknown, count them all
            elif done:
                self._cut = chunk[done - 1] != 0x0A
            dropped = lines - chunk.count(b"\n", skip, done)
            self._lost += dropped
            self._drop(dropped, WRITE_ERROR)
            self._fail(f"cannot write to {self.sink} ({e})")
            self._close()
            return
        self._cut = False
        if self._outage is not None:
            log.warning(
                "prediction log: writing to %s again; %d line(s) were dropped meanwhile",
                self.sink,
                self._lost,
            )
            self._outage, self._lost = None, 0

    def _open(self) -> IO[bytes] | None:
        if time.monotonic() < self._retry_at:
            return None
        if self.sink == "stdout":
            self._out = sys.stdout.buffer
            return self._out
        try:
            path = Path(self.sink)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: each write is one write(2), so a failure tells which lines got out.
            self._out = path.open("ab", buffering=0)
        except OSError as e:
            self._fail(f"cannot open {self.sink} ({e})")
            return None
        return self._out

    def _fail(self, reason: str) -> None:
        self._retry_at = time.monotonic() + self.retry_seconds
        if self._outage is None:
            log.error(
                "prediction log: %s; dropping lines (counted in "
                "flightdelay_prediction_log_dropped_total) and trying again every %.0f s",
                reason,
                self.retry_seconds,
            )
        self._outage = reason

    def _close(self) -> None:
        out, self._out = self._out, None
        if out is None or out is sys.stdout.buffer:
            return
        # Closing a file whose last write failed may report that failure again: already counted.
        with contextlib.suppress(OSError):
            out.close()


def _lines(item: Any) -> bytes:
    ts, request_id, version, threshold, records, scores = item
    stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return b"".join(
        orjson.dumps(
            {
                "ts": stamp,
                "request_id": request_id,
                "flight_key": flight_key(r),
                "model_version": version,
                "score": s,
                "decision": s >= threshold,
                "features": {c: r.get(c) for c in INPUT_COLUMNS},
            }
        )
        + b"\n"
        for r, s in zip(records, scores, strict=True)
    )
