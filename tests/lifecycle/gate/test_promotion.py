"""Promote only if better: DeLong's paired test, the backtest, and the decision in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from flightdelay.core.params import GateParams
from flightdelay.lifecycle import promotion
from flightdelay.lifecycle.gate import Evidence, decide

G = GateParams(floors={"roc_auc": 0.6}, ceilings={}, tolerance={"roc_auc": 0.01}, alpha=0.05)
MONTHS = ("2013-03", "2013-04", "2013-05", "2013-06")


def holdout(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a champion score with signal (ROC AUC about 0.75)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    return y, y * 0.9 + rng.normal(0, 1, n)


def backtest(*roc: float) -> dict[str, Any]:
    return {"per_month": [{"month": m, "roc_auc": r} for m, r in zip(MONTHS, roc, strict=False)]}


def evidence(
    y: np.ndarray,
    cand: np.ndarray,
    champ: np.ndarray,
    cand_bt: dict[str, Any] | None = None,
    champ_bt: dict[str, Any] | None = None,
) -> Evidence:
    def m(s: np.ndarray) -> dict[str, Any]:
        return {"roc_auc": float(roc_auc_score(y, s)), "holdout_months": ["2013-06"]}

    return Evidence(
        candidate=m(cand),
        candidate_slices=[],
        champion=m(champ),
        champion_version="3",
        candidate_backtest=cand_bt,
        base_backtest=champ_bt,
        base_ref="main",
        base_is_champion=champ_bt is not None,
        paired=promotion.delong(y, cand, champ).to_dict(),
    )


def test_delong_agrees_with_sklearn_and_is_one_sided() -> None:
    y, champ = holdout()
    rng = np.random.default_rng(2)
    better = champ + 0.8 * y + rng.normal(0, 0.3, len(y))
    t = promotion.delong(y, better, champ)
    assert t.candidate_auc == pytest.approx(roc_auc_score(y, better))
    assert t.champion_auc == pytest.approx(roc_auc_score(y, champ))
    assert t.difference > 0.05 and t.p_value < 1e-6
    reverse = promotion.delong(y, champ, better)
    assert reverse.p_value > 0.99  # "the champion is better than the candidate" is not supported
    same = promotion.delong(y, champ, champ)
    assert same.difference == 0 and same.p_value == 0.5
    with pytest.raises(ValueError, match="both classes"):
        promotion.delong(np.zeros(10), champ[:10], champ[:10])


def test_delong_p_values_are_calibrated_under_no_difference() -> None:
    """Two equally good, different scores: "better" at α = 0.05 about 5% of the time, not more."""
    hits = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        y = (rng.random(1500) < 0.3).astype(int)
        base = y * 0.6 + rng.normal(0, 1, len(y))
        a, b = base + rng.normal(0, 0.5, len(y)), base + rng.normal(0, 0.5, len(y))
        hits += promotion.delong(y, a, b).p_value < 0.05
    assert hits <= 8  # binomial(60, 0.05): P(> 8) < 1%


def test_better_on_one_month_by_chance_but_worse_on_the_backtest_is_not_promoted() -> None:
    y, champ = holdout()
    rng = np.random.default_rng(5)
    lucky = champ + rng.normal(0, 0.05, len(y))  # the same model, a little noise
    flip = 1
    while promotion.delong(y, lucky, champ).difference <= 0:  # better on this month, by chance
        lucky = champ + np.random.default_rng(5 + flip).normal(0, 0.05, len(y))
        flip += 1
    # worse on the backtest by less than the tolerance (so `not_worse` would pass it)
    ev = evidence(y, lucky, champ, backtest(0.705, 0.715, 0.695, 0.74), backtest(0.71, 0.72, 0.70, 0.74))
    assert ev.candidate["roc_auc"] > ev.champion["roc_auc"]  # type: ignore[index]
    v = decide(ev, G)
    assert not v.passed
    assert v.promotion["policy"] == "better"
    assert v.promotion["decision"].startswith("not promoted: worse than the champion 3 on the backtest")
    assert v.promotion["p_value"] == ev.paired["p_value"]  # type: ignore[index]
    assert "DeLong" in v.promotion["test_in_words"] and "p = " in v.promotion["test_in_words"]
    assert {c.against for c in v.failures} == {"champion backtest", "promotion"}
    # the old policy would have shipped it: within every tolerance
    assert decide(ev, G.model_copy(update={"promotion": "not_worse"})).passed


def test_significantly_better_on_the_holdout_and_not_worse_on_the_backtest_is_promoted() -> None:
    y, champ = holdout()
    better = champ + 0.3 * y
    ev = evidence(y, better, champ, backtest(0.70, 0.71, 0.69, 0.75), backtest(0.70, 0.71, 0.69))
    v = decide(ev, G)
    assert v.passed, v.reason()
    assert v.promotion["decision"].startswith(
        "promoted: better than the champion 3 — DeLong on the holdout, p = "
    )
    assert v.promotion["p_value"] < G.alpha
    # ... but not when the backtest says it is worse: one month is not the evidence
    worse_bt = evidence(y, better, champ, backtest(0.69, 0.70, 0.69, 0.75), backtest(0.70, 0.71, 0.69, 0.74))
    assert not decide(worse_bt, G).passed


def test_not_shown_better_is_not_promoted_unless_the_backtest_mean_is_better_by_the_margin() -> None:
    y, champ = holdout()
    same_quality = champ + np.random.default_rng(9).normal(0, 0.3, len(y))
    flat = evidence(
        y, same_quality, champ, backtest(0.70, 0.71, 0.69, 0.74), backtest(0.70, 0.71, 0.69, 0.74)
    )
    v = decide(flat, G)
    assert not v.passed
    assert v.promotion["decision"].startswith("not promoted: not shown to be better than the champion 3")
    assert "+0.0000; margin 0.002" in v.promotion["decision"]
    up = evidence(y, same_quality, champ, backtest(0.71, 0.72, 0.70, 0.74), backtest(0.70, 0.71, 0.69, 0.74))
    v = decide(up, G)
    assert v.passed, v.reason()
    assert "backtest mean ROC AUC 0.7175 vs the champion's 0.7100" in v.promotion["decision"]


def test_no_champion_or_the_champion_itself_needs_no_proof() -> None:
    v = decide(Evidence(candidate={"roc_auc": 0.75}, candidate_slices=[]), G)
    assert v.passed and v.promotion["decision"].startswith("no champion to beat")
    y, champ = holdout()
    ev = evidence(y, champ, champ)
    same = Evidence(**{**ev.__dict__, "candidate_is_champion": True, "paired": None})
    v = decide(same, G)
    assert v.passed and "own model file" in v.promotion["decision"]


def test_backtest_floors_and_the_base_backtest_regression() -> None:
    cand = backtest(0.70, 0.71, 0.60, 0.74)
    ev = Evidence(candidate={"roc_auc": 0.74}, candidate_slices=[], candidate_backtest=cand, base_ref="main")
    v = decide(ev, G)
    assert "backtest worst_roc_auc 0.6000 is below the floor 0.6200" in v.reason()
    assert any("has no committed backtest" in n for n in v.notes)
    ev = Evidence(
        candidate={"roc_auc": 0.74},
        candidate_slices=[],
        candidate_backtest=backtest(0.70, 0.70, 0.70, 0.70),
        base_backtest=backtest(0.71, 0.72, 0.70),  # one month fewer: compared on the three shared
        base_ref="main",
    )
    v = decide(ev, G)
    assert [c.metric for c in v.failures] == ["mean_roc_auc"]
    assert "over 2013-03..2013-05 by 0.0100 (tolerance 0.005)" in v.reason()
