"""Render the PR report as GitHub-flavoured markdown (pure: data in, text out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flightdelay.core.drift import ColumnDrift
from flightdelay.lifecycle.report import data_sections
from flightdelay.lifecycle.report.diffs import MetricRow, MonthRow, ParamChange, PartitionChange, SchemaChange
from flightdelay.lifecycle.report.mdtable import f4, table

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


def render(c: Content) -> str:
    out = [MARKER, f"# Model report: `{c.head}` vs `{c.base_ref}` (`{c.base_sha[:10]}`)", ""]
    out += _verdict(c)
    out += [
        "",
        *_metrics(c),
        *_backtest(c),
        *tuning(c.tuning),
        *_plots(c),
        *data_sections.params_section(c),
        *data_sections.partitions_section(c),
        *data_sections.months_section(c),
        *data_sections.schema_section(c),
        *data_sections.drift_section(c),
        *data_sections.budget_section(c),
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
