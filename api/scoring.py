"""A model bundle ready to score (`LoadedModel`, never mutated after load) and its loading: the
fastest scorer that gives the booster's answers, and a probe prediction before it may serve."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api import ckernel, treeeval
from api.batch import Flights
from api.schemas import EXAMPLE_FLIGHT
from flightdelay.core import bundle as bundle_io
from flightdelay.core.errors import ModelError
from flightdelay.core.features import FeatureSpec, encode_columns, encode_plan, encode_records

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
    encoder: ColumnEncoder | None = None  # the lean path's columns encoded in C (api/rows.c)

    @property
    def version(self) -> str:
        return self.bundle.version

    def predict(self, flights: Flights | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Disruption probabilities (float32) for validated flights: the trees' answer to their
        features, then the model's calibration (identity without one)."""
        return self.bundle.calibration.apply(self.trees(self.encode(flights)))

    def encode(self, flights: Flights | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The float32 feature matrix. Columns, when validation left them, are encoded without
        reading the rows again (in C where api/rows.c is built)."""
        if isinstance(flights, Flights) and flights.numeric is not None and flights.text is not None:
            x = self.encoder(flights) if self.encoder is not None else None
            if x is None:
                spec, n = self.bundle.spec, len(flights)
                x = encode_columns(spec, n, flights.numeric, flights.text, strings=True)
            return x
        return encode_records(self.bundle.spec, flights.rows if isinstance(flights, Flights) else flights)

    def trees(self, x: np.ndarray) -> np.ndarray:
        """The trees' probabilities (float32) for a feature matrix: C kernel, numpy forest or XGBoost."""
        if self.scorer is not None and x.shape[0] <= self.scorer_rows:
            return self.scorer.predict(x)
        return np.asarray(self.bundle.booster.inplace_predict(x), dtype=np.float32).reshape(-1)

    def info_labels(self) -> dict[str, str]:
        w = self.bundle.meta.training_window
        return {
            "version": self.version,
            "model_md5": self.bundle.meta.model_md5,
            "training_window": f"{w.start}..{w.end}" if w else "?..?",
        }


# api/rows.c fr_encode's ops, by `encode_plan`'s names; and its two for an input the rows leave out
_OPS = {"copy": 0, "zero_missing": 1, "minute": 2, "weekday": 3, "category": 4}
_MISSING, _NONE = 5, 6
_PLANS_KEPT = 32  # as api/batch.py's layouts


class ColumnEncoder:
    """`encode_columns` for the lean path's float64 matrix in one C call (api/rows.c `fr_encode`,
    driven by the same `encode_plan`): the same float32 matrix (tested), ≈ 11 instead of ≈ 30 µs
    for 100 rows. Returns None where it does not apply (no matrix); the caller then encodes in
    Python."""

    def __init__(self, spec: FeatureSpec, encode: Any) -> None:
        self.spec = spec
        self._encode = encode
        plan = encode_plan(spec)
        self._categories = [(f, inputs[0]) for f, (op, inputs) in enumerate(plan) if op == "category"]
        self._plans: dict[tuple[str, ...], _EncodePlan | None] = {}

    def _plan(self, columns: tuple[str, ...]) -> _EncodePlan | None:
        index = {c: j for j, c in enumerate(columns)}
        ops: list[int] = []
        args: list[tuple[int, ...]] = []
        for op, inputs in encode_plan(self.spec):
            at: tuple[int, ...]
            if op == "category":
                code, at = _OPS[op], ()
            elif all(c in index for c in inputs):
                code, at = _OPS[op], tuple(index[c] for c in inputs)
            elif op in ("copy", "zero_missing"):
                code, at = (_MISSING if op == "copy" else _NONE), ()
            else:
                return None  # a date or schedule input left out: validation never lets it through
            ops.append(code)
            args.append((*at, 0, 0, 0)[:3])
        op_array, arg_array = np.array(ops, dtype=np.int32), np.array(args, dtype=np.int32).reshape(-1)
        return _EncodePlan(op_array, arg_array, ckernel.address(op_array), ckernel.address(arg_array))

    def __call__(self, flights: Flights) -> np.ndarray | None:
        matrix, text = flights.matrix, flights.text
        if matrix is None or text is None or not _c_layout(matrix, len(flights.columns)):
            return None
        columns = flights.columns
        if columns in self._plans:
            plan = self._plans[columns]
        else:
            plan = self._plan(columns)
            if len(self._plans) < _PLANS_KEPT:
                self._plans[columns] = plan
        if plan is None:
            return None
        n, k, width = matrix.shape[0], matrix.shape[1], plan.ops.size
        values: list[Any] = [None] * width
        for f, name in self._categories:
            values[f] = (text[name], self.spec.categories[name])
        out = np.empty((n, width), dtype=np.float32)
        cats = tuple(values)
        at = ckernel.address
        done = self._encode(at(matrix), n, k, width, plan.op_at, plan.arg_at, cats, at(out))
        return out if done else None


def _c_layout(matrix: np.ndarray, columns: int) -> bool:
    """C reads the matrix through a raw pointer: only the layout it expects (rows x columns)."""
    shaped = matrix.ndim == 2 and matrix.shape[1] == columns
    return shaped and matrix.dtype == np.float64 and bool(matrix.flags.c_contiguous)


@dataclass(frozen=True)
class _EncodePlan:
    """fr_encode's op and argument arrays for one set of matrix columns, and their addresses."""

    ops: np.ndarray
    args: np.ndarray
    op_at: int
    arg_at: int


def load_model(model_dir: Path, generation: int) -> LoadedModel:
    """Load, then score one row, so a bundle that cannot predict never replaces a working one.
    Any failure is a ModelError: a broken bundle is refused, it never stops a worker."""
    try:
        return _load_model(model_dir, generation)
    except ModelError:
        raise
    except Exception as e:  # whatever a hostile bundle makes the loaders raise, it is a refusal
        raise ModelError(
            f"model bundle {model_dir} cannot be loaded: {type(e).__name__}: {str(e)[:300]}",
            hint="rebuild it with `dvc repro bundle`, or redeploy a known-good image",
        ) from e


def _load_model(model_dir: Path, generation: int) -> LoadedModel:
    b = bundle_io.load(model_dir, require_manifest=True)
    scorer, name, rows = _scorer(b.booster, len(b.spec.features))
    row_lib = ckernel.load_rows()
    m = LoadedModel(
        bundle=b,
        generation=generation,
        loaded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        scorer=scorer,
        scorer_name=name,
        scorer_rows=rows,
        encoder=None if row_lib is None else ColumnEncoder(b.spec, row_lib.fr_encode),
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
