"""What changed between the base and the PR: params, partitions, rows and label rate, schema,
metrics. Pure functions on dicts and DataFrames; the report renders their rows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flightdelay.core.params import LOWER_IS_BETTER

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall", "positive_rate")
# Metrics where a change is neither better nor worse (a property of the data).
NEUTRAL = frozenset({"positive_rate", "predicted_positive_rate", "rows"})


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class ParamChange:
    key: str
    base: Any
    head: Any
    status: str  # "changed" | "added" | "removed"


MISSING = object()


def params_diff(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[ParamChange]:
    b, h = flatten(base), flatten(head)
    out = []
    for key in sorted(set(b) | set(h)):
        bv, hv = b.get(key, MISSING), h.get(key, MISSING)
        if bv == hv:
            continue
        status = "added" if bv is MISSING else "removed" if hv is MISSING else "changed"
        out.append(ParamChange(key, None if bv is MISSING else bv, None if hv is MISSING else hv, status))
    return out


@dataclass(frozen=True)
class PartitionChange:
    month: str
    status: str  # "added" | "removed" | "changed" | "unchanged"
    base_md5: str
    head_md5: str
    base_size: int
    head_size: int


def _out(info: Mapping[str, Any]) -> Mapping[str, Any]:
    outs = info.get("outs") or [{}]
    return outs[0] if isinstance(outs[0], Mapping) else {}


def partition_diff(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> list[PartitionChange]:
    """Compare `.dvc` files (month → parsed YAML) at the base and in the workspace."""
    out = []
    for month in sorted(set(base) | set(head)):
        b, h = _out(base.get(month, {})), _out(head.get(month, {}))
        bmd5, hmd5 = str(b.get("md5", "")), str(h.get("md5", ""))
        if month not in base:
            status = "added"
        elif month not in head:
            status = "removed"
        else:
            status = "unchanged" if bmd5 == hmd5 else "changed"
        out.append(
            PartitionChange(month, status, bmd5, hmd5, int(b.get("size", 0) or 0), int(h.get("size", 0) or 0))
        )
    return out


def month_summary(frame: pd.DataFrame, role: Mapping[str, str]) -> pd.DataFrame:
    """Rows and label rate per partition; `role` maps partition → "train" / "holdout"."""
    if frame.empty:
        return pd.DataFrame(columns=["rows", "label_rate", "role"])
    g = frame.groupby("partition", observed=True)["disrupted"].agg(["size", "mean"])
    g.columns = ["rows", "label_rate"]
    g["role"] = [role.get(str(m), "") for m in g.index]
    return g


@dataclass(frozen=True)
class MonthRow:
    month: str
    base_rows: int | None
    base_rate: float | None
    base_role: str
    head_rows: int | None
    head_rate: float | None
    head_role: str


def month_rows(base: pd.DataFrame | None, head: pd.DataFrame) -> list[MonthRow]:
    base = base if base is not None else pd.DataFrame(columns=["rows", "label_rate", "role"])
    out = []
    for m in sorted(set(base.index.astype(str)) | set(head.index.astype(str))):
        b = base.loc[m] if m in base.index else None
        h = head.loc[m] if m in head.index else None
        out.append(
            MonthRow(
                m,
                int(b["rows"]) if b is not None else None,
                float(b["label_rate"]) if b is not None else None,
                str(b["role"]) if b is not None else "",
                int(h["rows"]) if h is not None else None,
                float(h["label_rate"]) if h is not None else None,
                str(h["role"]) if h is not None else "",
            )
        )
    return out


@dataclass(frozen=True)
class SchemaChange:
    column: str
    base: str
    head: str
    status: str  # "added" | "removed" | "type changed"


def schema_diff(base: Mapping[str, str], head: Mapping[str, str]) -> list[SchemaChange]:
    out = []
    for col in sorted(set(base) | set(head)):
        if col not in base:
            out.append(SchemaChange(col, "", head[col], "added"))
        elif col not in head:
            out.append(SchemaChange(col, base[col], "", "removed"))
        elif base[col] != head[col]:
            out.append(SchemaChange(col, base[col], head[col], "type changed"))
    return out


def schema_of(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(t) for c, t in frame.dtypes.items()}


def arrow(metric: str, delta: float, eps: float = 5e-5) -> str:
    """`↑`/`↓` for the direction, plus 🟢/🔴 when the change is better/worse (not for neutral
    metrics such as the positive rate)."""
    if math.isnan(delta) or abs(delta) < eps:
        return "→"
    direction = "↑" if delta > 0 else "↓"
    if metric in NEUTRAL:
        return direction
    better = (delta < 0) if metric in LOWER_IS_BETTER else (delta > 0)
    return f"{direction} {'🟢' if better else '🔴'}"


@dataclass(frozen=True)
class MetricRow:
    metric: str
    base: float
    candidate: float
    champion: float
    vs_base: str
    vs_champion: str


def _get(m: Mapping[str, Any] | None, key: str) -> float:
    v = (m or {}).get(key)
    return float(v) if isinstance(v, int | float) else float("nan")


def _delta(metric: str, c: float, r: float) -> str:
    if math.isnan(c) or math.isnan(r):
        return "–"
    return f"{c - r:+.4f} {arrow(metric, c - r)}"


def metric_rows(
    base: Mapping[str, Any] | None,
    candidate: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    *,
    base_comparable: bool = True,
) -> list[MetricRow]:
    """Base vs candidate vs champion; against a base measured on other months the delta is shown
    without a better/worse mark (it mixes the model change with the data change)."""
    out = []
    for metric in METRICS:
        b, c, ch = _get(base, metric), _get(candidate, metric), _get(champion, metric)
        vs_base = _delta(metric if base_comparable else "rows", c, b)
        out.append(MetricRow(metric, b, c, ch, vs_base, _delta(metric, c, ch)))
    return out


@dataclass(frozen=True)
class SliceDelta:
    slice: str
    value: str
    rows: int
    candidate: float
    reference: float
    delta: float


def slice_deltas(
    candidate: Sequence[Mapping[str, Any]],
    reference: Sequence[Mapping[str, Any]],
    metric: str,
    min_rows: int,
) -> list[SliceDelta]:
    """Per-slice change of `metric`, worst first (for a loss, worse means higher)."""
    ref = {(str(s["slice"]), str(s["value"])): s for s in reference}
    out = []
    for s in candidate:
        key = (str(s["slice"]), str(s["value"]))
        if key not in ref or int(s.get("rows", 0)) < min_rows:
            continue
        c, r = _get(s, metric), _get(ref[key], metric)
        if not (math.isnan(c) or math.isnan(r)):
            out.append(SliceDelta(key[0], key[1], int(s["rows"]), c, r, c - r))
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    return sorted(out, key=lambda d: sign * d.delta)
