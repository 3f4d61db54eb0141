"""The prediction log degrades, never fails: a full disk, a read-only file or an uncreatable
directory drop (and count) lines; writing resumes when the sink works again; the queue is bounded
in bytes; neither serving nor start-up depends on it.

"No space left on device" is the kernel's own: the sink is a symlink to /dev/full (every write
fails with ENOSPC), and space "returns" when the link is pointed at a regular file.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from api.main import create_app
from api.predlog import PredictionLog
from api.schemas import EXAMPLE_FLIGHT
from api.settings import Settings
from tests.api.server import Gunicorn

pytestmark = pytest.mark.serve_only


class Drops:
    """The `on_drop` callback: lines dropped, whatever the reason."""

    def __init__(self) -> None:
        self.lines = 0

    def __call__(self, lines: int, *reason: str) -> None:
        self.lines += lines


@pytest.fixture
def thread_errors() -> Iterator[list[BaseException | None]]:
    """Exceptions that escaped a thread (each would print a raw traceback)."""
    seen: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    yield seen
    threading.excepthook = previous


@contextlib.contextmanager
def _writing(sink: Path, drops: Drops) -> Iterator[PredictionLog]:
    plog = PredictionLog(str(sink), 1.0, 1_000_000, on_drop=drops)
    plog.start()
    try:
        yield plog
    finally:
        plog.stop()


def _record(plog: PredictionLog, n: int, tag: str) -> None:
    for i in range(n):
        plog.record(f"{tag}-{i}", "1", 0.4, [EXAMPLE_FLIGHT], np.array([0.25], dtype=np.float32))


def _wait(predicate: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_writing_resumes_after_no_space_left_on_device(
    tmp_path: Path, thread_errors: list[BaseException | None], caplog: pytest.LogCaptureFixture
) -> None:
    sink = tmp_path / "predictions.jsonl"
    sink.symlink_to("/dev/full")
    drops = Drops()
    with _writing(sink, drops) as plog:
        _record(plog, 5, "full")
        assert _wait(lambda: drops.lines == 5), drops.lines
        sink.unlink()
        sink.touch()  # space is back
        time.sleep(1.2)  # the writer tries the sink again every second
        _record(plog, 5, "back")
        assert _wait(lambda: sink.read_text().count("\n") == 5), sink.read_text()[:500]
    assert drops.lines == 5 and not thread_errors
    assert '"request_id":"back-4"' in sink.read_text()
    assert "No space left on device" in caplog.text


def _read_only_file(tmp_path: Path) -> Path:
    """A file this process cannot open for writing (root ignores file modes: use /proc/sys)."""
    path = tmp_path / "read-only.jsonl"
    path.touch()
    path.chmod(0o444)
    try:
        path.open("ab").close()
    except PermissionError:
        return path
    path = Path("/proc/sys/kernel/ostype")
    try:
        path.open("ab").close()
    except OSError:
        return path
    pytest.skip("no read-only file available to this user")


def test_a_read_only_file_drops_and_counts_lines_without_a_thread_traceback(
    tmp_path: Path, thread_errors: list[BaseException | None], caplog: pytest.LogCaptureFixture
) -> None:
    sink = _read_only_file(tmp_path)
    drops = Drops()
    with _writing(sink, drops) as plog:
        _record(plog, 3, "ro")
        assert _wait(lambda: drops.lines == 3), drops.lines
    assert not thread_errors, thread_errors
    assert f"cannot open {sink}" in caplog.text


def test_the_queue_is_bounded_in_bytes_with_the_default_settings(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    """A sink that does not keep up (here: the writer never runs) and 1,000-row batches: memory
    stops growing within the bound, and the surplus is dropped and counted. Each batch is fresh
    dicts, as validated requests are."""
    app = create_app(Settings(model_dir=bundles[0], prediction_log=str(tmp_path / "p.jsonl")))
    plog: PredictionLog = app.state.service.predlog
    drops = Drops()
    plog._on_drop = drops
    scores = np.full(1000, 0.25, dtype=np.float32)
    budget = 64 * 1024 * 1024  # generous: default bound 16 MiB, plus the growth of lists
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        grown = 0
        for i in range(400):  # 400,000 rows: ~400 MB if nothing bounded them
            plog.record(f"r{i}", "1", 0.4, [dict(EXAMPLE_FLIGHT) for _ in range(1000)], scores)
            grown = tracemalloc.get_traced_memory()[0] - start
            if (drops.lines and i > 100) or grown > budget:
                break
    finally:
        tracemalloc.stop()
    assert drops.lines > 0 and grown <= budget, (drops.lines, grown // 2**20)


def _dropped(metrics: str) -> float:
    return sum(
        float(v)
        for v in re.findall(r"^flightdelay_prediction_log_dropped_total(?:\{[^}]*\})? (\S+)$", metrics, re.M)
    )


def test_an_uncreatable_directory_neither_stops_start_up_nor_serving(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log's directory should be")
    env = {"PREDICTION_LOG": str(blocker / "logs" / "predictions.jsonl")}
    with (
        Gunicorn(bundles[0], tmp_path / "srv", workers=1, env=env) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        for _ in range(3):
            assert c.post("/v1/predict", json=EXAMPLE_FLIGHT).status_code == 200
        assert _wait(lambda: _dropped(c.get("/metrics").text) >= 3), c.get("/metrics").text[-2000:]
        assert "cannot open" in srv.log()
        assert "Traceback" not in srv.log()


def test_drops_reach_metrics_and_serving_continues_on_a_full_disk(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    sink = tmp_path / "predictions.jsonl"
    sink.symlink_to("/dev/full")
    env = {"PREDICTION_LOG": str(sink)}
    with (
        Gunicorn(bundles[0], tmp_path / "srv", workers=1, env=env) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        for _ in range(4):
            assert c.post("/v1/predict", json={"flights": [EXAMPLE_FLIGHT] * 2}).status_code == 200
        assert _wait(lambda: _dropped(c.get("/metrics").text) >= 8), c.get("/metrics").text[-2000:]
        sink.unlink()
        sink.touch()
        assert _wait(
            lambda: c.post("/v1/predict", json=EXAMPLE_FLIGHT).status_code == 200 and sink.stat().st_size > 0
        )
