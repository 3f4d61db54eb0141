"""The bounded-memory log readers: batches of lines or parquet rows, and the two-pass sample that
keeps exactly the rows the sampling cap would keep from the whole log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightdelay.lifecycle.drift import logread, sources
from tests.lifecycle.drift.logs import write_prediction_log
from tests.lifecycle.drift.test_sources import frame

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _log(tmp_path: Path, n: int, malformed: int = 0) -> Path:
    varied = frame(n).assign(distance=np.arange(n) + 100, dest=[f"D{i % 7:02d}" for i in range(n)])
    return write_prediction_log(
        tmp_path / "p.jsonl", varied, np.linspace(0.01, 0.99, n), start=START, malformed=malformed
    )


def test_json_batches_hold_at_most_batch_lines_and_keep_line_numbers(tmp_path: Path) -> None:
    path = _log(tmp_path, 17, malformed=3)
    with path.open("a") as fh:
        fh.write("\n\n")
    batches = list(logread.iter_json_batches(path, batch_lines=7))
    assert [len(b.objects) for b in batches] == [7, 7, 6]
    assert [n for b in batches for n in b.line_numbers] == list(range(1, 21))
    assert batches[-1].objects[-3:] == [None, {"score": "high"}, None]  # not JSON / not an object


def test_parquet_batches_stream_the_row_groups(tmp_path: Path) -> None:
    table = pd.DataFrame({"a": np.arange(95), "b": [f"x{i}" for i in range(95)]})
    table.to_parquet(tmp_path / "t.parquet", row_group_size=20, index=False)
    batches = list(logread.iter_parquet_batches(tmp_path / "t.parquet", ["a"], batch_rows=10))
    assert max(len(b) for b in batches) <= 10 and list(batches[0].columns) == ["a"]
    assert pd.concat(batches, ignore_index=True)["a"].tolist() == list(range(95))


@pytest.mark.parametrize(("max_rows", "since_s"), [(40, None), (40, 30), (500, None)])
def test_capped_read_keeps_the_rows_the_cap_keeps(tmp_path: Path, max_rows: int, since_s: int | None) -> None:
    path = _log(tmp_path, 300, malformed=3)
    since = START + dt.timedelta(seconds=since_s) if since_s is not None else None
    whole = sources.read_prediction_log(path, since=since)
    capped = sources.read_prediction_log(path, since=since, max_rows=max_rows, seed=13)
    expected = sources.cap(whole.frame, max_rows, 13)
    pd.testing.assert_frame_equal(capped.frame, expected)
    assert capped.rows == len(whole.frame) == 300 - (since_s or 0)
    assert (capped.rows_read, capped.malformed, capped.model_versions) == (
        whole.rows_read,
        whole.malformed,
        whole.model_versions,
    )
    assert (capped.sampled_from is not None) == (len(whole.frame) > max_rows)
    assert capped.description.startswith(whole.description)


def test_take_keeps_only_the_wanted_positions() -> None:
    assert logread.take(iter("abcdefg"), np.array([0, 3, 6])) == ["a", "d", "g"]
    assert logread.sample_indices(5, 10, 1).tolist() == [0, 1, 2, 3, 4]
    picked = logread.sample_indices(10_000, 50, 1)
    assert len(picked) == len(set(picked.tolist())) == 50 and (np.diff(picked) > 0).all()
