"""`flightdelay tune`: a seeded TPE search on a time-ordered validation; suggestions, not shipments."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from flightdelay.core.errors import ConfigError
from flightdelay.core.params import TrainParams, TuneParams
from flightdelay.lifecycle import tune
from tests.pipeline.test_backtest import MONTHS, _frame

SPACE = {"max_depth": (2.0, 6.0), "learning_rate": (0.01, 0.3), "reg_lambda": (0.1, 50.0)}


def peaked(t: TrainParams) -> tuple[float, list[dict[str, Any]]]:
    """A known optimum (depth 4, learning rate 0.1), and no training: the search alone is tested."""
    return 1.0 - abs(t.max_depth - 4) / 10 - abs(t.learning_rate - 0.1), []


def test_the_search_is_seeded_starts_from_the_current_params_and_stays_in_the_space() -> None:
    base = TrainParams(max_depth=6, learning_rate=0.2, reg_lambda=1.0)
    first = tune.search(base, SPACE, peaked, trials=15, seed=7)
    again = tune.search(base, SPACE, peaked, trials=15, seed=7)
    assert first == again
    assert first["trials"][0]["params"] == {"max_depth": 6, "learning_rate": 0.2, "reg_lambda": 1.0}
    assert first["baseline_value"] == pytest.approx(peaked(base)[0])
    assert first["best_value"] > first["baseline_value"]
    for t in first["trials"]:
        assert 2 <= t["params"]["max_depth"] <= 6 and isinstance(t["params"]["max_depth"], int)
        assert 0.01 <= t["params"]["learning_rate"] <= 0.3
    assert tune.search(base, SPACE, peaked, trials=15, seed=8)["trials"] != first["trials"]


def test_the_validation_scores_only_training_months_each_by_the_months_before_it() -> None:
    objective = tune.validation_objective(_frame(), MONTHS, 2, 1, min_category_count=5)
    value, rows = objective(TrainParams(n_estimators=10, max_depth=3))
    assert [r["month"] for r in rows] == MONTHS[-2:]
    assert [r["train_months"] for r in rows] == ["2013-01..2013-02", "2013-01..2013-03"]
    assert value == pytest.approx(sum(r["roc_auc"] for r in rows) / 2)
    with pytest.raises(ConfigError, match="validation_months=4"):
        tune.validation_objective(_frame(), MONTHS, 4, 1, min_category_count=5)


def test_apply_rewrites_only_the_train_values_and_keeps_the_comments(tmp_path: Path) -> None:
    text = (
        "train:\n  n_estimators: 300\n  max_depth: 6      # deeper overfits\n  learning_rate: 0.1\n"
        "tune:\n  space:\n    max_depth: [3, 8]\n  seed: 13\n"
    )
    new = tune.apply_to_params_text(text, {"max_depth": 5, "learning_rate": 0.02})
    assert new == text.replace("max_depth: 6      #", "max_depth: 5      #").replace(
        "learning_rate: 0.1", "learning_rate: 0.02"
    )
    with pytest.raises(ConfigError, match="no line for \\['reg_lambda'\\]"):
        tune.apply_to_params_text(text, {"reg_lambda": 3.0})


def test_the_space_names_train_params_with_real_ranges() -> None:
    with pytest.raises(ValueError, match="not train params"):
        TuneParams(space={"depth": (1, 3)})
    with pytest.raises(ValueError, match="empty"):
        TuneParams(space={"max_depth": (5, 5)})


@pytest.mark.slow
def test_each_trial_is_a_nested_mlflow_run(
    built_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from flightdelay.adapters import tracking

    # a copy of the session repository's tracking database: already migrated, so this costs seconds
    shutil.copy(built_repo / "mlflow.db", tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with tracking.parent_run("tune", params={"tune.trials": 3}) as child:
        result = tune.search(TrainParams(), SPACE, peaked, trials=3, seed=1, on_trial=child)
    runs = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT], output_format="list")
    parent = [r for r in runs if r.info.run_name == "tune"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    assert len(parent) == 1 and len(children) == 3
    logged = sorted(round(r.data.metrics["roc_auc"], 6) for r in children)
    assert logged == sorted(t["value"] for t in result["trials"])
