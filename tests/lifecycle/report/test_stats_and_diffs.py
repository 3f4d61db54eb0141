"""The PR report's drift (the monitor's definition) and its diffs (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import compare
from flightdelay.lifecycle.report import diffs
from tests.helpers import REPO_ROOT

RNG = np.random.default_rng(13)
PARAMS = load_params(REPO_ROOT / "params.yaml")


def frame(n: int, rng: np.random.Generator, temp_mean: float = 40.0) -> pd.DataFrame:
    df = pd.DataFrame({c: rng.normal(10, 3, n) for c in PARAMS.drift.numerical})
    df["temp"] = rng.normal(temp_mean, 8, n)
    for c in PARAMS.drift.categorical:
        df[c] = rng.choice(["AA", "UA", "DL"], n)
    return df


def test_the_pr_report_drift_is_the_monitors_definition() -> None:
    """Columns, distances and thresholds come from params `drift:`, as in `drift check`."""
    ref, cur = frame(6000, RNG), frame(3000, RNG, temp_mean=75.0)
    cur.loc[:299, "wind_gust"] = np.nan
    rows = compare.columns(ref, cur, PARAMS.drift)
    assert [r.column for r in rows[:1]] == ["temp"] and rows[0].drifted
    assert {r.column for r in rows} == set(PARAMS.drift.numerical) | set(PARAMS.drift.categorical)
    by = {r.column: r for r in rows}
    assert by["temp"].method == PARAMS.drift.num_method and by["temp"].threshold == PARAMS.drift.num_threshold
    assert by["carrier"].method == PARAMS.drift.cat_method and not by["carrier"].drifted
    assert not by["wind_gust"].drifted and by["wind_gust"].missing_increase == pytest.approx(0.1)
    looser = PARAMS.drift.model_copy(update={"per_column_threshold": {"temp": 1e6}})
    assert not {r.column: r for r in compare.columns(ref, cur, looser)}["temp"].drifted
    assert f"{PARAMS.drift.num_method} ≥ {PARAMS.drift.num_threshold}" in compare.thresholds(PARAMS.drift)


def test_params_diff_lists_changed_added_and_removed_keys() -> None:
    base = {"train": {"max_depth": 6, "seed": 13}, "gate": {"floors": {"roc_auc": 0.7}}}
    head = {"train": {"max_depth": 4, "seed": 13}, "report": {"psi_bins": 10}}
    got = {c.key: (c.base, c.head, c.status) for c in diffs.params_diff(base, head)}
    assert got == {
        "train.max_depth": (6, 4, "changed"),
        "report.psi_bins": (None, 10, "added"),
        "gate.floors.roc_auc": (0.7, None, "removed"),
    }


def test_partition_diff_reads_dvc_files() -> None:
    def dvc(md5: str) -> dict[str, object]:
        return {"outs": [{"md5": md5, "size": 10, "path": "x"}]}

    got = diffs.partition_diff(
        {"2013-01": dvc("a"), "2013-02": dvc("b")},
        {"2013-01": dvc("a"), "2013-02": dvc("c"), "2013-03": dvc("d")},
    )
    assert [(p.month, p.status) for p in got] == [
        ("2013-01", "unchanged"),
        ("2013-02", "changed"),
        ("2013-03", "added"),
    ]


def test_metric_rows_mark_better_and_worse() -> None:
    rows = {
        r.metric: r
        for r in diffs.metric_rows(
            {"roc_auc": 0.70, "log_loss": 0.50}, {"roc_auc": 0.72, "log_loss": 0.52}, None
        )
    }
    assert rows["roc_auc"].vs_base == "+0.0200 ↑ 🟢"
    assert rows["log_loss"].vs_base == "+0.0200 ↑ 🔴"
    assert rows["roc_auc"].vs_champion == "–"
