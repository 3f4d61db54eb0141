"""Operations on a real gunicorn: graceful SIGTERM, worker crash, reload under load, timeout."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from api.schemas import EXAMPLE_FLIGHT
from flightdelay.core import bundle
from tests.api.server import ADMIN_TOKEN, Gunicorn, request

pytestmark = [pytest.mark.slow, pytest.mark.serve_only]
BATCH = json.dumps({"flights": [EXAMPLE_FLIGHT] * 100}).encode()


def _open_partial(port: int, body: bytes) -> socket.socket:
    """A request whose headers and half of its body are sent: in flight until the rest comes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(
        b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2]
    )
    return s


def _finish(s: socket.socket, body: bytes) -> int:
    s.sendall(body[len(body) // 2 :])
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else -1


def test_sigterm_answers_every_in_flight_request(bundles: tuple[Path, Path], tmp_path: Path) -> None:
    with Gunicorn(bundles[0], tmp_path, workers=2) as srv:
        pending = [_open_partial(srv.port, BATCH) for _ in range(8)]
        time.sleep(0.3)  # the workers have read the headers: these requests are in flight
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # shutdown under way: new connections are refused ...
        with pytest.raises(ConnectionError):
            request(srv.port, "GET", "/healthz", timeout=2)
        statuses = [_finish(s, BATCH) for s in pending]  # ... in-flight ones are answered
        assert statuses == [200] * 8, srv.log()
        assert srv.proc.wait(20) == 0, srv.log()


def _kill_worker_and_time_until_served(srv: Gunicorn) -> float:
    [worker] = srv.workers()
    os.kill(worker, signal.SIGKILL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        try:
            if (
                request(srv.port, "POST", "/v1/predict", json.dumps(EXAMPLE_FLIGHT).encode(), timeout=1)[0]
                == 200
            ):
                break
        except OSError:
            pass
        time.sleep(0.01)
    assert srv.workers() != [worker]
    return time.monotonic() - t0


def test_killed_worker_is_replaced_within_one_second_with_the_current_model(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    new = bundle.load(bundles[1]).version
    with Gunicorn(bundles[0], tmp_path, workers=1) as srv:
        elapsed = _kill_worker_and_time_until_served(srv)
        assert elapsed <= 1.0, f"replacement served after {elapsed:.2f} s\n{srv.log()}"
        status, _ = request(
            srv.port,
            "POST",
            "/admin/reload",
            json.dumps({"model_dir": str(bundles[1])}).encode(),
            {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert status == 200
        elapsed = _kill_worker_and_time_until_served(srv)
        assert elapsed <= 1.0, f"replacement served after {elapsed:.2f} s\n{srv.log()}"
        # A worker started after a reload serves the reloaded model, not MODEL_DIR.
        assert json.loads(request(srv.port, "GET", "/v1/model")[1])["version"] == new


def test_reload_under_load_fails_no_request_and_reaches_every_worker(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = (bundle.load(p).version for p in bundles)
    with Gunicorn(bundles[0], tmp_path, workers=2) as srv:
        stop = threading.Event()
        results: list[tuple[float, int, str]] = []
        lock = threading.Lock()

        def load() -> None:
            while not stop.is_set():
                status, body = request(srv.port, "POST", "/v1/predict", BATCH)
                version = json.loads(body).get("model_version", "") if status == 200 else ""
                with lock:
                    results.append((time.monotonic(), status, version))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.8)
        status, body = request(
            srv.port,
            "POST",
            "/admin/reload",
            json.dumps({"model_dir": str(bundles[1])}).encode(),
            {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        swapped_at = time.monotonic()
        assert status == 200, body
        assert json.loads(body)["version"] == new
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join()
    assert results, "no load was generated"
    assert {s for _, s, _ in results} == {200}, "requests failed during the reload"
    assert {v for _, _, v in results} == {old, new}
    late = [v for t, _, v in results if t > swapped_at + 0.6]
    assert len(late) > 20
    assert set(late) == {new}, "a worker still serves the old model"


def test_request_slower_than_the_timeout_is_504(gunicorn: Gunicorn) -> None:
    s = _open_partial(gunicorn.port, BATCH)  # REQUEST_TIMEOUT_SECONDS=2 on this server
    data = b""
    while b'"}' not in data and (chunk := s.recv(65536)):  # until the end of the JSON body
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 504"), data[:200]
    assert b'"error":"timeout"' in data
