"""Scoring without XGBoost's per-call overhead: the trees in a flat layout, walked in C or numpy.

For one row, `Booster.inplace_predict` costs ~0.2 ms, nearly all of it outside the trees (config
JSON, array-interface objects, thread dispatch). The same trees walked by the C kernel
(api/forest.c, `CompiledForest`) cost a few microseconds a row at any batch size; walked with
numpy one level per step (`Forest`, the fallback when the kernel is not built) a few dozen
microseconds, so that one is used for small batches only. Either is used only after `check`
proves it gives the booster's answers on probe rows (else serving keeps the booster): the
booster stays the reference, these are caches of it.

Layout: every tree is stored as a complete binary tree, level by level. At level L, node j of
tree t sits at t * 2**L + j and its children at 2 * (t * 2**L + j) + {0, 1} on level L + 1, so
the walk needs no child pointers and each level is one small contiguous array (~300 KB in all
for 300 trees of depth 6, which stays in cache under load). A leaf above the last level becomes
pass-through splits that always go left, its value stored at the leftmost slot below it.

Missing values without a mask per step: the row is extended to [x with NaN → -inf, x with NaN →
+inf, 0], and a split whose missing values go right reads the second copy. XGBoost sends a value
right when `not value < split`, which for these copies is `value >= split`; a pass-through split
reads the constant 0 against +inf and always goes left.
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from api import ckernel

MAX_DEPTH = 10  # deeper trees (2**depth slots each) are left to XGBoost
_NEG_INF = np.float32(-np.inf)
_POS_INF = np.float32(np.inf)


class Scorer(Protocol):
    def predict(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Forest:
    columns: tuple[np.ndarray, ...]  # per level: column of the extended row each split reads
    thresholds: tuple[np.ndarray, ...]  # per level: float32 split value (+inf: pass-through)
    leaves: np.ndarray  # float32, tree t's leaves at t * 2**depth ...
    n_features: int
    base_margin: np.float32

    @property
    def depth(self) -> int:
        return len(self.columns)

    @property
    def n_trees(self) -> int:
        return self.leaves.size >> self.depth

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (float32) for a float32 matrix (rows, features)."""
        n, f = x.shape
        if f != self.n_features:
            raise ValueError(f"the forest takes {self.n_features} features, got {f}")
        ext = np.empty((n, 2 * f + 1), dtype=np.float32)
        np.fmax(x, _NEG_INF, out=ext[:, :f])  # fmax/fmin return the other operand for a NaN
        np.fmin(x, _POS_INF, out=ext[:, f : 2 * f])
        ext[:, 2 * f] = 0.0
        flat = ext.reshape(-1)
        trees = self.n_trees
        pos = np.arange(trees) if n == 1 else np.repeat(np.arange(trees)[None, :], n, axis=0)
        row = None if n == 1 else (np.arange(n) * (2 * f + 1))[:, None]
        for col, thr in zip(self.columns, self.thresholds, strict=True):
            at = col[pos] if row is None else col[pos] + row
            right = flat[at] >= thr[pos]
            pos += pos  # next level: 2 * pos + right, in place
            pos += right
        acc = np.empty((n, trees + 1), dtype=np.float32)
        acc[:, 0] = self.base_margin
        acc[:, 1:] = self.leaves[pos]
        margin = np.cumsum(acc, axis=1, dtype=np.float32)[:, -1]  # sequential, like XGBoost
        return (np.float32(1.0) / (np.float32(1.0) + np.exp(-margin))).astype(np.float32)


