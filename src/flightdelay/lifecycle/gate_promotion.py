"""The promotion policy as gate checks: is the candidate shown to be better than the champion
(DeLong on the holdout, or the backtest when the base is the champion), and not worse on the backtest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flightdelay.core.params import GateParams
from flightdelay.lifecycle import promotion
from flightdelay.lifecycle.gate_checks import Check, Evidence, _num, _span


@dataclass(frozen=True)
class BacktestVsChampion:
    """The candidate's backtest against the champion's (known when the base is the champion)."""

    better: bool = False
    worse: bool = False
    words: str = "the champion's backtest is not known (the base is not the champion)"
    check: Check | None = None


def _backtest_vs_champion(evidence: Evidence, policy: GateParams, champ: str) -> BacktestVsChampion:
    shared = (
        promotion.common_months(evidence.candidate_backtest, evidence.base_backtest)
        if evidence.base_is_champion and evidence.candidate_backtest and evidence.base_backtest
        else []
    )
    if not shared:
        return BacktestVsChampion()
    c = promotion.backtest_mean(evidence.candidate_backtest or {}, shared)
    r = promotion.backtest_mean(evidence.base_backtest or {}, shared)
    better, worse = c - r >= policy.backtest_margin, c < r
    words = (
        f"backtest mean ROC AUC {c:.4f} vs the champion's {r:.4f} over {_span(shared)} "
        f"({c - r:+.4f}; margin {policy.backtest_margin})"
    )
    detail = f"backtest mean_roc_auc {c:.4f} vs {champ} {r:.4f} over {_span(shared)} ({c - r:+.4f})"
    if worse:
        detail = f"worse than the {champ} on the backtest: {detail}"
    return BacktestVsChampion(
        better, worse, words, Check("champion backtest", "mean_roc_auc", c, r, r, not worse, detail)
    )


def _settled_without_test(evidence: Evidence, policy: GateParams) -> str | None:
    """The decision when the policy has nothing to test (no champion, the same model, not_worse)."""
    champ = f"champion {evidence.champion_version}"
    if evidence.champion is None:
        return "no champion to beat: the candidate is held to the floors and the base"
    if evidence.candidate_is_champion:
        return f"the candidate is the {champ}'s own model file: nothing to promote, nothing lost"
    if policy.promotion == "not_worse":
        return (
            f"policy not_worse: the candidate is held to the tolerances against the {champ} only "
            f"(whether it is better is reported, not required)"
        )
    return None


def _decision(
    champ: str, test: promotion.PairedTest | None, holdout_better: bool, bt: BacktestVsChampion, alpha: float
) -> str:
    p_words = (
        f"p = {test.p_value:.4g} {'<' if test.p_value < alpha else '≥'} α = {alpha}"
        if test
        else "no paired test"
    )
    if bt.worse:
        return (
            f"not promoted: worse than the {champ} on the backtest ({bt.words}), whatever the "
            f"holdout says ({p_words})"
        )
    if holdout_better or bt.better:
        why = [f"DeLong on the holdout, {p_words}"] if holdout_better else []
        why += [bt.words] if bt.better else []
        return f"promoted: better than the {champ} — {'; '.join(why)}"
    return (
        f"not promoted: not shown to be better than the {champ} (policy better): DeLong on the "
        f"holdout, {p_words}; {bt.words}"
    )


def promotion_checks(evidence: Evidence, policy: GateParams) -> tuple[list[Check], dict[str, Any]]:
    """The promotion policy's checks, and its decision in words (for the verdict and the report)."""
    test = promotion.PairedTest(**evidence.paired) if evidence.paired else None
    info: dict[str, Any] = {
        "policy": policy.promotion,
        "alpha": policy.alpha,
        "test": test.test if test else promotion.TEST_NAME,
        "p_value": test.p_value if test else None,
        "paired": dict(evidence.paired) if evidence.paired else None,
        "test_in_words": promotion.in_words(test, policy.alpha),
    }
    settled = _settled_without_test(evidence, policy)
    if settled is not None:
        info["decision"] = settled
        return [], info
    champ = f"champion {evidence.champion_version}"
    holdout_better = test is not None and test.difference > 0 and test.p_value < policy.alpha
    bt = _backtest_vs_champion(evidence, policy, champ)
    decision = info["decision"] = _decision(champ, test, holdout_better, bt, policy.alpha)
    passed = (holdout_better or bt.better) and not bt.worse
    cand_auc = test.candidate_auc if test else _num(evidence.candidate, "roc_auc")
    champ_auc = test.champion_auc if test else _num(evidence.champion or {}, "roc_auc")
    checks = [bt.check] if bt.check else []
    checks.append(
        Check("promotion", "better (DeLong p)", cand_auc, champ_auc, policy.alpha, passed, decision)
    )
    return checks, info
