"""Server processes of the rehearsal: a server that never answers fails naming itself with its log, and
the whole process group is gone afterwards, also when the code using it raises or is interrupted."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from rehearsal.process import Process, ServiceError, find_tool, running, sigterm_as_exit

# A server that starts a grandchild (like mlflow → uvicorn) and never becomes ready.
SERVER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print("booting: listening soon", flush=True)
print(f"child {child.pid}", flush=True)
time.sleep(300)
"""
# The same, deaf to SIGTERM: stopping it needs the SIGKILL that follows the grace period.
STUBBORN = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SERVER


def alive(pid: int) -> bool:
    """Running (a killed orphan may linger a moment as a zombie until init reaps it)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z":
            return False
        time.sleep(0.05)
    return True


def grandchild(log: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("child "):
                return int(line.split()[1])
        time.sleep(0.05)
    raise AssertionError(f"the stub server never started its child:\n{log.read_text()}")


def test_a_server_that_never_answers_fails_with_its_name_and_log(tmp_path: Path) -> None:
    process = Process.start("Stub server", [sys.executable, "-c", STUBBORN], tmp_path / "stub.log")
    with running(process) as p:
        child = grandchild(p.log)
        with pytest.raises(ServiceError, match=r"Stub server: not ready after 1 s") as failed:
            p.wait_ready(lambda: False, timeout_s=1)
        assert "booting: listening soon" in str(failed.value)
        p.stop(grace_s=0.5)
    assert process.proc.poll() is not None
    assert not alive(child), "the server's child survived the stop"


def test_a_server_that_exits_says_so_with_its_exit_code(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "print('port already in use'); raise SystemExit(3)"]
    expected = r"exited with code 3 before it was ready(.|\n)*port already in use"
    with (
        running(Process.start("Stub server", cmd, tmp_path / "stub.log")) as p,
        pytest.raises(ServiceError, match=expected),
    ):
        p.wait_ready(lambda: False, timeout_s=30)


@pytest.mark.parametrize("interrupt", [RuntimeError("job failed"), KeyboardInterrupt()])
def test_the_group_is_stopped_when_the_caller_fails(tmp_path: Path, interrupt: BaseException) -> None:
    process = Process.start("Stub server", [sys.executable, "-c", SERVER], tmp_path / "stub.log")
    with pytest.raises(type(interrupt)), running(process) as p:  # noqa: PT012 (the raise is the point)
        child = grandchild(p.log)
        raise interrupt
    assert process.proc.poll() is not None
    assert not alive(child)


def test_sigterm_unwinds_like_an_exception() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped, sigterm_as_exit():  # noqa: PT012
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_missing_tool_says_how_to_install_it() -> None:
    with pytest.raises(ServiceError, match=r"`no-such-weed` is not installed .* run `make tools`"):
        find_tool("no-such-weed", "run `make tools`")
