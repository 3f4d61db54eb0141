"""The served model and its zero-downtime reload: one immutable snapshot (api/scoring.py), swapped
atomically.

A request takes `holder.current` once and uses only that snapshot, so a reload never mixes two
models inside one response. With several gunicorn workers an admin call reaches one worker, which
runs the two-phase reload of api/control.py: every other worker polls the control file (one
`stat` per poll interval, off the request path), loads the prepared bundle in a thread, acks, and
swaps when the reload is committed. Every failure while loading, whatever its type, is a refusal
that leaves the current model serving and is recorded as the last reload attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from api.control import ControlRecord, Pending, ReloadAttempt, SharedControl, now
from api.scoring import LoadedModel, load_model
from flightdelay.core.errors import ModelError

log = logging.getLogger("flightdelay.api")


Loader = Callable[[Path, int], LoadedModel]


def reason_of(e: BaseException) -> str:
    if isinstance(e, ModelError):
        return e.message
    if isinstance(e, asyncio.CancelledError):
        return "the reload was cancelled before it finished (REQUEST_TIMEOUT_SECONDS)"
    return f"{type(e).__name__}: {e}"


def attempt(model_dir: Path | str, generation: int, error: BaseException | None) -> ReloadAttempt:
    return ReloadAttempt(
        at=now(),
        model_dir=str(model_dir),
        generation=generation,
        outcome="success" if error is None else "failure",
        reason=None if error is None else reason_of(error),
        worker=os.getpid(),
    )


class ModelHolder:
    """Owns the current snapshot; `swap` is one reference assignment (atomic in CPython)."""

    def __init__(
        self,
        control_file: Path | None,
        *,
        loader: Loader = load_model,
        member: str | None = None,
        ack_timeout: float = 5.0,
    ) -> None:
        self.control = SharedControl(control_file, member) if control_file is not None else None
        self.loader = loader
        self.ack_timeout = ack_timeout
        self.last_attempt: ReloadAttempt | None = None
        self._current: LoadedModel | None = None
        self._pending: LoadedModel | None = None  # prepared by another worker's reload, not yet committed
        self._acked: int | None = None
        self._lock = asyncio.Lock()
        self._control_stamp: tuple[int, int] | None = None

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> LoadedModel:
        m = self._current
        if m is None:
            raise ModelError("the model is not loaded yet", hint="wait until /readyz answers 200")
        return m

    def swap(self, m: LoadedModel) -> LoadedModel | None:
        old, self._current = self._current, m
        return old

    async def start(self, default_dir: Path) -> LoadedModel:
        """Load the model the server serves now: the committed generation, else MODEL_DIR.

        The committed copy belongs to the server, so a replacement worker finds it even when the
        directory the reload named is gone. Should it be unloadable anyway, the worker starts on
        MODEL_DIR and says so: a worker that cannot boot makes gunicorn stop the whole server."""
        rec = None
        if self.control is not None:
            self.control.join()
            rec = self.control.read()
        if rec is not None:
            self.last_attempt = rec.last_attempt
            try:
                m = await asyncio.to_thread(self.loader, Path(rec.model_dir), rec.generation)
            except ModelError as e:
                log.error(
                    "the committed model (generation %d, %s) cannot be loaded, starting on MODEL_DIR %s: %s",
                    rec.generation,
                    rec.model_dir,
                    default_dir,
                    e.message,
                )
                m = await asyncio.to_thread(self.loader, default_dir, 0)
        else:
            m = await asyncio.to_thread(self.loader, default_dir, 0)
        self.swap(m)
        return m

    def stop(self) -> None:
        if self.control is not None:
            self.control.leave()

    async def reload(self, model_dir: Path) -> tuple[LoadedModel, LoadedModel | None]:
        """Admin reload: in this worker alone, or (with a control file) in every worker or none."""
        async with self._lock:
            if self.control is None:
                generation = self.current.generation + 1
                try:
                    m = await asyncio.to_thread(self.loader, model_dir, generation)
                except ModelError as e:
                    self.last_attempt = attempt(model_dir, generation, e)
                    raise
                self.last_attempt = attempt(model_dir, generation, None)
                return m, self.swap(m)
            with self.control.exclusive():
                return await self._two_phase(self.control, model_dir)

    async def _two_phase(
        self, control: SharedControl, model_dir: Path
    ) -> tuple[LoadedModel, LoadedModel | None]:
        rec = control.read()
        cur = self.current
        base = rec or ControlRecord(generation=cur.generation, model_dir=str(cur.bundle.path))
        generation = max(base.generation, base.pending.generation if base.pending else 0, cur.generation) + 1
        try:
            staged = await asyncio.to_thread(control.stage, model_dir, generation)
            m = await asyncio.to_thread(self.loader, staged, generation)
            pending = Pending(generation=generation, model_dir=str(staged), source=str(model_dir))
            control.write(base.model_copy(update={"pending": pending}))
            await self._wait_for_acks(control, generation)
        except BaseException as e:  # any failure, even a cancel, aborts: no worker moves
            self.last_attempt = attempt(model_dir, generation, e)
            control.write(base.model_copy(update={"pending": None, "last_attempt": self.last_attempt}))
            control.prune({base.generation})
            self._remember_stamp()
            if isinstance(e, Exception) and not isinstance(e, ModelError):
                raise ModelError(f"reload to {model_dir} failed: {reason_of(e)}") from e
            raise
        self.last_attempt = attempt(model_dir, generation, None)
        control.write(
            ControlRecord(
                generation=generation,
                model_dir=str(staged),
                source=str(model_dir),
                last_attempt=self.last_attempt,
            )
        )
        self._remember_stamp()
        control.prune({generation})
        return m, self.swap(m)

    async def _wait_for_acks(self, control: SharedControl, generation: int) -> None:
        """Until every other live worker holds the prepared model; a refusal or the deadline
        raises (a worker that dies meanwhile stops being waited for)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout
        while True:
            acks = control.acks(generation)
            refused = sorted((w, a) for w, a in acks.items() if not a.ok)
            if refused:
                _, a = refused[0]
                raise ModelError(
                    f"worker {a.pid} could not load the bundle ({a.reason}); no worker moved",
                    hint="fix the bundle, or see that worker's log line",
                )
            missing = control.others() - set(acks)
            if not missing:
                return
            if loop.time() > deadline:
                raise ModelError(
                    f"{len(missing)} worker(s) did not load the bundle within {self.ack_timeout:g} s; "
                    "no worker moved",
                    hint="retry the reload; if it keeps failing, see the workers' log lines",
                )
            await asyncio.sleep(0.02)

    async def sync(self) -> tuple[LoadedModel, LoadedModel | None] | None:
        """Follow the control file: prepare (load + ack) what another worker's reload prepares,
        swap to what it commits, drop what it aborts. A committed generation that cannot be
        loaded raises ModelError (the watcher logs it; the current model stays)."""
        if self.control is None or not self._control_changed():
            return None
        async with self._lock:
            rec = self.control.read()
            if rec is None:
                return None
            if rec.last_attempt is not None and (
                self.last_attempt is None or rec.last_attempt.at >= self.last_attempt.at
            ):
                self.last_attempt = rec.last_attempt
            swapped = None
            failed: ModelError | None = None
            if rec.generation > self.current.generation:
                if self._pending is not None and self._pending.generation == rec.generation:
                    m, self._pending = self._pending, None
                    swapped = m, self.swap(m)
                else:
                    try:
                        m = await asyncio.to_thread(self.loader, Path(rec.model_dir), rec.generation)
                    except ModelError as e:
                        self.last_attempt = attempt(rec.model_dir, rec.generation, e)
                        failed = e  # raised below, after a reload being prepared got this worker's ack
                    else:
                        swapped = m, self.swap(m)
            p = rec.pending
            if p is None or (self._pending is not None and self._pending.generation != p.generation):
                self._pending = None  # aborted (or superseded): never served
            if p is not None and p.generation > self.current.generation and self._acked != p.generation:
                self._acked = p.generation
                await self._prepare(self.control, p)
            if failed is not None:
                raise failed
            return swapped

    async def _prepare(self, control: SharedControl, p: Pending) -> None:
        try:
            self._pending = await asyncio.to_thread(self.loader, Path(p.model_dir), p.generation)
        except ModelError as e:
            log.error(
                "cannot load the bundle prepared as generation %d (%s), refusing it: %s",
                p.generation,
                p.source,
                e.message,
            )
            control.ack(p.generation, ok=False, reason=e.message)
            return
        control.ack(p.generation, ok=True)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.control.path.stat() if self.control else None
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns) if st else None

    def _remember_stamp(self) -> None:
        self._control_stamp = self._stamp()

    def _control_changed(self) -> bool:
        now_ = self._stamp()
        if now_ == self._control_stamp:
            return False
        self._control_stamp = now_
        return True
