"""A real gunicorn process on 127.0.0.1 running the service, for the tests and `make soak`."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "test-admin-token-0123456789"  # noqa: S105 - the test servers' token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """`with Gunicorn(model_dir, tmp) as srv:` starts gunicorn and waits until /readyz is 200."""

    def __init__(
        self, model_dir: Path, workdir: Path, workers: int = 2, env: Mapping[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "gunicorn.log"
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PROMETHEUS_MULTIPROC_DIR", "MODEL_CONTROL_FILE", "ADMIN_TOKEN")
        }
        self.env = {
            **base,
            "MODEL_DIR": str(model_dir),
            "WEB_CONCURRENCY": str(workers),
            "LOG_LEVEL": "warning",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Gunicorn:
        t0 = time.monotonic()
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "api/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "api.main:app",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.proc.returncode}:\n{self.log()}")
            if self.ready():
                self.started_in = time.monotonic() - t0
                return self
            time.sleep(0.05)
        raise AssertionError(f"gunicorn not ready after {timeout} s:\n{self.log()}")

    def ready(self) -> bool:
        try:
            return request(self.port, "GET", "/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def workers(self) -> list[int]:
        if self.proc is None:
            raise RuntimeError("gunicorn is not started: use `with Gunicorn(...) as srv:`")
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def terminate(self, timeout: float = 30) -> int:
        if self.proc is None:
            raise RuntimeError("gunicorn is not started: use `with Gunicorn(...) as srv:`")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float = 10,
) -> tuple[int, bytes]:
    """One request on a new connection → (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=body, headers={**h, **(headers or {})})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()
