"""Adapter over fsspec (s3fs, the S3 stack DVC's `dvc-s3` uses): list and read files from a local
path or an `s3://bucket/prefix`. Credentials and endpoint come from the usual AWS variables
(`AWS_ACCESS_KEY_ID`, …, `AWS_ENDPOINT_URL` for an S3 server that is not AWS)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flightdelay.core import redact
from flightdelay.core.errors import DataError

SUFFIX = ".csv"


@dataclass(frozen=True)
class Entry:
    url: str  # local path or s3://bucket/key
    size: int


def _fs(url: str) -> tuple[Any, str]:
    import fsspec  # imported on use: only data imports need it

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as e:
        raise DataError(
            f"cannot open {url}: {e}",
            hint="use a local path or s3://bucket/prefix (needs s3fs, installed with dvc-s3)",
        ) from e
    return fs, path


def _url(fs: Any, path: str) -> str:
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return path if protocol in ("file", "local") else f"{protocol}://{path}"


def _fail(url: str, e: Exception) -> DataError:
    return DataError(
        redact.text(f"cannot read {url}: {type(e).__name__}: {e}"),
        hint="check the path, or for s3:// the AWS credentials and AWS_ENDPOINT_URL",
    )


def listing(url: str) -> list[Entry]:
    """Every file at or under `url` (a file lists itself), sorted by path."""
    fs, path = _fs(url)
    try:
        if fs.isfile(path):
            return [Entry(_url(fs, path), int(fs.size(path) or 0))]
        found = fs.find(path, detail=True)
    except (OSError, PermissionError) as e:
        raise _fail(url, e) from e
    if not found:
        raise DataError(f"nothing found at {url}", hint="check the path or the S3 prefix")
    return [Entry(_url(fs, p), int(info.get("size") or 0)) for p, info in sorted(found.items())]


def header(url: str) -> list[str]:
    """The column names on a CSV file's first line (reads only its first bytes)."""
    fs, path = _fs(url)
    try:
        with fs.open(path, "rb") as f:
            first = f.read(1 << 16).decode("utf-8-sig", errors="replace").split("\n", 1)[0]
    except (OSError, PermissionError) as e:
        raise _fail(url, e) from e
    rows = list(csv.reader(io.StringIO(first)))
    return [c for c in rows[0] if c.strip()] if rows else []


def read_csv(url: str) -> pd.DataFrame:
    fs, path = _fs(url)
    try:
        with fs.open(path, "rb") as f:
            return pd.read_csv(f, low_memory=False, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, PermissionError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise _fail(url, e) from e
