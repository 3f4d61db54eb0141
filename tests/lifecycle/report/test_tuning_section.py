"""The PR report shows `flightdelay tune`'s evidence when the pull request carries it."""

from __future__ import annotations

from flightdelay.lifecycle.report.markdown import tuning


def test_the_tuning_section_names_the_baseline_the_best_and_the_top_trials() -> None:
    tune = {
        "seed": 13,
        "validation_months": ["2013-04", "2013-05"],
        "baseline_value": 0.7,
        "best_value": 0.7123,
        "best_trial": 2,
        "best_params": {"max_depth": 5, "learning_rate": 0.02},
        "trials": [
            {"trial": 0, "value": 0.7, "params": {"max_depth": 6, "learning_rate": 0.1}},
            {"trial": 1, "value": 0.69, "params": {"max_depth": 8, "learning_rate": 0.2}},
            {"trial": 2, "value": 0.7123, "params": {"max_depth": 5, "learning_rate": 0.02}},
        ],
    }
    text = "\n".join(tuning(tune))
    assert "3 TPE trials (seed 13)" in text and "2013-04, 2013-05" in text
    assert "Current params 0.7000, best trial 2 0.7123 (+0.0123)" in text
    assert "| trial | ROC AUC | max_depth | learning_rate |" in text
    assert text.index("| 2 | 0.7123 | 5 | 0.02 |") < text.index("| 0 | 0.7000 | 6 | 0.1 |")  # best first
    assert tuning(None) == [] and tuning({"trials": []}) == []