def from_booster(booster: Any) -> Forest | None:
    """Arrays from the booster's JSON; None when the model is not a plain binary:logistic gbtree."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    gb = learner["gradient_booster"]
    if (
        learner["objective"]["name"] != "binary:logistic"
        or gb.get("name") != "gbtree"
        or any(t != 0 for t in gb["model"]["tree_info"])
    ):
        return None
    trees = gb["model"]["trees"]
    if not trees or any(any(s != 0 for s in t.get("split_type", [])) for t in trees):
        return None  # categorical splits: leave them to XGBoost
    depth = max(_depth(t["left_children"], t["right_children"]) for t in trees)
    n_features = int(learner["learner_model_param"]["num_feature"])
    if depth > MAX_DEPTH or any(f >= n_features for t in trees for f in t["split_indices"]):
        return None
    depth = max(depth, 1)  # a forest of stumps-only leaves still takes one (pass-through) step
    n = len(trees)
    passthrough = 2 * n_features
    columns = [np.full(n << level, passthrough, dtype=np.intp) for level in range(depth)]
    thresholds = [np.full(n << level, np.inf, dtype=np.float32) for level in range(depth)]
    leaves = np.zeros(n << depth, dtype=np.float32)
    for t, tree in enumerate(trees):
        left, right = tree["left_children"], tree["right_children"]
        feature, split, default_left = tree["split_indices"], tree["split_conditions"], tree["default_left"]
        stack = [(0, 0, 0)]  # (node, level, position within the tree's level)
        while stack:
            node, level, j = stack.pop()
            if left[node] == -1:
                leaves[(t << depth) + (j << (depth - level))] = split[node]
                continue
            at = (t << level) + j
            columns[level][at] = feature[node] + (0 if default_left[node] else n_features)
            thresholds[level][at] = split[node]
            stack.append((left[node], level + 1, 2 * j))
            stack.append((right[node], level + 1, 2 * j + 1))
    base = float(learner["learner_model_param"]["base_score"].strip("[]"))
    return Forest(
        tuple(columns),
        tuple(thresholds),
        leaves,
        n_features,
        np.float32(np.log(base / (1.0 - base))),
    )


class CompiledForest:
    """A `Forest` scored by the C kernel; trees padded to the kernel's lane count with zero trees.
    The kernel takes its AVX-512 walk where the CPU and the forest allow it (`simd_width`, 512 or
    0); `portable=True` always takes the portable one (the same bits, tested)."""

    def __init__(self, forest: Forest, lib: ctypes.CDLL, *, portable: bool = False) -> None:
        depth, trees = forest.depth, forest.n_trees
        lanes = int(lib.fd_lanes())
        padded = -(-trees // lanes) * lanes
        self.n_features = forest.n_features
        columns, thresholds = [], []
        for level, (col, thr) in enumerate(zip(forest.columns, forest.thresholds, strict=True)):
            c = np.full(padded << level, 2 * forest.n_features, dtype=np.int32)
            c[: trees << level] = col
            t = np.full(padded << level, np.inf, dtype=np.float32)
            t[: trees << level] = thr
            columns.append(c)
            thresholds.append(t)
        leaves = np.zeros(padded << depth, dtype=np.float32)
        leaves[: trees << depth] = forest.leaves
        nodes = np.empty(sum(c.size for c in columns), dtype=np.dtype(ckernel.NODE))
        nodes["column"] = np.concatenate(columns)
        nodes["threshold"] = np.concatenate(thresholds)
        # The arrays stay referenced here: the struct holds raw pointers into them.
        self._arrays = (nodes, leaves)
        self._struct = ckernel.Forest(
            *(a.ctypes.data for a in self._arrays),
            padded,
            depth,
            forest.n_features,
            float(forest.base_margin),
        )
        self._address = ctypes.addressof(self._struct)
        self.simd_width = 0 if portable else int(lib.fd_simd_width(depth))
        self._predict = lib.fd_predict_portable if portable else lib.fd_predict

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (float32) for a float32 matrix (rows, features)."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"the forest takes (rows, {self.n_features}) features, got {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty(x.shape[0], dtype=np.float32)
        self._predict(self._address, ckernel.address(x), x.shape[0], ckernel.address(out))
        return out


def _depth(left: list[int], right: list[int]) -> int:
    depth, level = 0, [0]
    while level:
        level = [c for i in level for c in (left[i], right[i]) if c != -1]
        depth += 1 if level else 0
    return depth


def check(forest: Scorer, booster: Any, n_features: int, seed: int = 0) -> float:
    """Largest difference from the booster on probe rows (random values, 20% missing)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, size=(512, n_features)).astype(np.float32)
    x *= rng.choice([1, 10, 100, 1000], size=(512, n_features)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    ref = np.asarray(booster.inplace_predict(x), dtype=np.float32)
    return float(np.abs(forest.predict(x) - ref).max())
