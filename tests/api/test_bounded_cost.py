"""Bounded cost per request: the costliest bodies under MAX_BODY_BYTES are refused quickly, two at
once do not stall the service, and the row limit is checked before any row is validated.

Against a real gunicorn with the production limits (1 MiB, 1,000 rows): the failure modes are a
worker held for seconds, or killed by its heartbeat timeout with no answer at all.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.bodies import worst_case_bodies
from tests.api.conftest import body, flight
from tests.api.server import Gunicorn

pytestmark = pytest.mark.serve_only

DEADLINE = 5.0  # REQUEST_TIMEOUT_SECONDS of the server below
MAX_BODY, MAX_ROWS = 1_048_576, 1000


@pytest.fixture(scope="module")
def server(bundles: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    env = {
        "MAX_BODY_BYTES": str(MAX_BODY),
        "MAX_BATCH_ROWS": str(MAX_ROWS),
        "REQUEST_TIMEOUT_SECONDS": str(DEADLINE),
    }
    with Gunicorn(bundles[0], tmp_path_factory.mktemp("bounded"), workers=2, env=env) as srv:
        yield srv


def _timed_post(port: int, path: str, payload: bytes, timeout: float) -> tuple[int | None, float, str]:
    """(status or None when no answer came within `timeout`, seconds, body text)."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, time.monotonic() - t0, r.read().decode(errors="replace")
    except (TimeoutError, ConnectionError, http.client.HTTPException) as e:
        return None, time.monotonic() - t0, f"no answer: {e!r}"
    finally:
        c.close()


def _burst(port: int) -> dict[str, list[tuple[int | None, float, str]]]:
    """Every worst-case body, two at once (one per worker)."""
    out = {}
    for name, (path, payload) in worst_case_bodies(MAX_BODY, MAX_ROWS).items():
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(_timed_post, port, path, payload, DEADLINE + 2) for _ in range(2)]
            out[name] = [f.result() for f in futures]
    return out


def test_worst_case_bodies_are_refused_within_the_deadline(server: Gunicorn) -> None:
    for name, answers in _burst(server.port).items():
        for status, seconds, text in answers:
            assert status == 422 and seconds <= DEADLINE, (name, status, round(seconds, 2), text[:200])


def test_normal_traffic_keeps_flowing_during_a_burst_of_worst_case_bodies(server: Gunicorn) -> None:
    latencies: list[float] = []
    failed: list[object] = []
    done = threading.Event()

    def normal() -> None:
        payload = body(flight())
        while not done.is_set():
            status, seconds, text = _timed_post(server.port, "/v1/predict", payload, 30)
            latencies.append(seconds)
            if status != 200:
                failed.append((status, text[:200]))

    t = threading.Thread(target=normal)
    t.start()
    try:
        _burst(server.port)
    finally:
        done.set()
        t.join()
    assert not failed, failed[:3]
    assert len(latencies) > 5 and max(latencies) <= 2.0, (len(latencies), round(max(latencies), 2))


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/predict", '{"flights": [%s]}'),
        ("/invocations", '{"dataframe_records": [%s]}'),
        ("/invocations", '{"dataframe_split": {"columns": ["year"], "data": [%s]}}'),
    ],
)
def test_the_row_limit_is_checked_before_any_row_is_validated(
    inprocess: TestClient, path: str, template: str
) -> None:
    """101 invalid rows with MAX_BATCH_ROWS=100: the answer is the row limit, not row 0's errors."""
    row = "[true]" if "split" in template else "{}"
    payload = (template % ",".join([row] * 101)).encode()
    r = inprocess.post(path, content=payload, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()
    assert "101" in err["message"] and "MAX_BATCH_ROWS=100" in err["message"], err["message"]
    assert json.dumps(err).count('"loc"') <= 1, err
