"""Drift checks on the real 2013 months (embedded source): true drift, no false alarm, units, guard."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flightdelay import source
from flightdelay.drift import check, core, sources
from flightdelay.params import Params, load_params
from flightdelay.prepare import prepare_month
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.slow

WEATHER_SHIFTS = {"temp", "dewp", "humid", "pressure"}


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """January–July 2013, prepared exactly as the pipeline prepares them."""
    raw = tmp_path_factory.mktemp("raw")
    p = load_params(REPO_ROOT / "params.yaml")
    out = {}
    for m in [f"2013-{i:02d}" for i in range(1, 8)]:
        source.materialize(m, raw)
        df, _ = prepare_month(m, raw, p)
        out[m] = df.loc[~df["is_duplicate"]].reset_index(drop=True)
    return out


@pytest.fixture
def params(tmp_path: Path) -> Params:
    p = load_params(REPO_ROOT / "params.yaml")
    paths = p.paths.model_copy(
        update={"plots": str(tmp_path / "plots"), "metrics": str(tmp_path / "metrics.json")}
    )
    return p.model_copy(update={"paths": paths})


def run(p: Params, reference: pd.DataFrame, current: pd.DataFrame, out: Path) -> dict[str, object]:
    current = current.drop(columns=["disrupted"])  # data drift only: no bundle scoring here
    cur = sources.Current(frame=current, source="file", description="test", rows_read=len(current))
    res = check.run_check(p, cur, out_dir=out, history=out / "history.json", reference=reference)
    return res.summary


def drifted(summary: dict[str, object]) -> set[str]:
    cols = summary["data_drift"]["columns"]  # type: ignore[index]
    return {c["column"] for c in cols if c["drifted"]}


def random_halves(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    n = len(shuffled) // 2
    return shuffled.iloc[:n], shuffled.iloc[n:]


def test_july_against_january_june_drifts_in_the_weather(
    months: dict[str, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    reference = pd.concat([months[f"2013-0{i}"] for i in range(1, 7)]).sample(20000, random_state=13)
    s = run(params, reference, months["2013-07"], tmp_path / "out")
    assert (s["status"], s["exit_code"]) == ("drift", core.EXIT_DRIFT)
    assert drifted(s) >= WEATHER_SHIFTS
    assert set(s["drifted_features"]) == drifted(s)  # type: ignore[arg-type]
    assert not drifted(s) & {"carrier", "origin", "sched_dep_time", "distance"}
    # The sampling cap: every July row counted, at most drift.max_rows compared.
    assert s["current"]["rows"] == len(months["2013-07"]) > params.drift.max_rows  # type: ignore[index]
    assert s["current"]["rows_used"] == params.drift.max_rows  # type: ignore[index]
    assert s["data_drift"]["share"] >= params.drift.share_threshold  # type: ignore[index]
    out = tmp_path / "out"
    assert (out / "report.html").stat().st_size > 10_000
    assert "flightdelay_drift_detected 1.0" in (out / "metrics.prom").read_text()
    assert "Drift detected" in (out / "issue.md").read_text()


def test_two_random_halves_of_a_month_do_not_drift(
    months: dict[str, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    # Random (exchangeable) halves. Calendar halves are not a null case: the first and second
    # half of July 2013 had different weather, and the check rightly sees it.
    a, b = random_halves(months["2013-07"])
    s = run(params, a, b, tmp_path / "out")
    assert (s["status"], s["exit_code"]) == ("no_drift", core.EXIT_NO_DRIFT)
    assert drifted(s) == set()
    assert s["data_drift"]["share"] == 0.0  # type: ignore[index]
    # At the guard's size, where distances are noisiest, still no false alarm.
    n = params.drift.min_rows
    small = run(params, a.iloc[:n], b.iloc[:n], tmp_path / "small")
    assert small["status"] == "no_drift"
    assert drifted(small) == set()


def test_temperatures_in_celsius_are_flagged_on_temperature(
    months: dict[str, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    a, b = random_halves(months["2013-07"])
    b = b.assign(temp=(pd.to_numeric(b["temp"]) - 32) * 5 / 9)
    s = run(params, a, b, tmp_path / "out")
    assert s["status"] == "drift"
    assert drifted(s) == {"temp"}
    assert s["data_drift"]["critical_columns"] == ["temp"]  # type: ignore[index]


def test_fewer_rows_than_the_guard_is_not_enough_data(
    months: dict[str, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    small = months["2013-07"].head(params.drift.min_rows - 1)
    s = run(params, months["2013-06"], small, tmp_path / "out")
    assert (s["status"], s["exit_code"]) == ("not_enough_data", core.EXIT_NOT_ENOUGH_DATA)
    assert s["drift_detected"] is False
    prom = (tmp_path / "out" / "metrics.prom").read_text()
    assert "flightdelay_drift_share NaN" in prom
    assert "flightdelay_drift_detected 0.0" in prom
    assert not (tmp_path / "out" / "report.html").exists()
    assert "Not enough data" in (tmp_path / "out" / "issue.md").read_text()
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert history["checks"][-1]["status"] == "not_enough_data"
