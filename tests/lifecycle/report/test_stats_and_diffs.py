"""Drift distances and PR diffs (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flightdelay.core.stats import column_drift, jensen_shannon, psi, wasserstein_normalized
from flightdelay.lifecycle.report import diffs

RNG = np.random.default_rng(13)


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    ref = RNG.normal(50, 10, 20_000)
    assert psi(ref, RNG.normal(50, 10, 5_000)) < 0.02
    assert psi(ref, RNG.normal(65, 10, 5_000)) > 0.5


def test_psi_does_not_grow_with_sample_size_when_nothing_changed() -> None:
    ref = RNG.normal(0, 1, 50_000)
    small, large = psi(ref, RNG.normal(0, 1, 2_000)), psi(ref, RNG.normal(0, 1, 200_000))
    assert small < 0.02
    assert large < 0.02


def test_wasserstein_is_in_units_of_the_reference_spread() -> None:
    ref = RNG.normal(0, 2, 20_000)
    assert wasserstein_normalized(ref, ref + 1.0) == pytest.approx(0.5, abs=0.02)


def test_jensen_shannon_is_zero_for_the_same_mix_and_one_for_disjoint_categories() -> None:
    assert jensen_shannon(["a", "b"] * 50, ["b", "a"] * 10) == pytest.approx(0.0, abs=1e-9)
    assert jensen_shannon(["a"] * 10, ["b"] * 10) == pytest.approx(1.0)


def test_column_drift_flags_the_shifted_columns_first() -> None:
    ref = pd.DataFrame(
        {
            "temp": RNG.normal(40, 8, 5000),
            "wind": RNG.normal(10, 3, 5000),
            "carrier": RNG.choice(["AA", "UA"], 5000),
        }
    )
    cur = pd.DataFrame(
        {
            "temp": RNG.normal(75, 8, 2000),
            "wind": RNG.normal(10, 3, 2000),
            "carrier": RNG.choice(["AA", "UA"], 2000),
        }
    )
    cur.loc[:99, "wind"] = np.nan
    rows = column_drift(
        ref,
        cur,
        numeric=["temp", "wind"],
        categorical=["carrier"],
        bins=10,
        psi_warn=0.2,
        wasserstein_warn=0.1,
        js_warn=0.1,
    )
    assert rows[0].column == "temp"
    assert rows[0].drifted
    by = {r.column: r for r in rows}
    assert not by["wind"].drifted
    assert by["wind"].missing_delta == pytest.approx(0.05)
    assert not by["carrier"].drifted


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
