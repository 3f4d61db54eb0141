"""Content hashes that match DVC's (md5 of a file's bytes) and the raw partitions' recorded hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flightdelay.adapters import dvcio


def file_md5(path: str | Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def partition_hashes(raw: str | Path, months: list[str]) -> dict[str, str]:
    """month → md5 recorded in data/raw/<month>.dvc (the DVC identity of the raw data)."""
    out = {}
    for m in months:
        f = Path(raw) / f"{m}.dvc"
        out[m] = (dvcio.out_md5(f) or "untracked") if f.exists() else "untracked"
    return out


def data_fingerprint(hashes: dict[str, str]) -> str:
    """One short hash for a training window's data (order-independent)."""
    joined = "\n".join(f"{k}:{v}" for k, v in sorted(hashes.items()))
    return hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()
