"""Small-batch scoring without XGBoost's per-call overhead: all trees walked at once with numpy.

For one row, `Booster.inplace_predict` spends most of its ~0.2–1 ms in Python (config JSON,
array-interface objects), not in the trees. Walking every tree one level per numpy step costs a
few dozen microseconds instead. Used only for small batches and only after `check` proves it
gives the booster's answers on probe rows (else serving keeps the booster): the booster stays
the reference, this is a cache of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Forest:
    children: np.ndarray  # [2 * node] left, [2 * node + 1] right (global); a leaf points to itself
    feature: np.ndarray
    threshold: np.ndarray  # float32 split condition; for a leaf, its value
    default_right: np.ndarray  # where a missing value goes
    roots: np.ndarray
    depth: int
    base_margin: np.float32

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (float32) for a float32 matrix (rows, features)."""
        n = x.shape[0]
        missing = np.isnan(x)
        node = np.broadcast_to(self.roots, (n, self.roots.size))
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):  # XGBoost: value < split → left, missing → default
            f = self.feature[node]
            right = (x[rows, f] >= self.threshold[node]) | (missing[rows, f] & self.default_right[node])
            node = self.children[2 * node + right]
        acc = np.empty((n, self.roots.size + 1), dtype=np.float32)
        acc[:, 0] = self.base_margin
        acc[:, 1:] = self.threshold[node]
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
    if any(any(s != 0 for s in t.get("split_type", [])) for t in trees):
        return None  # categorical splits: leave them to XGBoost
    children, feat, thr, dright, roots = [], [], [], [], []
    offset, depth = 0, 0
    for t in trees:
        lc = np.asarray(t["left_children"], dtype=np.int64)
        rc = np.asarray(t["right_children"], dtype=np.int64)
        leaf = lc == -1
        own = np.arange(lc.size) + offset
        children.append(
            np.stack([np.where(leaf, own, lc + offset), np.where(leaf, own, rc + offset)], axis=1).reshape(-1)
        )
        feat.append(np.where(leaf, 0, np.asarray(t["split_indices"], dtype=np.int64)))
        thr.append(np.asarray(t["split_conditions"], dtype=np.float32))
        dright.append(~np.asarray(t["default_left"], dtype=bool))
        roots.append(offset)
        depth = max(depth, _depth(lc, rc))
        offset += lc.size
    base = float(learner["learner_model_param"]["base_score"].strip("[]"))
    margin = np.float32(np.log(base / (1.0 - base)))
    return Forest(
        np.concatenate(children),
        np.concatenate(feat),
        np.concatenate(thr),
        np.concatenate(dright),
        np.asarray(roots),
        depth,
        margin,
    )


def _depth(lc: np.ndarray, rc: np.ndarray) -> int:
    depth, level = 0, [0]
    while level:
        level = [c for i in level for c in (lc[i], rc[i]) if c != -1]
        depth += 1 if level else 0
    return depth


def check(forest: Forest, booster: Any, n_features: int, seed: int = 0) -> float:
    """Largest difference from the booster on probe rows (random values, 20% missing)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, size=(512, n_features)).astype(np.float32)
    x *= rng.choice([1, 10, 100, 1000], size=(512, n_features)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    ref = np.asarray(booster.inplace_predict(x), dtype=np.float32)
    return float(np.abs(forest.predict(x) - ref).max())
