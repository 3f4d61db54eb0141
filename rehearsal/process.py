"""Server processes for the rehearsal: free loopback ports, finding a tool, starting a server in its
own process group, waiting until it answers, and always stopping the whole group.

A server that does not come up raises ServiceError naming it, saying what happened and ending with
the last lines of its log. Each server runs in its own session, so Ctrl-C in the terminal reaches
only the harness, whose `finally` blocks stop the servers (SIGTERM, then SIGKILL for the group).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

PROJECT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
LOG_TAIL = 25
STOP_GRACE_S = 10.0


class ServiceError(RuntimeError):
    """A server did not start (or died); the message names it and ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def free_port_pair(offset: int) -> int:
    """A free port p with p + offset free too (SeaweedFS derives some gRPC ports that way)."""
    for _ in range(200):
        port = free_port()
        if port + offset > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port + offset))
            except OSError:
                continue
        return port
    raise ServiceError(f"no free port p on {HOST} with p+{offset} free as well")


def find_tool(name: str, install: str) -> Path:
    """A program from the project's environments: $FLIGHTDELAY_TOOLS_BIN (the tools venv), next to
    the running Python, the repository's .venv-tools, then PATH."""
    folders = [
        os.environ.get("FLIGHTDELAY_TOOLS_BIN", ""),
        str(Path(sys.executable).parent),
        str(PROJECT / ".venv-tools" / "bin"),
    ]
    for folder in filter(None, folders):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ServiceError(
        f"`{name}` is not installed (looked in {', '.join(filter(None, folders))} and PATH): {install}"
    )


def log_tail(log: Path, lines: int = LOG_TAIL) -> str:
    try:
        text = log.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text[-lines:]) or f"({log} is empty)"


@dataclass
class Process:
    """A server process in its own process group, logging to `log`."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    @classmethod
    def start(
        cls,
        name: str,
        cmd: Sequence[str | Path],
        log: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Process:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                # Its own session: Ctrl-C in the terminal reaches only us, and we stop the whole group.
                start_new_session=True,
            )
        return cls(name, proc, log, stop_signal)

    def failure(self, what: str) -> ServiceError:
        return ServiceError(f"{self.name}: {what}; last lines of {self.log}:\n{log_tail(self.log)}")

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float) -> float:
        """Poll `ready` until it is true; returns the seconds it took since the process started."""
        started = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise self.failure(f"exited with code {self.proc.returncode} before it was ready")
            with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
                if ready():
                    return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise self.failure(f"not ready after {timeout_s:.0f} s")
            time.sleep(0.1)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Signal the whole process group, then kill it if it outlives the grace period."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        # Children of a leader that has exited may still be running in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)


@contextlib.contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While inside, SIGTERM unwinds like Ctrl-C does (SystemExit 143), so every `finally` that
    stops a server runs; Python's default SIGTERM action would leave the servers behind."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return bool(resp.status == 200)
