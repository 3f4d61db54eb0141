"""Render the PR report as GitHub-flavoured markdown (pure: data in, text out)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flightdelay.core.stats import ColumnDrift
from flightdelay.lifecycle.report.diffs import (
    MetricRow,
    MonthRow,
    ParamChange,
    PartitionChange,
    SchemaChange,
)

MARKER = "<!-- flightdelay-pr-report -->"  # lets tools find (and update) the one report comment


@dataclass(frozen=True)
class Budget:
    model: str
    size_bytes: int
    latency_ms: float
    trees: int


@dataclass(frozen=True)
class DriftTable:
    title: str
    reference_rows: int
    current_rows: int
    rows: list[ColumnDrift]


@dataclass
class Content:
    head: str  # branch and short SHA, for the title
    checkout: str  # what to `git checkout` to reproduce
    base_ref: str
    base_sha: str
    verdict: dict[str, Any]
    holdout: str
    base_holdout: str
    champion: str  # "" when there is none
    metrics: list[MetricRow]
    base_rescored: dict[str, Any] | None
    params: list[ParamChange]
    partitions: list[PartitionChange]
    months: list[MonthRow]
    schema: list[SchemaChange]
    drift: list[DriftTable]
    budget: list[Budget]
    images: dict[str, str]  # section key → relative PNG path
    drift_thresholds: str
    notes: list[str] = field(default_factory=list)
    # Backtests shown side by side: label ("base", "candidate", "champion …") → paths.backtest JSON
    backtests: dict[str, dict[str, Any]] = field(default_factory=dict)
    tuning: dict[str, Any] | None = None  # paths.tune, when the PR carries `flightdelay tune`'s evidence


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def f4(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{float(v):.4f}"


def _val(v: Any) -> str:
    return "–" if v is None else f"`{v}`"


def pct(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def _img(c: Content, key: str, alt: str) -> str:
    return f"![{alt}]({c.images[key]})" if key in c.images else f"_{alt}: not available_"


def _verdict(c: Content) -> list[str]:
    v = c.verdict
    head = "✅ **Gate: pass**" if v.get("passed") else "❌ **Gate: FAIL**"
    out = [f"{head} — {v.get('reason', '')}", ""]
    for w in v.get("warnings") or []:  # e.g. no champion compared: reviewers must not miss it
        out += [f"> [!WARNING]\n> ⚠️ **{w[0].upper()}{w[1:]}**", ""]
    promo = v.get("promotion") or {}
    if promo.get("decision"):
        out += [f"**Promotion** (policy `{promo.get('policy')}`): {promo['decision']}", ""]
        if promo.get("paired"):
            out += [f"_{promo.get('test_in_words')}_", ""]
    checks = v.get("checks") or []
    if checks:
        out += [
            "<details><summary>Gate checks</summary>",
            "",
            table(
                ["check", "metric", "candidate", "reference", "limit", "result"],
                [
                    [
                        ch["against"],
                        ch["metric"],
                        f4(ch["candidate"]),
                        f4(ch["reference"]),
                        f4(ch["limit"]),
                        "pass" if ch["passed"] else "**FAIL**",
                    ]
                    for ch in checks
                ],
            ),
            "",
            "</details>",
            "",
        ]
    out += [f"- {n}" for n in v.get("notes") or []]
    return out


def _metrics(c: Content) -> list[str]:
    champ = f"champion {c.champion}" if c.champion else "champion (none yet)"
    headers = [
        "metric",
        f"base ({c.base_holdout or '–'})",
        f"candidate ({c.holdout})",
        "Δ vs base",
        f"{champ} ({c.holdout})",
        "Δ vs champion",
    ]
    rows: list[list[Any]] = [
        [m.metric, f4(m.base), f4(m.candidate), m.vs_base, f4(m.champion), m.vs_champion] for m in c.metrics
    ]
    if c.base_rescored is not None:
        headers.insert(4, f"base model ({c.holdout})")
        for r, m in zip(rows, c.metrics, strict=True):
            r.insert(4, f4(c.base_rescored.get(m.metric)))
    return [
        "## Metrics",
        "",
        f"Holdout: candidate and champion on **{c.holdout}** (like for like); the base as "
        f"committed on {c.base_holdout or '–'}. 🟢 better, 🔴 worse (no mark against a base "
        "measured on other months: that delta mixes the model change with the data change).",
        "",
        table(headers, rows),
        "",
    ]


def _backtest(c: Content) -> list[str]:
    if not c.backtests:
        return ["## Backtest", "", "_No backtest (paths.backtest) for this candidate._", ""]
    labels = list(c.backtests)
    months = sorted({r["month"] for bt in c.backtests.values() for r in bt.get("per_month", [])})
    by = {k: {r["month"]: r for r in bt.get("per_month", [])} for k, bt in c.backtests.items()}
    rows: list[list[Any]] = []
    for m in months:
        rows.append([m, *(f4(by[k][m]["roc_auc"]) if m in by[k] else "–" for k in labels)])
    for name, fn in (("mean", _mean), ("worst", _min)):
        rows.append([f"**{name}**", *(f4(fn([r["roc_auc"] for r in by[k].values()])) for k in labels)])
    rows.append(["mean ECE", *(f4(_mean([r.get("ece") for r in by[k].values()])) for k in labels)])
    return [
        "## Backtest",
        "",
        "ROC AUC by month, rolling origin: each month scored by a model trained on all months before "
        "it (`flightdelay backtest`). A champion column appears when the base is the champion.",
        "",
        table(["month", *labels], rows),
        "",
        _img(c, "backtest", "Backtest ROC AUC by month"),
        "",
    ]


def tuning(tune: dict[str, Any] | None) -> list[str]:
    """`flightdelay tune`'s evidence (paths.tune), when the pull request carries it."""
    if not tune or not tune.get("trials"):
        return []
    best = tune["best_params"]
    ranked = sorted(tune["trials"], key=lambda t: -float(t["value"]))[:5]
    return [
        "## Tuning",
        "",
        f"`flightdelay tune`: {len(tune['trials'])} TPE trials (seed {tune.get('seed')}), each scored by "
        f"rolling origin on {', '.join(tune.get('validation_months') or [])} (the holdout unseen). "
        f"Current params {f4(tune['baseline_value'])}, best trial {tune['best_trial']} "
        f"{f4(tune['best_value'])} ({float(tune['best_value']) - float(tune['baseline_value']):+.4f}).",
        "",
        table(
            ["trial", "ROC AUC", *best],
            [[t["trial"], f4(t["value"]), *(t["params"].get(k, "–") for k in best)] for t in ranked],
        ),
        "",
    ]


