"""The PR report's plots: ROC, precision-recall and calibration curves, feature importance, the
backtest per month and the slices that moved most."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flightdelay.core.metrics import calibration_points, pr_points, roc_points
from flightdelay.core.params import LOWER_IS_BETTER, Params
from flightdelay.lifecycle import gate, gate_champion
from flightdelay.lifecycle.report import baseline, diffs, plots
from flightdelay.lifecycle.report.models import GateStep, Models, Scored


def _backtests(evidence: gate.Evidence) -> dict[str, dict[str, Any]]:
    """Base, candidate and (when the base is the champion) champion backtests, for the report."""
    out: dict[str, dict[str, Any]] = {}
    if evidence.base_backtest and evidence.base_backtest.get("per_month"):
        out["base"] = dict(evidence.base_backtest)
    if evidence.candidate_backtest and evidence.candidate_backtest.get("per_month"):
        out["candidate"] = dict(evidence.candidate_backtest)
    if evidence.base_is_champion and "base" in out:
        out[f"champion {evidence.champion_version} (= base)"] = out["base"]
    return out


def _curve_images(
    out: Path,
    y: np.ndarray,
    scored: list[Scored],
    base: baseline.BaseSide,
    *,
    holdout_label: str,
    bins: int,
) -> dict[str, str]:
    roc: list[plots.Series] = []
    pr: list[plots.Series] = []
    cal: list[plots.Series] = []
    for s in scored:
        label = f"{s.label} ({holdout_label})"
        r = roc_points(y, s.score)
        roc.append((label, [p["fpr"] for p in r], [p["tpr"] for p in r]))
        q = pr_points(y, s.score)
        pr.append((label, [p["recall"] for p in q], [p["precision"] for p in q]))
        c = calibration_points(y, s.score, bins)
        cal.append((label, [p["predicted"] for p in c], [p["observed"] for p in c]))
    if not any(s.label.startswith("base") for s in scored) and base.curves.get("roc"):
        held = ", ".join((base.metrics or {}).get("holdout_months") or [])
        label = f"base (committed, {held})"
        roc.append((label, [p["fpr"] for p in base.curves["roc"]], [p["tpr"] for p in base.curves["roc"]]))
        pr.append(
            (
                label,
                [p["recall"] for p in base.curves["precision_recall"]],
                [p["precision"] for p in base.curves["precision_recall"]],
            )
        )
        cal.append(
            (
                label,
                [p["predicted"] for p in base.curves["calibration"]],
                [p["observed"] for p in base.curves["calibration"]],
            )
        )
    plots.curves(
        roc,
        out / "roc.png",
        title="ROC",
        xlabel="false positive rate",
        ylabel="true positive rate",
        diagonal=True,
    )
    plots.curves(pr, out / "pr.png", title="Precision-recall", xlabel="recall", ylabel="precision")
    plots.curves(
        cal,
        out / "calibration.png",
        title="Calibration",
        xlabel="mean predicted",
        ylabel="observed rate",
        diagonal=True,
    )
    return {"roc": "roc.png", "pr": "pr.png", "calibration": "calibration.png"}


@dataclass
class Figures:
    """The plots written (name → file next to the report), and what the report says about them."""

    images: dict[str, str]
    backtests: dict[str, dict[str, Any]]
    holdout_label: str
    base_rescored: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def draw(p: Params, out: Path, gated: GateStep, scoring: Models, base: baseline.BaseSide) -> Figures:
    """Every plot of the report, from the scored models and the gate's evidence."""
    evidence = gated.evidence
    y = gated.holdout["disrupted"].to_numpy()
    holdout_label = ", ".join(evidence.candidate.get("holdout_months") or [])
    images = _curve_images(
        out, y, scoring.scored, base, holdout_label=holdout_label, bins=p.evaluate.calibration_bins
    )
    importance = json.loads((Path(p.paths.plots) / "importance.json").read_text())
    plots.importance(importance, base.importance, out / "importance.png")
    images["importance"] = "importance.png"
    backtests = _backtests(evidence)
    if backtests:
        plots.backtest(
            [
                (k, [r["month"] for r in bt["per_month"]], [r["roc_auc"] for r in bt["per_month"]])
                for k, bt in backtests.items()
            ],
            out / "backtest.png",
        )
        images["backtest"] = "backtest.png"
    drawn = Figures(images, backtests, holdout_label)
    _slices(p, out, gated, scoring, base, drawn)
    return drawn


def _slices(
    p: Params, out: Path, gated: GateStep, scoring: Models, base: baseline.BaseSide, drawn: Figures
) -> None:
    """The candidate's slices against the champion's (or the base model's) on the same holdout."""
    base_slices: list[Any] = []
    if scoring.base is not None:
        drawn.base_rescored, base_slices = gate_champion.holdout_metrics(
            gated.holdout,
            scoring.base.score,
            float((base.metrics or {}).get("threshold", 0.5)),
            p.evaluate.min_slice_rows,
        )
    policy = p.gate
    if gated.champion is not None:
        slice_ref, against = gated.champion.slices, f"champion {gated.champion.version}"
    elif scoring.base is not None:
        slice_ref, against = base_slices, "base model"
    else:
        slice_ref, against = [], ""
    deltas = diffs.slice_deltas(
        list(gated.evidence.candidate_slices), slice_ref, policy.slice_metric, policy.min_slice_rows
    )
    if not deltas:
        drawn.notes.append(
            "no slice comparison: there is neither a champion nor a base model to "
            "re-score on the candidate's holdout"
        )
        return
    plots.slice_deltas(
        deltas[: p.report.max_slice_bars],
        out / "slices.png",
        metric=policy.slice_metric,
        against=against,
        tolerance=policy.slice_tolerance,
        higher_is_better=policy.slice_metric not in LOWER_IS_BETTER,
    )
    drawn.images["slices"] = "slices.png"
