"""The gate's checks, pure: the evidence in, one `Check` per bound, comparison, slice and backtest
figure out (`gate_verdict.decide` puts them together)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flightdelay.core.params import LOWER_IS_BETTER, GateParams
from flightdelay.lifecycle import promotion


@dataclass(frozen=True)
class Check:
    against: str  # "floor" | "ceiling" | "base" | "champion" | "slice"
    metric: str
    candidate: float
    reference: float
    limit: float  # the bound the candidate had to meet
    passed: bool
    detail: str


@dataclass(frozen=True)
class Evidence:
    """Everything the decision needs, already loaded."""

    candidate: Mapping[str, Any]
    candidate_slices: Sequence[Mapping[str, Any]]
    base: Mapping[str, Any] | None = None
    base_ref: str = ""
    base_slices: Sequence[Mapping[str, Any]] = ()
    champion: Mapping[str, Any] | None = None
    champion_version: str = ""
    champion_slices: Sequence[Mapping[str, Any]] = ()
    # Why there is no champion when that is not simply "none released yet" (shown as a warning).
    champion_warning: str = ""
    candidate_backtest: Mapping[str, Any] | None = None
    base_backtest: Mapping[str, Any] | None = None
    base_is_champion: bool = False  # the base's model file is the champion's: its backtest is the champion's
    candidate_is_champion: bool = False  # the very same model file: nothing to promote, nothing lost
    paired: Mapping[str, Any] | None = None  # promotion.PairedTest.to_dict(): candidate vs champion


def _higher(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def _num(m: Mapping[str, Any], key: str) -> float:
    v = m.get(key)
    return float(v) if isinstance(v, int | float) else float("nan")


def bound_checks(candidate: Mapping[str, Any], policy: GateParams) -> list[Check]:
    out = []
    for metric, floor in policy.floors.items():
        v = _num(candidate, metric)
        ok = v >= floor
        out.append(
            Check(
                "floor",
                metric,
                v,
                floor,
                floor,
                ok,
                f"{metric} {v:.4f} {'≥' if ok else 'is below the floor'} {floor:.4f}",
            )
        )
    for metric, ceiling in policy.ceilings.items():
        v = _num(candidate, metric)
        ok = v <= ceiling
        out.append(
            Check(
                "ceiling",
                metric,
                v,
                ceiling,
                ceiling,
                ok,
                f"{metric} {v:.4f} {'≤' if ok else 'is above the ceiling'} {ceiling:.4f}",
            )
        )
    return out


def relative_checks(
    candidate: Mapping[str, Any],
    reference: Mapping[str, Any],
    against: str,
    tolerance: Mapping[Any, float],
) -> list[Check]:
    """Candidate may be worse than the reference by at most `tolerance[metric]`."""
    out = []
    for metric, tol in tolerance.items():
        c, r = _num(candidate, metric), _num(reference, metric)
        if math.isnan(r):
            continue
        limit = r - tol if _higher(metric) else r + tol
        ok = c >= limit if _higher(metric) else c <= limit
        delta = c - r
        detail = (
            f"{metric} {c:.4f} vs {against} {r:.4f} ({delta:+.4f})"
            if ok
            else f"{metric} {c:.4f} is worse than the {against} {r:.4f} by {abs(delta):.4f} (tolerance {tol})"
        )
        out.append(Check(against, metric, c, r, limit, ok, detail))
    return out


def _slice_key(s: Mapping[str, Any]) -> tuple[str, str]:
    return str(s["slice"]), str(s["value"])


def slice_checks(
    candidate: Sequence[Mapping[str, Any]],
    reference: Sequence[Mapping[str, Any]],
    against: str,
    policy: GateParams,
) -> list[Check]:
    """One check per slice big enough on both sides; regressions beyond the slice tolerance fail."""
    ref = {_slice_key(s): s for s in reference if int(s.get("rows", 0)) >= policy.min_slice_rows}
    metric, tol = policy.slice_metric, policy.slice_tolerance
    out = []
    for s in candidate:
        key = _slice_key(s)
        if int(s.get("rows", 0)) < policy.min_slice_rows or key not in ref:
            continue
        c, r = _num(s, metric), _num(ref[key], metric)
        if math.isnan(c) or math.isnan(r):
            continue
        limit = r - tol if _higher(metric) else r + tol
        ok = c >= limit if _higher(metric) else c <= limit
        name = f"{key[0]}={key[1]}"
        detail = (
            f"{name} {metric} {c:.4f} vs {against} {r:.4f}"
            if ok
            else f"slice {name}: {metric} {c:.4f} vs {against} {r:.4f} ({c - r:+.4f}, tolerance {tol})"
        )
        out.append(Check("slice", f"{name} {metric}", c, r, limit, ok, detail))
    return out


def backtest_checks(evidence: Evidence, policy: GateParams) -> tuple[list[Check], list[str]]:
    """Floors on the candidate's backtest; its regression against the base's on shared months."""
    cand, base = evidence.candidate_backtest, evidence.base_backtest
    if not cand or not cand.get("per_month"):
        return [], ["no backtest for the candidate (paths.backtest is missing): not gated on it"]
    months = [r["month"] for r in cand["per_month"]]
    checks, notes = [], []
    for name, floor in policy.backtest_floors.items():
        v = _backtest_value(cand, months, name)
        ok = v >= floor
        word = "≥" if ok else "is below the floor"
        checks.append(
            Check("backtest", name, v, floor, floor, ok, f"backtest {name} {v:.4f} {word} {floor:.4f}")
        )
    shared = promotion.common_months(cand, base) if base else []
    if base is None:
        notes.append(
            f"base {evidence.base_ref or '(none)'} has no committed backtest: no backtest comparison"
        )
    elif not shared:
        notes.append("the base's backtest scored other months than the candidate's: not compared")
    else:
        span = _span(shared)
        for name, tol in policy.backtest_tolerance.items():
            c, r = _backtest_value(cand, shared, name), _backtest_value(base, shared, name)
            ok = c >= r - tol
            detail = (
                f"backtest {name} {c:.4f} vs base {r:.4f} over {span} ({c - r:+.4f})"
                if ok
                else f"backtest {name} {c:.4f} is worse than the base's {r:.4f} over {span} by "
                f"{r - c:.4f} (tolerance {tol})"
            )
            checks.append(Check("base backtest", name, c, r, r - tol, ok, detail))
    return checks, notes


def _backtest_value(bt: Mapping[str, Any], months: Sequence[str], name: str) -> float:
    if name == "worst_roc_auc":
        return promotion.backtest_worst(bt, months)
    return promotion.backtest_mean(bt, months)


def _span(months: Sequence[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
