"""Drift checks on the real 2013 months (embedded source): true drift, no false alarm, units, guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flightdelay.core import drift as core
from flightdelay.core.params import Params, load_params
from flightdelay.lifecycle.drift import check, schema, sources
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month
from tests.helpers import REPO_ROOT
from tests.lifecycle.drift.summaries import live_quality

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
        df, _ = prepare_month(m, raw, p.prepare)
        out[m] = df.loc[~df["is_duplicate"]].reset_index(drop=True)
    return out


@pytest.fixture
def params(tmp_path: Path) -> Params:
    p = load_params(REPO_ROOT / "params.yaml")
    paths = p.paths.model_copy(
        update={"plots": str(tmp_path / "plots"), "metrics": str(tmp_path / "metrics.json")}
    )
    return p.model_copy(update={"paths": paths})


def run(p: Params, reference: pd.DataFrame, current: pd.DataFrame, out: Path) -> dict[str, Any]:
    current = current.drop(columns=["disrupted"])  # data drift only: no bundle scoring here
    cur = sources.Current(frame=current, source="file", description="test", rows_read=len(current))
    res = check.run_check(p, cur, out_dir=out, history=out / "history.json", reference=reference)
    return schema.dump(res.summary)  # as summary.json holds it


def drifted(summary: dict[str, Any]) -> set[str]:
    cols = summary["data_drift"]["columns"]
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
    assert set(s["drifted_features"]) == drifted(s)
    assert not drifted(s) & {"carrier", "origin", "sched_dep_time", "distance"}
    # The sampling cap: every July row counted, at most drift.max_rows compared.
    assert s["current"]["rows"] == len(months["2013-07"]) > params.drift.max_rows
    assert s["current"]["rows_used"] == params.drift.max_rows
    assert s["data_drift"]["share"] >= params.drift.share_threshold
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
    assert s["data_drift"]["share"] == 0.0
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
    assert s["data_drift"]["critical_columns"] == ["temp"]


@pytest.mark.parametrize("field", ["aircraft_leg", "precip_6h"])
def test_a_client_that_stops_sending_an_optional_field_is_flagged_on_it(
    months: dict[str, pd.DataFrame], params: Params, tmp_path: Path, field: str
) -> None:
    # The schedule fields and precip_6h are optional in a request: a client that drops one is
    # scored without it, which the check must name, not average away among the other columns.
    a, b = random_halves(months["2013-07"])
    s = run(params, a, b.assign(**{field: None}), tmp_path / "out")
    assert s["status"] == "drift"
    assert s["data_drift"]["critical_columns"] == [field]
    column = next(c for c in s["data_drift"]["columns"] if c["column"] == field)
    assert column["score"] is None  # nothing left to compare
    assert column["missing_increase"] == pytest.approx(1.0, abs=0.01)
    assert f"critical shift in {field}" in s["reasons"]


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


def live_summary(weeks: list[tuple[str, float]], params: Params) -> schema.LiveQuality:
    """A `monitor outcomes` summary whose weeks have the given (start day, label noise): noisy
    weeks score below the floor."""
    import numpy as np

    from flightdelay.lifecycle.drift import feedback

    rng = np.random.default_rng(3)
    frames = []
    for start, noise in weeks:
        s = rng.uniform(0, 1, 2000)
        y = np.where(rng.uniform(0, 1, 2000) < noise, rng.integers(0, 2, 2000), rng.uniform(0, 1, 2000) < s)
        frames.append(
            pd.DataFrame(
                {
                    "score": s,
                    "decision": s >= 0.35,
                    "disrupted": y.astype("int8"),
                    "flight_date": pd.Timestamp(start) + pd.to_timedelta(np.arange(2000) % 7, unit="D"),
                }
            )
        )
    store = pd.concat(frames, ignore_index=True)
    fl = schema.Floors(accuracy=0.6, roc_auc=0.72, calibration_error=0.1, min_joined_rows=500)
    return live_quality(floors=fl, **feedback.quality(store, params.drift.live, fl))


def test_a_quality_drop_with_stable_inputs_is_drift_and_says_which_signal_fired(
    months: dict[str, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    a, b = random_halves(months["2013-07"])
    live = live_summary([("2013-07-01", 0.0), ("2013-07-08", 0.9), ("2013-07-15", 0.9)], params)
    assert live.drops() == [False, True, True]
    cur = sources.Current(
        frame=b.drop(columns=["disrupted"]), source="file", description="t", rows_read=len(b)
    )
    out = tmp_path / "out"
    s = schema.dump(
        check.run_check(params, cur, out_dir=out, history=out / "h.json", reference=a, live=live).summary
    )
    assert s["data_drift"]["detected"] is False  # the inputs did not move
    assert (s["status"], s["exit_code"]) == ("drift", core.EXIT_DRIFT)
    assert s["trigger"]["signal"] == "quality drop" and s["trigger"]["retrain_recommended"]
    body = (out / "issue.md").read_text()
    assert "Signal: **quality drop**" in body
    assert "live ROC AUC 0." in body and "over 6,000 flights vs 0.75 at release" in body
    assert "| roc_auc | 0." in body and "[" in body  # figures with their intervals
    history = json.loads((out / "h.json").read_text())
    assert history["checks"][-1]["status"] == "no_drift"  # the input verdict, kept apart
