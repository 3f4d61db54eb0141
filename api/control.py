"""How gunicorn workers agree on one model: a shared control directory and a two-phase swap.

The directory is the one holding MODEL_CONTROL_FILE (gunicorn.conf.py makes a private temp dir):

- `model-control.json` (`ControlRecord`, written by the reloading worker): the committed
  generation, the one being prepared (`pending`), the last attempt;
- `reload.lock`: `flock`ed by the worker running an admin reload, so one reload runs at a time;
- `workers/<id>.json`: each worker's pid, written at start (a dead pid's file is removed);
- `acks/<generation>/<id>.json` (`Ack`): whether that worker loaded the prepared bundle;
- `generations/<generation>/`: the copy of that generation's bundle that every worker loads.

A reload copies the bundle into `generations/`, loads it, records it as `pending`, and waits until
every other live worker has loaded it too (an ack each). Only then is it committed: every worker
swaps to the model it already holds. One refusal or a timeout aborts the reload and no worker
moves. A worker started later (a replacement after a crash) boots on the committed copy, which
the server owns, so it cannot have vanished with the directory the reload named.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flightdelay.core import bundle as bundle_io
from flightdelay.core.errors import ModelError

log = logging.getLogger("flightdelay.api")


class ReloadBusy(ModelError):
    """Another worker is running a reload right now."""


class ReloadAttempt(BaseModel):
    """The last reload attempt, shown by GET /v1/model."""

    model_config = ConfigDict(frozen=True)

    at: str = Field(description="when it ended (UTC, ISO 8601)")
    model_dir: str = Field(description="the bundle directory it was asked to load")
    generation: int
    outcome: Literal["success", "failure"]
    reason: str | None = Field(None, description="why it failed")
    worker: int = Field(description="pid of the worker that ran (or refused) it")


class Pending(BaseModel):
    model_config = ConfigDict(frozen=True)

    generation: int
    model_dir: str  # the staged copy
    source: str


class ControlRecord(BaseModel):
    """model-control.json (a record of the first version, generation + model_dir, still reads)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    generation: int
    model_dir: str
    source: str | None = None
    pending: Pending | None = None
    last_attempt: ReloadAttempt | None = None


class Ack(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    reason: str | None = None
    pid: int


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_atomic(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


class SharedControl:
    """The control directory seen from one worker (`member`, by default its pid)."""

    def __init__(self, path: Path, member: str | None = None) -> None:
        self.path = path
        self.dir = path.parent
        self.member = member or str(os.getpid())

    def read(self) -> ControlRecord | None:
        if not self.path.is_file():
            return None
        try:
            return ControlRecord.model_validate_json(self.path.read_bytes())
        except (ValidationError, OSError) as e:
            log.error("model control file %s is unreadable (%s); keeping the current model", self.path, e)
            return None

    def write(self, record: ControlRecord) -> None:
        _write_atomic(self.path, record.model_dump_json(exclude_none=True))

    def join(self) -> None:
        _write_atomic(self.dir / "workers" / f"{self.member}.json", json.dumps({"pid": os.getpid()}))

    def leave(self) -> None:
        (self.dir / "workers" / f"{self.member}.json").unlink(missing_ok=True)

    def others(self) -> set[str]:
        """The other live workers; files of dead ones are removed."""
        found: set[str] = set()
        for f in (self.dir / "workers").glob("*.json"):
            if f.stem == self.member:
                continue
            try:
                pid = int(json.loads(f.read_text())["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being written
            if _alive(pid):
                found.add(f.stem)
            else:
                f.unlink(missing_ok=True)
        return found

    def ack(self, generation: int, ok: bool, reason: str | None = None) -> None:
        a = Ack(ok=ok, reason=reason, pid=os.getpid())
        _write_atomic(self.dir / "acks" / str(generation) / f"{self.member}.json", a.model_dump_json())

    def acks(self, generation: int) -> dict[str, Ack]:
        out: dict[str, Ack] = {}
        for f in (self.dir / "acks" / str(generation)).glob("*.json"):
            with contextlib.suppress(OSError, ValidationError):
                out[f.stem] = Ack.model_validate_json(f.read_bytes())
        return out

    def stage(self, source: Path, generation: int) -> Path:
        """Copy a bundle's files into `generations/<generation>`; loading the copy verifies it."""
        dest = self.dir / "generations" / str(generation)
        tmp = dest.with_name(f"{generation}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if not source.is_dir():
            raise ModelError(
                f"model bundle {source} does not exist", hint="give the directory of a built bundle"
            )
        tmp.mkdir(parents=True)
        for name in (*bundle_io.HASHED_FILES, bundle_io.MANIFEST_FILE, bundle_io.RELEASE_FILE):
            if (source / name).is_file():
                shutil.copyfile(source / name, tmp / name)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        return dest

    def prune(self, keep: set[int]) -> None:
        """Drop staged copies and acks of generations no worker can need any more."""
        for sub in ("generations", "acks"):
            for d in (self.dir / sub).glob("*"):
                if d.name not in {str(g) for g in keep}:
                    shutil.rmtree(d, ignore_errors=True)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold `reload.lock`, or raise ReloadBusy at once (a reload never queues behind another)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "reload.lock").open("a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ReloadBusy("another reload is in progress", hint="retry when it has finished") from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