def _mean(vals: Sequence[Any]) -> float | None:
    got = [float(v) for v in vals if v is not None]
    return sum(got) / len(got) if got else None


def _min(vals: Sequence[Any]) -> float | None:
    got = [float(v) for v in vals if v is not None]
    return min(got) if got else None


def _plots(c: Content) -> list[str]:
    return [
        "## Plots",
        "",
        table(
            ["ROC", "Precision-recall"],
            [[_img(c, "roc", "ROC curves"), _img(c, "pr", "Precision-recall curves")]],
        ),
        "",
        table(
            ["Calibration", "Slices"],
            [[_img(c, "calibration", "Calibration"), _img(c, "slices", "Slice deltas")]],
        ),
        "",
        _img(c, "importance", "Feature importance"),
        "",
    ]


def _changes(c: Content) -> list[str]:
    out = ["## Params", ""]
    if c.params:
        out.append(
            table(
                ["key", "base", "PR", "change"],
                [[f"`{p.key}`", _val(p.base), _val(p.head), p.status] for p in c.params],
            )
        )
    else:
        out.append("params.yaml is unchanged.")
    changed = [p for p in c.partitions if p.status != "unchanged"]
    out += [
        "",
        "## Data",
        "",
        f"{len(c.partitions)} partitions tracked; {len(changed)} added, removed or changed.",
        "",
    ]
    out.append(
        table(
            ["partition", "status", "md5 (base → PR)", "size (bytes)"],
            [
                [
                    p.month,
                    f"**{p.status}**" if p.status != "unchanged" else p.status,
                    f"`{p.base_md5[:8] or '–'}` → `{p.head_md5[:8] or '–'}`",
                    f"{p.head_size or p.base_size:,}",
                ]
                for p in c.partitions
            ],
        )
    )
    out += [
        "",
        "Rows and label rate (share of disrupted flights) per month in the training window:",
        "",
    ]
    out.append(
        table(
            [
                "month",
                "base rows",
                "base label rate",
                "PR rows",
                "PR label rate",
                "Δ rate",
                "role (base → PR)",
            ],
            [
                [
                    m.month,
                    f"{m.base_rows:,}" if m.base_rows is not None else "–",
                    pct(m.base_rate),
                    f"{m.head_rows:,}" if m.head_rows is not None else "–",
                    pct(m.head_rate),
                    f"{100 * (m.head_rate - m.base_rate):+.1f} pt"
                    if m.head_rate is not None and m.base_rate is not None
                    else "–",
                    f"{m.base_role or '–'} → {m.head_role or '–'}",
                ]
                for m in c.months
            ],
        )
    )
    out += ["", "Schema of the features: " + ("unchanged." if not c.schema else ""), ""]
    if c.schema:
        out += [
            table(
                ["column", "base", "PR", "change"],
                [[s.column, s.base, s.head, s.status] for s in c.schema],
            ),
            "",
        ]
    return out


