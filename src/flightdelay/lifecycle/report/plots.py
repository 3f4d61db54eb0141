"""PNG plots for the PR report (matplotlib, Agg backend; no display, no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flightdelay.lifecycle.report.diffs import SliceDelta

Series = tuple[str, Sequence[float], Sequence[float]]  # (label, x, y)
MonthSeries = tuple[str, Sequence[str], Sequence[float]]  # (label, months, y)
COLORS = {"candidate": "#1f77b4", "base": "#7f7f7f", "champion": "#d62728"}
DPI = 100


def _plt() -> Any:
    # Imported on first plot, so that the CLI starts fast and no backend is chosen at import time.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _color(label: str) -> str | None:
    return next((c for k, c in COLORS.items() if label.startswith(k)), None)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    _plt().close(fig)
    return path


def curves(
    series: Sequence[Series],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for label, x, y in series:
        ax.plot(x, y, label=label, color=_color(label), linewidth=1.6)
    if diagonal:
        ax.plot([0, 1], [0, 1], color="#bbbbbb", linestyle=":", linewidth=1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def importance(candidate: Sequence[Mapping[str, Any]], base: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Share of total gain per feature, candidate vs base (bars side by side)."""
    plt = _plt()

    def shares(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        total = sum(float(r["gain"]) for r in rows) or 1.0
        return {str(r["feature"]): float(r["gain"]) / total for r in rows}

    c, b = shares(candidate), shares(base)
    names = sorted(set(c) | set(b), key=lambda n: c.get(n, 0.0))
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(names) + 1.2))
    ys = range(len(names))
    h = 0.4 if b else 0.8
    ax.barh(
        [y + (h / 2 if b else 0) for y in ys],
        [c.get(n, 0.0) for n in names],
        height=h,
        label="candidate",
        color=COLORS["candidate"],
    )
    if b:
        ax.barh(
            [y - h / 2 for y in ys],
            [b.get(n, 0.0) for n in names],
            height=h,
            label="base",
            color=COLORS["base"],
        )
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.set(title="Feature importance (share of total gain)", xlabel="share of gain")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def slice_deltas(
    deltas: Sequence[SliceDelta],
    path: Path,
    *,
    metric: str,
    against: str,
    tolerance: float,
    higher_is_better: bool,
) -> Path:
    plt = _plt()
    names = [f"{d.slice}={d.value} ({d.rows:,})" for d in deltas]
    values = [d.delta for d in deltas]
    worse = [(v < -tolerance) if higher_is_better else (v > tolerance) for v in values]
    colors = [
        "#d62728" if w else "#2ca02c" if (v > 0) == higher_is_better else "#ff7f0e"
        for v, w in zip(values, worse, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(names) + 1.3))
    ax.barh(range(len(names)), values, color=colors)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    limit = -tolerance if higher_is_better else tolerance
    ax.axvline(limit, color="#d62728", linestyle="--", linewidth=1, label=f"tolerance {limit:+.3f}")
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set(title=f"Slice {metric}: candidate − {against}", xlabel=f"Δ {metric}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def backtest(series: Sequence[MonthSeries], path: Path) -> Path:
    """ROC AUC by month (x: month index, labelled by `months`), one line per model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    months = sorted({m for _, xs, _ in series for m in xs})
    for label, xs, ys in series:
        ax.plot(
            [months.index(m) for m in xs], ys, marker="o", label=label, color=_color(label), linewidth=1.6
        )
    ax.set_xticks(range(len(months)), [str(m) for m in months], rotation=30, fontsize=8)
    ax.set(title="Backtest: ROC AUC by month (rolling origin)", ylabel="ROC AUC")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)
