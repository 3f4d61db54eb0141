"""`pump` waits only for the runs the story needs; the `background` files finish in a later pump."""

from __future__ import annotations

import threading
from pathlib import Path

from rehearsal.engine import Engine, JobResult, Run
from rehearsal.triggers import Workflow


class _QuietForge:
    def next_event(self, timeout: float = 0) -> None:
        return None


class _Engine(Engine):
    """Runs finish when the test releases them; no act, no forge events."""

    def __init__(self, tmp: Path, *, background: tuple[str, ...], parallel: int) -> None:
        super().__init__(_QuietForge(), tmp, Path("act"), {}, {}, {}, say=lambda _: None, parallel=parallel)
        self.background = background
        self.release: dict[int, threading.Event] = {}
        self.started: list[int] = []

    def execute(self, run: Run) -> None:
        self.started.append(run.id)
        self.release[run.id].wait(timeout=10)
        run.jobs = [JobResult("j", "j", "success")]
        run.status = "completed"

    def _completed(self, run: Run) -> None:
        pass

    def add(self, run_id: int, file: str, *, done: bool) -> None:
        wf = Workflow(file, file, {"push": None}, None, {"j": {}})
        self.queue.append(Run(run_id, wf, "push", {}, "b" * 40, "refs/heads/main", "acme", True))
        self.release[run_id] = threading.Event()
        if done:
            self.release[run_id].set()


def test_pump_returns_while_a_background_run_goes_on(tmp_path: Path) -> None:
    engine = _Engine(tmp_path, background=("ci.yml",), parallel=2)
    engine.add(1, "ci.yml", done=False)
    engine.add(2, "pr.yml", done=True)
    try:
        assert [r.id for r in engine.pump()] == [2]
        assert engine.started[0] == 2  # the waited-for run first, the background one beside it
        assert [r.id for r in engine._running.values()] == [1] and not engine.queue
        engine.release[1].set()
        assert [r.id for r in engine.pump(everything=True)] == [1]
        assert sorted(r.id for r in engine.runs) == [1, 2]
    finally:
        for event in engine.release.values():
            event.set()
        engine.close()


def test_without_background_files_pump_waits_for_every_run(tmp_path: Path) -> None:
    engine = _Engine(tmp_path, background=(), parallel=1)
    engine.add(1, "ci.yml", done=True)
    engine.add(2, "pr.yml", done=True)
    try:
        assert [r.id for r in engine.pump()] == [1, 2]  # oldest first
    finally:
        engine.close()


def test_background_runs_leave_a_slot_to_the_runs_waited_for(tmp_path: Path) -> None:
    engine = _Engine(tmp_path, background=("ci.yml",), parallel=2)
    for run_id in (1, 2):
        engine.add(run_id, "ci.yml", done=False)
    engine.add(3, "pr.yml", done=True)
    try:
        assert [r.id for r in engine.pump()] == [3]
        # One ci.yml run beside pr.yml, never two: the other waits for a later pump.
        assert [r.id for r in engine._running.values()] == [1]
        assert [r.id for r in engine.queue] == [2]
        engine.release[1].set()
        engine.release[2].set()
        assert sorted(r.id for r in engine.pump(everything=True)) == [1, 2]
    finally:
        for event in engine.release.values():
            event.set()
        engine.close()
