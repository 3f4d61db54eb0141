"""Reading large logs in bounded memory: JSON lines in batches, parquet by record batches, and a
fixed-seed row sample taken in two streaming passes.

Whatever the log's size, a reader holds one batch (`batch_lines` lines or `batch_rows` rows) plus
what its caller keeps; `sample_indices` + `take` keep at most `max_rows` rows, and choose exactly
the rows `sources.cap` would choose from the whole table (same seed, same positions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import orjson

if TYPE_CHECKING:
    import pandas as pd

BATCH_LINES = 50_000
T = TypeVar("T")


@dataclass(frozen=True)
class LineBatch:
    """Consecutive non-blank lines of a JSON-lines file, decoded: a dict per line, or None where
    the line is not a JSON object; and each line's 1-based number in the file."""

    objects: list[dict[str, Any] | None]
    line_numbers: list[int]


def decode(line: bytes) -> dict[str, Any] | None:
    """One JSON line → its object, or None when it is not JSON or not an object."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def iter_json_batches(path: Path, batch_lines: int = BATCH_LINES) -> Iterator[LineBatch]:
    """The file's non-blank lines, `batch_lines` at a time, each decoded once."""
    objects: list[dict[str, Any] | None] = []
    numbers: list[int] = []
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            objects.append(decode(line))
            numbers.append(lineno)
            if len(objects) >= batch_lines:
                yield LineBatch(objects, numbers)
                objects, numbers = [], []
    if objects:
        yield LineBatch(objects, numbers)


def iter_parquet_batches(
    path: Path, columns: Sequence[str] | None = None, batch_rows: int = BATCH_LINES
) -> Iterator[pd.DataFrame]:
    """A parquet file or directory of files, as DataFrames of at most `batch_rows` rows (pyarrow
    reads one record batch of one row group at a time)."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    for batch in dataset.to_batches(columns=list(columns) if columns else None, batch_size=batch_rows):
        yield batch.to_pandas()


def sample_indices(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Sorted positions of a fixed-seed sample of at most `max_rows` of `n` rows (all when n is
    not larger): the positions `sources.cap` takes from a table of n rows."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def take(rows: Iterable[T], positions: np.ndarray) -> list[T]:
    """The items of a stream at the given sorted positions, holding only those."""
    wanted = iter(positions.tolist())
    nxt = next(wanted, None)
    out: list[T] = []
    for i, row in enumerate(rows):
        if nxt is None:
            break
        if i == nxt:
            out.append(row)
            nxt = next(wanted, None)
    return out


def stream(batches: Iterable[LineBatch], parse: Callable[[dict[str, Any] | None], T | None]) -> Iterator[T]:
    """The parsed rows of every batch, skipping what `parse` rejects (None)."""
    for batch in batches:
        for obj in batch.objects:
            row = parse(obj)
            if row is not None:
                yield row
