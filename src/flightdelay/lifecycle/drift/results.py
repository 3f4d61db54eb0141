"""What each step of the drift check hands to the next (drift/check.py runs them)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import drift as core
from flightdelay.core.errors import ModelError
from flightdelay.core.params import Params
from flightdelay.lifecycle.drift import sources, trigger


def finite(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


@dataclass(frozen=True)
class Window:
    """The two sides of one check, whole and capped at `drift.max_rows` (fixed seed)."""

    reference_full: pd.DataFrame
    current_full: pd.DataFrame
    reference: pd.DataFrame
    current: pd.DataFrame


@dataclass(frozen=True)
class PredictionDrift:
    method: str
    score: float | None
    threshold: float
    detected: bool
    mean_reference: float | None
    mean_current: float | None


@dataclass(frozen=True)
class Comparison:
    """What the comparison found: the verdict and what it rests on."""

    verdict: core.Verdict
    columns: list[core.ColumnDrift]
    prediction: PredictionDrift | None = None
    quality: Quality | None = None
    html: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The verdict after the N-of-M trigger (which may turn live quality drops into drift)."""

    status: core.Status
    reasons: list[str]
    exit_code: int
    decision: trigger.TriggerDecision
    history: Path
    checked_at: str


@dataclass(frozen=True)
class Quality:
    """The model's quality on a labelled window against its holdout figures."""

    current: dict[str, float | None]
    reference: dict[str, Any]
    reference_months: list[str]
    floor: float
    threshold: float
    below_floor: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def quality_of(cur: pd.DataFrame, p: Params) -> Quality:
    from flightdelay.core.metrics import classification_metrics

    path = Path(p.paths.metrics)
    if not path.is_file():
        raise ModelError(f"holdout metrics {path} are missing", hint="run `dvc repro`")
    ref = json.loads(path.read_text())
    thr = float(ref.get("threshold", p.evaluate.threshold))
    m = classification_metrics(cur[sources.LABEL].to_numpy(), cur["score"].to_numpy(), thr)
    floor = core.quality_floor(float(ref["roc_auc"]), p.drift)
    return Quality(
        current={k: finite(v) for k, v in m.items()},
        reference={
            k: ref[k]
            for k in ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "positive_rate", "rows")
            if k in ref
        },
        reference_months=list(ref.get("holdout_months", [])),
        floor=round(floor, 6),
        threshold=thr,
    )