def _drift(c: Content) -> list[str]:
    out = ["## Drift", "", f"Thresholds: {c.drift_thresholds}.", ""]
    if not c.drift:
        out += ["_Not available (see notes)._", ""]
    for d in c.drift:
        n = sum(r.drifted for r in d.rows)
        out += [
            f"**{d.title}** — {d.current_rows:,} rows vs {d.reference_rows:,}; "
            f"{n} of {len(d.rows)} columns drifted.",
            "",
        ]
        out.append(
            table(
                ["column", "distance", "Wasserstein/σ", "base → PR", "Δ missing", "drift"],
                [
                    [
                        r.column,
                        f"{'PSI' if r.method == 'psi' else 'JS'} {r.score:.3f}",
                        f"{r.wasserstein:.3f}" if r.kind == "numeric" else "–",
                        (
                            f"{r.reference_mean:.2f} → {r.current_mean:.2f}"
                            if r.kind == "numeric"
                            else f"top share {pct(r.reference_mean)} → {pct(r.current_mean)}"
                        ),
                        f"{100 * r.missing_delta:+.1f} pt",
                        "⚠️ yes" if r.drifted else "no",
                    ]
                    for r in d.rows
                ],
            )
        )
        out.append("")
    return out


def _budget(c: Content) -> list[str]:
    return [
        "## Serving budget",
        "",
        "Single-row `booster.inplace_predict` on float32 (median, one thread):",
        "",
        table(
            ["model", "trees", "size", "latency"],
            [
                [b.model, b.trees, f"{b.size_bytes / 1024:,.0f} KiB", f"{b.latency_ms:.3f} ms"]
                for b in c.budget
            ],
        ),
        "",
    ]


def render(c: Content) -> str:
    out = [MARKER, f"# Model report: `{c.head}` vs `{c.base_ref}` (`{c.base_sha[:10]}`)", ""]
    out += _verdict(c)
    out += [
        "",
        *_metrics(c),
        *_backtest(c),
        *tuning(c.tuning),
        *_plots(c),
        *_changes(c),
        *_drift(c),
        *_budget(c),
    ]
    out += [
        "## Reproduce locally",
        "",
        "```bash",
        f"git fetch origin && git checkout {c.checkout}",
        "make setup data",
        "dvc repro                      # rebuilds only what changed",
        "dvc exp show --no-pager        # params and metrics of this workspace and experiments",
        f"dvc params diff {c.base_ref} && dvc metrics diff {c.base_ref}",
        f"flightdelay gate --base {c.base_ref}",
        f"flightdelay report pr --base {c.base_ref}",
        "```",
        "",
    ]
    if c.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in c.notes] + [""]
    return "\n".join(out)
