"""The gate's decision on given evidence (pure): floors, base, champion, slices, notes."""

from __future__ import annotations

from typing import Any

from flightdelay.core.params import GateParams
from flightdelay.lifecycle.gate import Evidence, decide, format_table

G = GateParams(
    floors={"roc_auc": 0.70},
    ceilings={"log_loss": 0.69},
    tolerance={"roc_auc": 0.005, "log_loss": 0.01},
    slice_tolerance=0.03,
    min_slice_rows=500,
    promotion="not_worse",  # the tolerances; `better` is tested in test_promotion.py
)


def metrics(roc: float, log_loss: float = 0.5, months: tuple[str, ...] = ("2013-06",)) -> dict[str, Any]:
    return {"roc_auc": roc, "log_loss": log_loss, "holdout_months": list(months)}


def slices(**roc_by_carrier: float) -> list[dict[str, Any]]:
    return [{"slice": "carrier", "value": k, "roc_auc": v, "rows": 1000} for k, v in roc_by_carrier.items()]


def test_a_candidate_at_least_as_good_passes_everything() -> None:
    ev = Evidence(
        candidate=metrics(0.75),
        candidate_slices=slices(AA=0.74),
        base=metrics(0.75),
        base_ref="main",
        base_slices=slices(AA=0.74),
        champion=metrics(0.748),
        champion_version="3",
        champion_slices=slices(AA=0.73),
    )
    v = decide(ev, G)
    assert v.passed, v.reason()
    assert {c.against for c in v.checks} == {"floor", "ceiling", "base", "champion", "slice"}


def test_below_the_floor_fails_with_the_metric_and_the_floor_in_the_reason() -> None:
    v = decide(Evidence(candidate=metrics(0.62), candidate_slices=[]), G)
    assert not v.passed
    assert "roc_auc 0.6200 is below the floor 0.7000" in v.reason()
    assert any("no champion released yet" in n for n in v.notes)


def test_regression_against_the_champion_beyond_tolerance_fails() -> None:
    ev = Evidence(candidate=metrics(0.74), candidate_slices=[], champion=metrics(0.75), champion_version="2")
    v = decide(ev, G)
    assert not v.passed
    assert "roc_auc 0.7400 is worse than the champion 0.7500 by 0.0100 (tolerance 0.005)" in v.reason()


def test_a_loss_is_worse_when_higher() -> None:
    ev = Evidence(
        candidate=metrics(0.75, log_loss=0.55),
        candidate_slices=[],
        champion=metrics(0.75, log_loss=0.53),
        champion_version="2",
    )
    v = decide(ev, G)
    assert [c.metric for c in v.failures] == ["log_loss"]


def test_base_on_another_holdout_is_not_gated_on_but_explained() -> None:
    ev = Evidence(
        candidate=metrics(0.74, months=("2013-07",)),
        candidate_slices=[],
        base=metrics(0.80, months=("2013-06",)),
        base_ref="main",
    )
    v = decide(ev, G)
    assert v.passed
    assert not any(c.against == "base" for c in v.checks)
    assert any("not comparable" in n and "2013-06" in n and "2013-07" in n for n in v.notes)


def test_a_slice_regression_fails_and_names_the_slice() -> None:
    ev = Evidence(
        candidate=metrics(0.75),
        candidate_slices=slices(AA=0.70, UA=0.76),
        champion=metrics(0.75),
        champion_version="2",
        champion_slices=slices(AA=0.74, UA=0.76),
    )
    v = decide(ev, G)
    assert not v.passed
    assert "slice carrier=AA: roc_auc 0.7000 vs champion 0.7400 (-0.0400, tolerance 0.03)" in v.reason()
    assert "FAIL" in format_table(v)


def test_small_slices_and_allowed_regressions_do_not_fail() -> None:
    small = [{"slice": "carrier", "value": "HA", "roc_auc": 0.5, "rows": 100}]
    ref = [{"slice": "carrier", "value": "HA", "roc_auc": 0.9, "rows": 100}]
    ev = Evidence(
        candidate=metrics(0.75),
        candidate_slices=small + slices(AA=0.70),
        champion=metrics(0.75),
        champion_version="2",
        champion_slices=ref + slices(AA=0.74),
    )
    assert not any("HA" in c.metric for c in decide(ev, G).checks)
    lenient = G.model_copy(update={"max_slice_regressions": 1})
    v = decide(ev, lenient)
    assert v.passed
    assert any(c.detail.endswith("(allowed)") for c in v.checks)
