"""The base side of a PR, read from the repository alone: committed files via `git show`, and the
base's DVC outputs (model, feature spec, features) via the md5s in its dvc.lock.

A DVC output is taken from the local DVC cache when it is there (the base was reproduced or pulled
on this machine), else through DVC's API (which reads the configured remote). When neither has it,
the field stays None and a note says what the report could not show and how to get it.
"""

from __future__ import annotations

import configparser
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from flightdelay.adapters import dvcio
from flightdelay.adapters.gitio import git
from flightdelay.core.errors import ToolError
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.lifecycle.gate import resolve_ref

DVC_DIR = Path(".dvc")


@dataclass
class BaseSide:
    ref: str
    sha: str
    params: dict[str, Any] | None = None
    partitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    slices: list[dict[str, Any]] = field(default_factory=list)
    importance: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    model_bytes: bytes | None = None
    spec_text: str | None = None
    train: pd.DataFrame | None = None
    holdout: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def show(ref: str, path: str) -> str | None:
    try:
        return git("show", f"{ref}:{path}")
    except ToolError:
        return None


def _json(ref: str, path: str) -> Any | None:
    text = show(ref, path)
    return None if text is None else json.loads(text)


def cache_dir() -> Path:
    """The DVC cache of this repository: `cache.dir` from .dvc/config(.local), else .dvc/cache."""
    found = DVC_DIR / "cache"
    for name in ("config", "config.local"):  # the local file overrides the committed one
        cfg = configparser.ConfigParser(interpolation=None)
        cfg.read(DVC_DIR / name)
        if cfg.has_option("cache", "dir"):
            found = DVC_DIR / cfg.get("cache", "dir").strip()
    return found / "files" / "md5"


def _cached(md5: str) -> Path:
    return cache_dir() / md5[:2] / md5[2:]


def _from_cache(lock: dict[str, str], path: str) -> bytes | None:
    """Bytes of `path` (a file output, or a file inside a directory output) from the local cache."""
    if path in lock:
        f = _cached(lock[path])
        return f.read_bytes() if f.is_file() else None
    for out, md5 in lock.items():
        if path.startswith(out.rstrip("/") + "/") and md5.endswith(".dir"):
            manifest = _cached(md5)
            if not manifest.is_file():
                return None
            rel = path[len(out.rstrip("/")) + 1 :]
            for entry in json.loads(manifest.read_text()):
                if entry.get("relpath") == rel:
                    f = _cached(str(entry["md5"]))
                    return f.read_bytes() if f.is_file() else None
    return None


def _from_dvc_api(ref: str, path: str) -> bytes | None:
    """Through DVC's API: cache, then the configured remote. None when the remote lacks it too."""
    # DVC's Python API is slow to import: only when the cache missed.
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        data = dvc.api.read(path, repo=".", rev=ref, mode="rb")
    except (DvcException, FileNotFoundError, OSError):
        return None
    except Exception as e:
        # The remote's client libraries raise their own types (botocore's NoCredentialsError in a
        # PR job without cloud credentials, say): the base model is then not available here.
        say(f"report: the DVC remote cannot serve {path} at {ref} ({type(e).__name__}: {e})")
        return None
    return bytes(data)


def dvc_output(ref: str, lock: dict[str, str], path: str, remote: dict[str, bool]) -> bytes | None:
    """From the cache, else the remote, unless the remote already failed (`remote["ok"]`)."""
    data = _from_cache(lock, path)
    if data is None and lock and remote.get("ok", True):
        say(f"report: {path} at {ref} is not in the local DVC cache; asking the DVC remote …")
        data = _from_dvc_api(ref, path)
        remote["ok"] = data is not None
    return data


def base_partitions(ref: str, raw: str) -> dict[str, dict[str, Any]]:
    try:
        names = git("ls-tree", "--name-only", f"{ref}:{raw}").splitlines()
    except ToolError:
        return {}
    out = {}
    for name in names:
        if name.endswith(".dvc"):
            out[name[:-4]] = yaml.safe_load(show(ref, f"{raw}/{name}") or "") or {}
    return out


def head_partitions(raw: str) -> dict[str, dict[str, Any]]:
    return {f.stem: yaml.safe_load(f.read_text()) or {} for f in sorted(Path(raw).glob("*.dvc"))}


def load(ref: str, p: Params, params_file: str = "params.yaml") -> BaseSide:
    """Everything the report shows about the base; missing pieces become notes."""
    sha = resolve_ref(ref)
    base = BaseSide(ref=ref, sha=sha)
    params_text = show(ref, params_file)
    base.params = yaml.safe_load(params_text) if params_text else None
    base.partitions = base_partitions(ref, p.paths.raw)
    base.metrics = _json(ref, p.paths.metrics)
    base.slices = _json(ref, p.paths.slices) or []
    base.importance = _json(ref, f"{p.paths.plots}/importance.json") or []
    for name in ("roc", "precision_recall", "calibration"):
        base.curves[name] = _json(ref, f"{p.paths.plots}/{name}.json") or []
    if base.metrics is None:
        base.notes.append(f"{ref} has no committed {p.paths.metrics}: the base columns are empty")

    lock = dvcio.parse_lock_outs(show(ref, "dvc.lock"))
    remote: dict[str, bool] = {}
    base.model_bytes = dvc_output(ref, lock, p.paths.model, remote)
    spec = dvc_output(ref, lock, p.paths.feature_spec, remote)
    base.spec_text = spec.decode() if spec is not None else None
    for split in ("train", "holdout"):
        data = dvc_output(ref, lock, f"{p.paths.features}/{split}.parquet", remote)
        if data is not None:
            setattr(base, split, pd.read_parquet(io.BytesIO(data)))
    if base.model_bytes is None or base.spec_text is None:
        base.notes.append(
            f"the base model ({p.paths.model} at {ref}) is in neither the DVC cache nor the "
            "remote: "
            "base curves are its committed ones on its own holdout, and it is not re-scored on the "
            f"candidate's holdout (to fix: `git checkout {ref} && dvc repro && dvc push`)"
        )
    if base.train is None:
        base.notes.append(
            f"the base's training features are unavailable: no drift summary against "
            f"the base (to fix: `dvc push` from {ref}, or reproduce it locally)"
        )
    return base
