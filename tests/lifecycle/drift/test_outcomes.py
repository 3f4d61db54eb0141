"""`monitor outcomes`: the join of logged predictions with outcomes (idempotent, tolerant, counted)
and the live figures with their intervals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from flightdelay.cli import main
from flightdelay.core import bundle, features
from flightdelay.core.metrics import expected_calibration_error
from flightdelay.core.params import Params, load_params
from flightdelay.lifecycle.drift import feedback, live, schema
from tests.api.conftest import make_bundle
from tests.helpers import REPO_ROOT
from tests.lifecycle.drift.logs import write_prediction_log

T0 = dt.datetime(2013, 7, 1, 0, 0, tzinfo=dt.UTC)  # before every flight below: genuine forecasts


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(REPO_ROOT / "params.yaml")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = make_bundle(tmp_path_factory.mktemp("bundle") / "b", seed=3, n_trees=5)
    return path, bundle.load(path).version


def flights(n: int, seed: int = 0) -> pd.DataFrame:
    """n distinct July flights over three weeks, with outcomes that follow the score."""
    rng = np.random.default_rng(seed)
    day = 1 + np.arange(n) % 21
    df = pd.DataFrame(
        {
            "year": 2013,
            "month": 7,
            "day": day,
            "sched_dep_time": 600 + (np.arange(n) // 21) % 1200 // 60 * 100 + np.arange(n) % 60,
            "sched_arr_time": 1200,
            "carrier": rng.choice(["B6", "UA", "DL"], n),
            "origin": rng.choice(["JFK", "EWR", "LGA"], n),
            "dest": "BOS",
            "distance": 187.0,
            "flight": 1 + np.arange(n),
        }
    )
    for w in features.WEATHER:
        df[w] = np.nan
    score = rng.uniform(0, 1, n)
    df["score"] = score
    df["arr_delay"] = np.where(rng.uniform(0, 1, n) < score, 60.0, -5.0)
    return df


def run(
    params: Params, log: Path, outcomes: list[str], tmp: Path, model: Path, **kw: object
) -> dict[str, Any]:
    """`monitor outcomes` as a library call; its summary as live_quality.json holds it."""
    return schema.dump(
        feedback.run(
            params,
            log,
            outcomes,
            bundle_dirs=[model],
            out_dir=tmp / "out",
            store_path=tmp / "store.parquet",
            env={},
            **kw,  # type: ignore[arg-type]
        )
    )


def test_join_is_idempotent_and_joins_late_outcomes_later(
    params: Params, model: tuple[Path, str], tmp_path: Path
) -> None:
    df = flights(3000)
    log = write_prediction_log(
        tmp_path / "p.jsonl", df, df["score"].to_numpy(), model_version=model[1], start=T0
    )
    first, second = tmp_path / "week1.csv", tmp_path / "all.csv"
    df[df["day"] <= 7].to_csv(first, index=False)
    df.to_csv(second, index=False)

    a = run(params, log, [str(first)], tmp_path, model[0])
    joined_first = int((df["day"] <= 7).sum())
    assert a["join"]["counts"]["newly_joined"] == joined_first
    assert a["join"]["counts"]["awaiting_outcome"] == 3000 - joined_first

    b = run(params, log, [str(second)], tmp_path, model[0])  # the rest arrives; week 1 again
    assert b["join"]["counts"]["newly_joined"] == 3000 - joined_first
    assert b["join"]["counts"]["already_joined"] == joined_first
    c = run(params, log, [str(second)], tmp_path, model[0])  # nothing new: nothing added twice
    assert c["join"]["counts"]["newly_joined"] == 0
    assert c["join"]["store_rows"] == 3000 == pd.read_parquet(tmp_path / "store.parquet").shape[0]

    truth = (df["arr_delay"] >= 15).astype(int)
    assert c["overall"]["roc_auc"]["estimate"] == pytest.approx(
        skm.roc_auc_score(truth, df["score"]), abs=1e-6
    )
    assert [w["window"] for w in c["weeks"]] == ["2013-W27", "2013-W28", "2013-W29"]
    assert len(c["days"]) == 21 and sum(d["rows"] for d in c["days"]) == 3000
    assert c["newest_week"]["window"] == "2013-07-15..2013-07-21"
    assert c["newest_week"]["rows"] == int((df["day"] >= 15).sum())
    assert json.loads((tmp_path / "out" / feedback.LIVE_FILE).read_text())["join"]["store_rows"] == 3000
    prom = (tmp_path / "out" / feedback.PROM_FILE).read_text()
    assert 'flightdelay_live_roc_auc{window="week",bound="lower"}' in prom
    assert f'flightdelay_live_joined_rows{{window="week"}} {float(c["newest_week"]["rows"])!r}' in prom


def test_bad_input_is_counted_and_reported_never_fatal(
    params: Params, model: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = flights(400, seed=1)
    log = tmp_path / "p.jsonl"
    write_prediction_log(
        log, df.iloc[:300], df["score"].to_numpy()[:300], model_version=model[1], start=T0, malformed=2
    )
    # 50 predictions by a model nobody gave release figures for; 50 made after departure.
    write_prediction_log(
        log,
        df.iloc[300:350],
        df["score"].to_numpy()[300:350],
        model_version="9",
        start=T0,
        request_prefix="u",
        mode="a",
    )
    after = dt.datetime(2013, 8, 1, tzinfo=dt.UTC)
    write_prediction_log(
        log,
        df.iloc[350:],
        df["score"].to_numpy()[350:],
        model_version=model[1],
        start=after,
        request_prefix="l",
        mode="a",
    )
    no_number = df.drop(columns="flight").iloc[:5]
    write_prediction_log(
        log,
        no_number,
        df["score"].to_numpy()[:5],
        model_version=model[1],
        start=T0,
        request_prefix="n",
        mode="a",
    )
    good = tmp_path / "outcomes.csv"
    pd.concat([df, df.iloc[:10]]).to_csv(good, index=False)  # 10 flights twice
    broken = tmp_path / "broken.csv"
    df.drop(columns=["flight", "arr_delay"]).to_csv(broken, index=False)
    extra = tmp_path / "extra.csv"
    flights(30, seed=2).assign(flight=lambda d: d["flight"] + 5000).to_csv(extra, index=False)

    out = run(params, log, [str(good), str(broken), str(extra)], tmp_path, model[0])
    c = out["join"]["counts"]
    assert c["malformed_lines"] == 2
    assert c["unknown_version_predictions"] == 50
    assert c["outcome_before_prediction"] == 50
    assert c["unkeyed_predictions"] == 5
    assert c["duplicate_outcomes"] == 10
    assert c["rejected_outcome_rows"] == 400
    assert c["outcomes_without_prediction"] == 30 + 50  # the extra flights; the unknown version's
    assert c["newly_joined"] == 300
    text = "\n".join(out["join"]["problems"])
    assert "missing column(s) ['flight', 'disrupted or arr_delay']" in text and str(broken) in text
    assert "model version(s) {'9': 50}" in text and "--bundle" in text
    assert "--replay" in text
    assert "monitor outcomes: warning:" in capsys.readouterr().err
    # With --replay the late predictions count (a replay of past flights).
    again = run(params, log, [str(good)], tmp_path, model[0], replay=True)
    assert again["join"]["counts"]["newly_joined"] == 50


def test_the_log_read_in_batches_joins_as_the_whole_log_would(
    params: Params, model: tuple[Path, str], tmp_path: Path
) -> None:
    """Repeated lines fall in other batches than their first occurrence: each counts once, the
    first one wins, exactly as a straightforward read of the whole log in one go."""
    df = flights(200, seed=4)
    log = tmp_path / "p.jsonl"
    scores = df["score"].to_numpy()
    write_prediction_log(log, df, scores, model_version=model[1], start=T0, malformed=3)
    write_prediction_log(log, df, scores / 2, model_version=model[1], start=T0, mode="a")  # same ids
    write_prediction_log(log, df.iloc[:120], scores[:120] / 3, model_version=model[1], start=T0, mode="a")
    outcome_file = tmp_path / "outcomes.csv"
    df.iloc[:150].to_csv(outcome_file, index=False)

    def joined(batch_lines: int) -> tuple[pd.DataFrame, dict[str, Any]]:
        d = tmp_path / str(batch_lines)
        out = feedback.run(
            params,
            log,
            [str(outcome_file)],
            bundle_dirs=[model[0]],
            out_dir=d,
            store_path=d / "store.parquet",
            env={},
            now=T0,
            batch_lines=batch_lines,
        )
        return pd.read_parquet(d / "store.parquet"), schema.dump(out.join)

    whole, whole_join = joined(10**9)
    # The straightforward reading: every line at once, the first of each (request_id, flight_key).
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"ts"')]
    first = pd.DataFrame(lines).drop_duplicates(["request_id", "flight_key"])
    expected = first[first["flight_key"].isin(whole["flight_key"].unique())]
    assert len(lines) == 200 + 200 + 120 and len(first) == 200
    assert len(whole) == len(expected) == 150
    assert whole["score"].tolist() == pytest.approx(expected["score"].tolist())
    assert whole_join["counts"]["duplicate_log_lines"] == 320
    assert whole_join["counts"]["awaiting_outcome"] == 50
    for batch_lines in (7, 64, 199):
        store, join = joined(batch_lines)
        pd.testing.assert_frame_equal(store, whole)
        assert join["counts"] == whole_join["counts"] and join["problems"] == whole_join["problems"]


def test_cli_answers_a_missing_month_or_bundle_with_what_to_do(
    model: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "p.jsonl"
    log.write_text("")
    params = tmp_path / "params.yaml"
    params.write_text((REPO_ROOT / "params.yaml").read_text().replace("raw: data/raw", f"raw: {tmp_path}"))
    args = ["--params", str(params), "monitor", "outcomes", "--log", str(log), "--outcomes", "2013-09"]
    assert main([*args, "--bundle", str(model[0])]) == 3  # a data error, named with what to do
    err = capsys.readouterr().err
    assert "the outcomes of 2013-09 are not in" in err and "flightdelay data add 2013-09" in err
    assert main([*args, "--bundle", str(tmp_path / "none")]) == 5  # no release figures: a model error
    assert str(tmp_path / "none") in capsys.readouterr().err


def test_intervals_match_the_reference_figures_and_narrow_with_rows() -> None:
    rng = np.random.default_rng(5)
    s = rng.uniform(0, 1, 4000).round(2)  # ties on purpose
    y = (rng.uniform(0, 1, 4000) < s).astype(float)
    f = live.window_figures(y, s, s >= 0.5, confidence=0.95, bins=10, replicates=200, seed=1)
    assert f["roc_auc"]["estimate"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-6)
    assert f["pr_auc"]["estimate"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-6)
    assert f["brier"]["estimate"] == pytest.approx(skm.brier_score_loss(y, s), abs=1e-6)
    assert f["accuracy"]["estimate"] == pytest.approx(((s >= 0.5) == y).mean(), abs=1e-6)
    assert f["recall"]["estimate"] == pytest.approx(skm.recall_score(y, s >= 0.5), abs=1e-6)
    # Held against the holdout's calibration error, so binned as it is: scores on a bin edge (0.3,
    # 0.7, … are common here) fall in the same bin on both sides.
    ece = expected_calibration_error(y, s, 10)
    assert f["calibration_error"]["estimate"] == pytest.approx(ece, abs=1e-9)
    for name in schema.LIVE_FIGURES:
        lo, est, hi = f[name]["lower"], f[name]["estimate"], f[name]["upper"]
        assert lo <= est <= hi or name == "calibration_error", name
    small = live.window_figures(
        y[:200], s[:200], s[:200] >= 0.5, confidence=0.95, bins=10, replicates=200, seed=1
    )
    for name in ("roc_auc", "accuracy", "brier", "pr_auc"):
        assert small[name]["upper"] - small[name]["lower"] > 2 * (f[name]["upper"] - f[name]["lower"]), name
    # Coverage: DeLong's interval holds the true AUC of this data-generating process most of the time.
    big = rng.uniform(0, 1, 400_000)
    ybig = (rng.uniform(0, 1, 400_000) < big).astype(float)
    true_auc = skm.roc_auc_score(ybig, big)
    covered = 0
    for k in range(40):
        r = np.random.default_rng(100 + k)
        ss = r.uniform(0, 1, 500)
        yy = (r.uniform(0, 1, 500) < ss).astype(float)
        ci = live.roc_auc_delong(yy, ss, 1.959964)
        covered += ci["lower"] <= true_auc <= ci["upper"]
    assert covered >= 34  # ~95 % of 40


def test_a_quality_drop_needs_the_bound_below_the_floor_and_enough_rows() -> None:
    floors = {"roc_auc": 0.72, "accuracy": 0.70}
    fig = {
        "rows": 800,
        "roc_auc": {"estimate": 0.69, "lower": 0.66, "upper": 0.715},
        "accuracy": {"upper": 0.8},
    }
    assert live.is_drop(fig, floors, "upper", 500) is True
    assert live.is_drop({**fig, "roc_auc": {"upper": 0.73}}, floors, "upper", 500) is False
    assert live.is_drop({**fig, "roc_auc": {"lower": 0.71}}, floors, "lower", 500) is True
    assert live.is_drop({**fig, "rows": 100}, floors, "upper", 500) is None


def test_every_figure_with_a_floor_is_shown_at_release(params: Params, tmp_path: Path) -> None:
    """The evaluate stage writes each figure live quality is held against (accuracy and
    calibration error have floors); `monitor outcomes` carries them from the bundle, and the issue
    table shows them "at release" beside the floor. A bundle made before them shows "–"."""
    committed = json.loads((REPO_ROOT / "reports" / "metrics.json").read_text())
    assert {"accuracy", "calibration_error"} <= set(feedback.RELEASE_KEYS) <= set(committed)
    figures = {k: committed[k] for k in feedback.RELEASE_KEYS}
    df = flights(600)
    df.to_csv(tmp_path / "outcomes.csv", index=False)
    tables = {}
    for name, metrics in (("new", figures), ("old", {"roc_auc": 0.7})):
        path = make_bundle(tmp_path / name / "bundle", seed=3, n_trees=5, metrics=metrics)
        version = bundle.load(path).version
        log = write_prediction_log(
            tmp_path / name / "p.jsonl", df, df["score"].to_numpy(), model_version=version, start=T0
        )
        out = run(params, log, [str(tmp_path / "outcomes.csv")], tmp_path / name, path)
        lines = feedback.render_markdown(schema.LiveQuality(**out))
        tables[name] = {r.split(" | ")[0].strip("| "): r for r in lines if r.startswith("| ")}
        if name == "new":
            assert {k: out["release"][k] for k in feedback.RELEASE_KEYS} == figures
    floor = params.drift.live
    assert tables["new"]["accuracy"].endswith(f"| {committed['accuracy']:.3f} | {floor.accuracy_floor:.3f} |")
    assert tables["new"]["calibration_error"].endswith(
        f"| {committed['calibration_error']:.3f} | {floor.max_calibration_error:.3f} |"
    )
    assert tables["old"]["accuracy"].endswith(f"| – | {floor.accuracy_floor:.3f} |")
