"""Each quality rule passes on a real month and fails on a fixture that breaks it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flightdelay.core.params import load_params
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month
from flightdelay.pipeline.validate import RULES, check, format_failures
from tests.helpers import REPO_ROOT

PARAMS = load_params(REPO_ROOT / "params.yaml")
MONTH = "2013-03"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    source.materialize(MONTH, raw)
    return raw


def _validate(raw: Path) -> dict[str, Any]:
    df, info = prepare_month(MONTH, raw, PARAMS.prepare)
    return check(df, {MONTH: info}, PARAMS.validate_)


def _failed(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {r["rule"]: r["violations"] for r in report["rules"] if not r["passed"]}


def _corrupt(pristine: Path, tmp: Path, table: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    raw = tmp / "raw"
    shutil.copytree(pristine, raw)
    path = raw / MONTH / f"{table}.csv"
    edit(pd.read_csv(path, low_memory=False)).to_csv(path, index=False)
    return raw


def test_a_real_month_passes_every_rule(pristine: Path) -> None:
    report = _validate(pristine)
    assert report["passed"], format_failures(report)
    assert {r["rule"] for r in report["rules"]} == set(RULES)


def _text_temps(w: pd.DataFrame) -> pd.DataFrame:
    w["temp"] = w["temp"].astype(object)
    w.loc[w.index[:50], "temp"] = "warm"
    return w


def _celsius(w: pd.DataFrame) -> pd.DataFrame:
    w["temp"] = (w["temp"] - 32) * 5 / 9
    return w


def _unknown_carrier(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[f.index[:100], "carrier"] = "ZZ"
    return f


def _duplicate_5pct(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([f, f.sample(frac=0.05, random_state=1)])


def _drop_wind(w: pd.DataFrame) -> pd.DataFrame:
    return w.drop(columns=["wind_speed"])


def _empty(f: pd.DataFrame) -> pd.DataFrame:
    return f.head(0)


def _future(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[f.index[:10], "year"] = 2031
    return f


def _leak(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(disrupted=(f["arr_delay"] >= 15).astype(int))


def _out_of_range(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[f.index[:5], "distance"] = 99999
    return f


def _no_delays(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(arr_delay=0, dep_time=1)


CASES = [
    ("weather", _text_temps, "types", "temp", "not numbers"),
    ("weather", _celsius, "temperature_units", "temp", "°C"),
    ("flights", _unknown_carrier, "categories", "carrier", "'ZZ'"),
    ("flights", _duplicate_5pct, "duplicates", None, "duplicated"),
    ("weather", _drop_wind, "schema", "wind_speed", "no column 'wind_speed'"),
    ("flights", _empty, "row_count", None, "the month is empty"),
    ("flights", _future, "dates", "year/month/day", "outside the partition month"),
    ("flights", _leak, "leakage", "disrupted", "leak the label"),
    ("flights", _out_of_range, "ranges", "distance", "outside [1"),
    ("flights", _no_delays, "label_rate", "disrupted", "implausible"),
]


@pytest.mark.parametrize(("table", "edit", "rule", "column", "says"), CASES, ids=[c[2] for c in CASES])
def test_each_rule_rejects_its_corruption(
    pristine: Path,
    tmp_path: Path,
    table: str,
    edit: Callable[[pd.DataFrame], pd.DataFrame],
    rule: str,
    column: str | None,
    says: str,
) -> None:
    report = _validate(_corrupt(pristine, tmp_path, table, edit))
    failed = _failed(report)
    assert not report["passed"]
    assert rule in failed, f"expected rule {rule} to fail; failed: {sorted(failed)}"
    v = failed[rule][0]
    assert v["month"] == MONTH and v["column"] == column and (v["count"] > 0 or rule == "row_count")
    assert says in v["message"]
    text = format_failures(report)
    assert f"rule {rule}" in text and f"month {MONTH}" in text


def test_null_budget(pristine: Path, tmp_path: Path) -> None:
    def blank_pressure(w: pd.DataFrame) -> pd.DataFrame:
        w.loc[w.index[: len(w) // 2], "pressure"] = None
        return w

    failed = _failed(_validate(_corrupt(pristine, tmp_path, "weather", blank_pressure)))
    assert any(v["column"] == "pressure" for v in failed["nulls"])


def test_an_empty_month_is_called_empty_not_a_row_count(pristine: Path, tmp_path: Path) -> None:
    """The violation counts the rows the month has (0), not the shortfall to the minimum."""
    report = _validate(_corrupt(pristine, tmp_path, "flights", _empty))
    [v] = _failed(report)["row_count"]
    assert v["count"] == 0
    assert "empty" in v["message"] and "data restore" in v["message"] and "data.window" in v["message"]
    text = format_failures(report)
    assert f"{PARAMS.validate_.min_rows_per_month} rows]" not in text, text
