"""Hostile data: a window whose partitions carry every kind of corruption at once is rejected by
`validate` with one readable message per problem, and nothing downstream moves."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import edit_params, flightdelay, repo_env, run

pytestmark = pytest.mark.slow

KEPT = (
    "models/model.json",
    "models/bundle/metadata.json",
    "reports/metrics.json",
    "reports/slices.json",
    "data/reference/reference.parquet",
)


def _digest(repo: Path) -> dict[str, str]:
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in KEPT}


def _edit(path: Path, fn: object) -> None:
    df = pd.read_csv(path, low_memory=False)
    fn(df)  # type: ignore[operator]
    df.to_csv(path, index=False)


def test_every_corruption_is_named_and_nothing_downstream_changes(pipeline_repo: Path) -> None:
    repo, env = pipeline_repo, repo_env(pipeline_repo)
    before = _digest(repo)
    cache_before = sorted(p.name for p in (repo / ".dvc/cache").rglob("*") if p.is_file())
    flightdelay(repo, "data", "add", "2013-03")
    edit_params(repo, {"data": {"window": {"start": "2013-01", "end": "2013-03"}}})
    jan, feb, mar = (repo / f"data/raw/2013-0{m}" for m in (1, 2, 3))

    def jan_flights(f: pd.DataFrame) -> None:
        f.loc[f.index[:200], "carrier"] = "Q9"  # unknown category
        f.loc[f.index[200:210], "year"] = 2031  # future dates
        f["is_delayed"] = 0  # a post-flight column: label leakage
        f.loc[f.index[:40], "distance"] = -5  # out of range

    _edit(jan / "flights.csv", jan_flights)
    flights = pd.read_csv(jan / "flights.csv", low_memory=False)
    pd.concat([flights, flights.sample(frac=0.05, random_state=3)]).to_csv(jan / "flights.csv", index=False)

    def feb_weather(w: pd.DataFrame) -> None:
        w["temp"] = ((w["temp"] - 32) * 5 / 9).round(2)  # °C
        w["dewp"] = w["dewp"].astype(object)
        w.loc[w.index[:30], "dewp"] = "humid"  # wrong type
        del w["humid"]  # missing column

    _edit(feb / "weather.csv", feb_weather)
    (mar / "flights.csv").write_text((mar / "flights.csv").read_text().splitlines()[0] + "\n")  # empty month

    proc = run(["dvc", "repro"], repo, env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for rule, where in [
        ("categories", "month 2013-01 column 'carrier'"),
        ("dates", "month 2013-01"),
        ("leakage", "column 'is_delayed'"),
        ("ranges", "column 'distance'"),
        ("duplicates", "month 2013-01"),
        ("temperature_units", "month 2013-02 column 'temp'"),
        ("types", "column 'dewp'"),
        ("schema", "column 'humid'"),
        ("row_count", "month 2013-03"),
    ]:
        assert any(f"rule {rule}" in line and where in line for line in out.splitlines()), (
            f"no readable line for rule {rule} ({where}) in:\n{out[-3000:]}"
        )
    assert _digest(repo) == before, "a failed validate changed the model, metrics or reference"
    cache_after = {p.name for p in (repo / ".dvc/cache").rglob("*") if p.is_file()}
    assert set(cache_before) <= cache_after, "the DVC cache lost objects"
    # The previous outputs are still checkout-able from the cache.
    run(["dvc", "checkout", "--quiet", "evaluate"], repo, env)
    db = sqlite3.connect(repo / "mlflow.db")
    assert db.execute("select count(*) from model_versions").fetchone() == (0,), "something was registered"
