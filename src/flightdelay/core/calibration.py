"""Probability calibration: a monotone map from the booster's probability to a calibrated one.

`train.calibration` chooses it: `platt` (p' = σ(a·logit p + b)), `isotonic` (a step-wise increasing
map, linearly interpolated between its points, clipped outside them) or `none`. It is fitted on
the newest training month, scored by a model of the months before it (out of sample), and then
applied to the model of all training months. The map travels inside the model file, as the booster
attribute `ATTR` (a small JSON document), so the bundle, its manifest and every reader of the model
carry it without another file; serving applies it after whichever scorer walked the trees.

Imports only numpy at load time (serving); fitting needs scikit-learn (the pipeline).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ATTR = "flightdelay_calibration"
Method = Literal["none", "platt", "isotonic"]
METHODS: tuple[Method, ...] = ("none", "platt", "isotonic")
_EPS = 1e-7


@dataclass(frozen=True)
class Calibration:
    method: Method = "none"
    a: float = 1.0  # platt: slope on the logit
    b: float = 0.0  # platt: intercept
    x: tuple[float, ...] = ()  # isotonic: increasing input probabilities
    y: tuple[float, ...] = ()  # isotonic: their calibrated values (non-decreasing)

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, in the dtype of `p` (float32 from the scorers)."""
        if self.method == "none":
            return p
        q = np.asarray(p, dtype=np.float64)
        if self.method == "platt":
            z = np.log(np.clip(q, _EPS, 1 - _EPS) / np.clip(1 - q, _EPS, 1))
            out = 1.0 / (1.0 + np.exp(-(self.a * z + self.b)))
        else:
            out = np.interp(q, self.x, self.y)
        return out.astype(np.asarray(p).dtype, copy=False)

    def to_json(self) -> str:
        if self.method == "platt":
            doc: dict[str, Any] = {"method": "platt", "a": self.a, "b": self.b}
        elif self.method == "isotonic":
            doc = {"method": "isotonic", "x": list(self.x), "y": list(self.y)}
        else:
            doc = {"method": "none"}
        return json.dumps(doc, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Calibration:
        """The map from a model file's attribute; None (a model from before calibration): identity.
        A malformed document raises ValueError naming what is wrong."""
        if text is None:
            return cls()
        d = json.loads(text)
        method = d.get("method") if isinstance(d, dict) else None
        if method == "none":
            return cls()
        if method == "platt":
            a, b = d.get("a"), d.get("b")
            if not all(isinstance(v, int | float) and math.isfinite(v) for v in (a, b)):
                raise ValueError(f"platt calibration needs finite numbers a and b, got a={a!r} b={b!r}")
            return cls(method="platt", a=float(a), b=float(b))
        if method == "isotonic":
            x, y = _floats(d.get("x")), _floats(d.get("y"))
            if not x or len(x) != len(y) or any(u > v for u, v in itertools.pairwise(x)):
                raise ValueError("isotonic calibration needs equally long x (increasing) and y lists")
            if any(u > v for u, v in itertools.pairwise(y)) or not 0 <= y[0] <= y[-1] <= 1:
                raise ValueError("isotonic calibration y must be non-decreasing probabilities")
            return cls(method="isotonic", x=tuple(x), y=tuple(y))
        raise ValueError(f"calibration method {method!r} is not one of {', '.join(METHODS)}")


def _floats(v: Any) -> list[float]:
    if not isinstance(v, list) or not all(isinstance(u, int | float) and math.isfinite(u) for u in v):
        return []
    return [float(u) for u in v]


def fit(method: Method, y: Sequence[int] | np.ndarray, p: np.ndarray) -> Calibration:
    """Fit `method` on labels `y` and the probabilities `p` a model gave those rows."""
    y = np.asarray(y, dtype=int)
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    if method == "none" or len(np.unique(y)) < 2:
        return Calibration()
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        z = np.log(q / (1 - q)).reshape(-1, 1)
        lr = LogisticRegression(C=1e6, solver="lbfgs").fit(z, y)
        a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        # A slope ≤ 0 would reverse the model's ranking: the month contradicts it; leave it as is.
        return Calibration(method="platt", a=a, b=b) if a > 0 else Calibration()
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(q, y)
    return Calibration(
        method="isotonic",
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
    )
