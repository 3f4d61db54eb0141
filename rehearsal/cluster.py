"""The cluster's part, stood in for on loopback: the released image's bundle served by gunicorn.

What Argo CD would run after a sync is the image the overlay names: this project's `api/` and the
`build/model/` bundle baked into it. Here that bundle is the release run's `image-bundle`
artifact, served by the same gunicorn configuration; a new release reaches the running service
through the in-process reload (`/admin/reload`), as the rollout's reload hook does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

PROJECT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "rehearsal-admin-token"  # noqa: S105 - a throwaway token for a loopback-only service


class ServiceFailed(Exception):
    """The service did not do what a deployment promises; the message says what and where to look."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.prediction_log = work / "predictions.jsonl"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def http(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"content-type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def start(self, bundle: Path) -> str:
        prom = self.work / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True)
        env = {
            **os.environ,
            "MODEL_DIR": str(bundle),
            "PREDICTION_LOG": str(self.prediction_log),
            "PREDICTION_LOG_SAMPLE_RATE": "1.0",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(prom),
        }
        bin_dir = Path(sys.executable).parent
        # The C scoring kernel, as the image build makes it; without a compiler the numpy forest serves.
        subprocess.run(
            [str(bin_dir / "python"), "-m", "api.ckernel"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            check=False,
        )
        log = (self.work / "gunicorn.log").open("wb")
        cmd = [str(bin_dir / "gunicorn"), "-c", "api/gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(
            [*cmd, "api.main:app"],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started = time.monotonic()
        while True:
            with contextlib.suppress(OSError, urllib.error.URLError):
                if self.http("GET", "/readyz") is not None:
                    break
            if self.proc.poll() is not None or time.monotonic() - started > 30:
                raise ServiceFailed(f"the service did not become ready; see {self.work / 'gunicorn.log'}")
            time.sleep(0.1)
        model = self.http("GET", "/v1/model")
        return f"ready after {time.monotonic() - started:.1f} s, serving model version {model['version']}"

    def traffic(self, rows: list[dict[str, Any]]) -> str:
        started = time.monotonic()
        for i in range(0, len(rows), 100):
            self.http("POST", "/v1/predict", {"flights": rows[i : i + 100]})
        for row in rows[:200]:
            self.http("POST", "/v1/predict", {"flights": [row]})
        took = time.monotonic() - started
        time.sleep(1.0)  # the prediction log is written off the request path
        logged = sum(1 for _ in self.prediction_log.open()) if self.prediction_log.exists() else 0
        return (
            f"replayed {len(rows):,} July flights in {took:.1f} s; the prediction log holds {logged:,} lines"
        )

    def reload_under_load(self, bundle: Path, expect_version: str) -> str:
        """Reload to `bundle` while 4 clients keep sending; every request must succeed."""
        failures, sent = 0, 0
        stop = threading.Event()
        row = {"flights": [self._any_row()]}

        def hammer() -> None:
            nonlocal failures, sent
            while not stop.is_set():
                try:
                    self.http("POST", "/v1/predict", row)
                except (OSError, urllib.error.URLError):
                    failures += 1
                sent += 1

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        self.http(
            "POST",
            "/admin/reload",
            {"model_dir": str(bundle)},
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        deadline = time.monotonic() + 15
        version = ""
        while time.monotonic() < deadline:
            versions = {str(self.http("GET", "/v1/model")["version"]) for _ in range(6)}
            if versions == {expect_version}:
                version = expect_version
                break
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        if not version:
            raise ServiceFailed(
                f"the service did not switch to version {expect_version} within 15 s of the reload"
            )
        if failures:
            raise ServiceFailed(f"{failures} of {sent} requests failed during the reload")
        return f"/v1/model shows version {version} ({sent:,} requests during the reload, 0 failed)"

    def _any_row(self) -> dict[str, Any]:
        with self.prediction_log.open() as f:
            return dict(json.loads(f.readline())["features"])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def july_rows(params_file: Path, limit: int | None) -> list[dict[str, Any]]:
    """Real July 2013 flights as API requests (input columns and the flight number, which names
    the flight in the prediction log for the outcomes join)."""
    import tempfile

    import pandas as pd

    from flightdelay.core import features
    from flightdelay.core.params import load_params
    from flightdelay.pipeline import source
    from flightdelay.pipeline.prepare import prepare_month

    with tempfile.TemporaryDirectory() as tmp:
        source.materialize("2013-07", Path(tmp))
        df, _ = prepare_month("2013-07", Path(tmp), load_params(params_file).prepare)
    df = df.loc[~df["is_duplicate"], [*features.INPUT_COLUMNS, "flight"]]
    if limit:
        df = df.sample(n=min(limit, len(df)), random_state=7)
    df = df.astype(object).where(pd.notna(df), None)
    return list(df.to_dict("records"))
