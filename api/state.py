"""The served model and its zero-downtime reload: one immutable snapshot, swapped atomically.

A request takes `holder.current` once and uses only that snapshot, so a reload never mixes two
models inside one response. With several gunicorn workers an admin call reaches one worker: that
worker loads and swaps, then records `{generation, model_dir}` in the shared control file; every
other worker polls the file (one `stat` per poll interval, off the request path), loads the same
bundle in a thread and swaps. A worker started later (a replacement after a crash) reads the file
first, so it serves the current model, not the one the server started with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api import ckernel, treeeval
from api.schemas import EXAMPLE_FLIGHT
from flightdelay import bundle as bundle_io
from flightdelay.errors import ModelError
from flightdelay.features import encode_records

log = logging.getLogger("flightdelay.api")
SMALL_BATCH = 8  # up to this many rows the numpy forest beats XGBoost's per-call overhead
FOREST_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LoadedModel:
    """A bundle ready to score; never mutated after load."""

    bundle: bundle_io.Bundle
    generation: int
    loaded_at: str
    scorer: treeeval.Scorer | None = None
    scorer_name: str = "xgboost"  # "compiled", "numpy" or "xgboost": shown by GET /v1/model
    scorer_rows: int = 0  # the scorer takes batches up to this size; larger ones go to XGBoost

    @property
    def version(self) -> str:
        return self.bundle.version

    def predict(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Disruption probabilities (float32) for validated flight records."""
        x = encode_records(self.bundle.spec, records)
        if self.scorer is not None and x.shape[0] <= self.scorer_rows:
            return self.scorer.predict(x)
        return np.asarray(self.bundle.booster.inplace_predict(x), dtype=np.float32).reshape(-1)

    def info_labels(self) -> dict[str, str]:
        window = self.bundle.metadata.get("training_window") or {}
        return {
            "version": self.version,
            "model_md5": str(self.bundle.metadata["model_md5"]),
            "training_window": f"{window.get('start', '?')}..{window.get('end', '?')}",
        }


def load_model(model_dir: Path, generation: int) -> LoadedModel:
    """Load, then score one row, so a bundle that cannot predict never replaces a working one."""
    b = bundle_io.load(model_dir)
    scorer, name, rows = _scorer(b.booster, len(b.spec.features))
    m = LoadedModel(
        bundle=b,
        generation=generation,
        loaded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        scorer=scorer,
        scorer_name=name,
        scorer_rows=rows,
    )
    p = m.predict([EXAMPLE_FLIGHT])
    if p.shape != (1,) or not 0.0 <= float(p[0]) <= 1.0:
        raise ModelError(
            f"model bundle {model_dir} scored {p!r} for the example flight",
            hint="the bundle is not a binary classifier: rebuild it with `dvc repro`",
        )
    return m


def _scorer(booster: Any, n_features: int) -> tuple[treeeval.Scorer | None, str, int]:
    """The fastest scorer that gives the booster's answers: the C kernel, the numpy forest, or
    none (XGBoost itself)."""
    forest = treeeval.from_booster(booster)
    if forest is None:
        log.info("scoring with XGBoost: the model is not a plain binary:logistic tree ensemble")
        return None, "xgboost", 0
    candidates: list[tuple[treeeval.Scorer, str, int]] = []
    lib = ckernel.load()
    if lib is not None:
        candidates.append((treeeval.CompiledForest(forest, lib), "compiled", sys.maxsize))
    else:
        log.info(
            "the C scoring kernel is not built (%s); scoring with the slower numpy forest. "
            "Build it with `make kernel` (the serving image has it).",
            ckernel.library_path().name,
        )
    candidates.append((forest, "numpy", SMALL_BATCH))
    for scorer, name, rows in candidates:
        diff = treeeval.check(scorer, booster, n_features)
        if diff <= FOREST_TOLERANCE:
            return scorer, name, rows
        log.warning("the %s forest differs from XGBoost by %.2g; not using it", name, diff)
    return None, "xgboost", 0


@dataclass(frozen=True)
class Control:
    generation: int
    model_dir: Path


def read_control(path: Path | None) -> Control | None:
    if path is None or not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        return Control(generation=int(d["generation"]), model_dir=Path(d["model_dir"]))
    except (ValueError, KeyError, TypeError, OSError) as e:
        log.error("model control file %s is unreadable (%s); keeping the current model", path, e)
        return None


def write_control(path: Path, control: Control) -> None:
    """Atomic replace: a polling worker sees the old record or the new one, never half of one."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"generation": control.generation, "model_dir": str(control.model_dir)}))
    tmp.replace(path)


class ModelHolder:
    """Owns the current snapshot; `swap` is one reference assignment (atomic in CPython)."""

    def __init__(self, control_file: Path | None) -> None:
        self.control_file = control_file
        self._current: LoadedModel | None = None
        self._lock = asyncio.Lock()
        self._control_mtime: int | None = None

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
        """Load the model the server should serve now (the control file wins over MODEL_DIR)."""
        c = read_control(self.control_file)
        self._remember_mtime()
        target = c or Control(generation=0, model_dir=default_dir)
        m = await asyncio.to_thread(load_model, target.model_dir, target.generation)
        self.swap(m)
        return m

    async def reload(self, model_dir: Path) -> tuple[LoadedModel, LoadedModel | None]:
        """Admin reload in this worker; then tell the others through the control file."""
        async with self._lock:
            c = read_control(self.control_file)
            generation = max(c.generation if c else 0, self.current.generation) + 1
            m = await asyncio.to_thread(load_model, model_dir, generation)
            old = self.swap(m)
            if self.control_file is not None:
                write_control(self.control_file, Control(generation, model_dir.resolve()))
                self._remember_mtime()
            return m, old

    async def sync(self) -> tuple[LoadedModel, LoadedModel | None] | None:
        """Follow the control file if another worker recorded a newer generation."""
        if self.control_file is None or not self._control_changed():
            return None
        async with self._lock:
            c = read_control(self.control_file)
            if c is None or c.generation <= self.current.generation:
                return None
            m = await asyncio.to_thread(load_model, c.model_dir, c.generation)
            return m, self.swap(m)

    def _mtime(self) -> int | None:
        try:
            return self.control_file.stat().st_mtime_ns if self.control_file else None
        except FileNotFoundError:
            return None

    def _remember_mtime(self) -> None:
        self._control_mtime = self._mtime()

    def _control_changed(self) -> bool:
        now = self._mtime()
        if now == self._control_mtime:
            return False
        self._control_mtime = now
        return True
