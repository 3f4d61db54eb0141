"""Prometheus metrics (names are a contract with the alert rules) and their exposition.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set before `prometheus_client` is imported (see
gunicorn.conf.py), so every worker writes its samples to files there and `/metrics` aggregates all
workers, whichever one answers the scrape. Without it (one process, tests) the app's own registry
is exposed.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
_SCORE_EDGES = np.asarray(SCORE_BUCKETS, dtype=np.float64)
_SCORE_EDGES.flags.writeable = False
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000)
ERROR_KINDS = (
    "validation",
    "malformed_json",
    "body_too_large",
    "unsupported_media_type",
    "timeout",
    "internal",
    "not_found",
    "method_not_allowed",
    "unauthorized",
    "model_not_ready",
    "reload_failed",
    "malformed_request",
    "http",
)


def observe(histogram: Any, value: float) -> None:
    """`Histogram.observe` with a binary search for the bucket instead of a Python scan over all
    of them (the same bucket: the first bound >= value). Used on the request path."""
    histogram._buckets[bisect_left(histogram._upper_bounds, value)].inc(1)
    histogram._sum.inc(value)


class Metrics:
    """One set of metric objects per app, registered in the app's own registry."""

    def __init__(self) -> None:
        disable_created_metrics()  # `_created` series double the exposition; nobody alerts on them
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        labels = ("route", "method", "status")
        self.requests = Counter("flightdelay_http_requests", "HTTP requests answered", labels, registry=r)
        self.latency = Histogram(
            "flightdelay_http_request_duration_seconds",
            "time from request start to response end",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.score = Histogram(
            "flightdelay_prediction_score",
            "predicted disruption probability",
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "flightdelay_batch_rows",
            "flights per prediction request",
            ("route",),
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "flightdelay_model_info",
            "the served model (value 1)",
            ("version", "model_md5", "training_window"),
            multiprocess_mode="livemax",
            registry=r,
        )
        self.errors = Counter("flightdelay_errors", "client and server errors by kind", ("kind",), registry=r)
        self.reloads = Counter(
            "flightdelay_model_reloads", "model reloads by result", ("result",), registry=r
        )
        self.predlog_dropped = Counter(
            "flightdelay_prediction_log_dropped",
            "prediction log lines dropped: queue_full (its byte bound) or write_error (the sink "
            "cannot be opened or written)",
            ("reason",),
            registry=r,
        )
        self._batch_rows: dict[str, Any] = {}
        for kind in ERROR_KINDS:
            self.errors.labels(kind=kind)
        for result in ("success", "failure"):
            self.reloads.labels(result=result)
        self._dropped = {
            reason: self.predlog_dropped.labels(reason=reason) for reason in ("queue_full", "write_error")
        }

    def predlog_drop(self, lines: int, reason: str) -> None:
        """Count prediction log lines dropped (called from requests and from the writer thread)."""
        self._dropped[reason].inc(lines)

    def batch_rows_of(self, route: str) -> Any:
        """The route's batch-size histogram child (cached: `labels()` costs microseconds)."""
        child = self._batch_rows.get(route)
        if child is None:
            child = self._batch_rows[route] = self.batch_rows.labels(route=route)
        return child

    def observe_scores(self, scores: np.ndarray) -> None:
        """Histogram update for a whole batch: one bucket count per bucket, not one call per row."""
        if scores.size == 1:
            observe(self.score, float(scores[0]))
            return
        counts = np.bincount(
            np.searchsorted(_SCORE_EDGES, scores.astype(np.float64), side="left"),
            minlength=len(_SCORE_EDGES) + 1,
        )
        # prometheus_client has no bulk observe; its bucket values are `inc`-able children.
        buckets = self.score._buckets
        for i, n in enumerate(counts.tolist()):
            if n:
                buckets[i].inc(n)
        self.score._sum.inc(float(scores.sum(dtype=np.float64)))

    def set_model(self, labels: dict[str, str], old: dict[str, str] | None) -> None:
        if old is not None and old != labels:
            self.model_info.labels(**old).set(0)
        self.model_info.labels(**labels).set(1)

    def exposition(self) -> tuple[bytes, str]:
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if path:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=path)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
