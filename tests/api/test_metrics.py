"""The request-path metric shortcuts count exactly what prometheus_client's own calls count."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from api.metrics import SCORE_BUCKETS, Metrics, observe

pytestmark = pytest.mark.serve_only

# On a bound, between bounds, below the first, above the last (the +Inf bucket).
VALUES = [0.0, 0.05, 0.051, 0.5, 0.95, 1.0, 0.3333, 1e-9, 2.0]


def _samples(registry: CollectorRegistry) -> list[str]:
    return [ln for ln in generate_latest(registry).decode().splitlines() if "_created" not in ln]


def test_observe_puts_each_value_in_the_same_bucket_as_histogram_observe() -> None:
    ra, rb = CollectorRegistry(), CollectorRegistry()
    a = Histogram("h", "x", buckets=SCORE_BUCKETS, registry=ra)
    b = Histogram("h", "x", buckets=SCORE_BUCKETS, registry=rb)
    for v in VALUES:
        a.observe(v)
        observe(b, v)
        assert _samples(ra) == _samples(rb), v


def test_batch_score_update_equals_one_observe_per_row() -> None:
    m = Metrics()
    ref = CollectorRegistry()
    h = Histogram(
        "flightdelay_prediction_score",
        "predicted disruption probability",
        buckets=SCORE_BUCKETS,
        registry=ref,
    )
    scores = np.asarray(VALUES[:-1] * 3, dtype=np.float32)
    m.observe_scores(scores)
    m.observe_scores(scores[:1])
    for v in [*scores.tolist(), float(scores[0])]:
        h.observe(v)

    def score_lines(text: bytes) -> list[str]:
        return [ln for ln in text.decode().splitlines() if ln.startswith("flightdelay_prediction_score")]

    assert score_lines(generate_latest(m.registry)) == score_lines(generate_latest(ref))
