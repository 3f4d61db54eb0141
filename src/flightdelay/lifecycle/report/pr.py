"""`flightdelay report pr --base <ref>`: the pull-request report (markdown + PNG plots) built from
the repository alone: base from git and the DVC cache/remote, candidate from the workspace after
`dvc repro`, champion from the registry (or `--champion-bundle`) re-scored on the same holdout.

Steps: base side (report/baseline.py) → gate (report/models.py) → models scored → plots
(report/figures.py) → data diff and drift → serving budget → markdown (report/markdown.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from flightdelay.adapters.gitio import git, is_dirty
from flightdelay.core.drift import ColumnDrift
from flightdelay.core.params import Params
from flightdelay.core.progress import say, step
from flightdelay.lifecycle import gate
from flightdelay.lifecycle.drift import compare
from flightdelay.lifecycle.report import baseline, diffs, figures, markdown, models

REPORT_FILE = "report.md"


def _frame(train: pd.DataFrame | None, holdout: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, str]]:
    parts = [f for f in (train, holdout) if f is not None]
    role = {str(scoring): "train" for scoring in (train["partition"].unique() if train is not None else [])}
    role |= {
        str(scoring): "holdout" for scoring in (holdout["partition"].unique() if holdout is not None else [])
    }
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), role


def _drift_tables(
    p: Params, base: baseline.BaseSide, head_train: pd.DataFrame, head_all: pd.DataFrame
) -> list[markdown.DriftTable]:
    if base.train is None:
        return []

    def drift(reference: pd.DataFrame, current: pd.DataFrame) -> list[ColumnDrift]:
        return compare.columns(reference, current, p.drift)

    tables = []
    base_months = set(base.partitions)
    new = sorted(set(head_all["partition"].astype(str)) - base_months)
    if new:
        cur = head_all[head_all["partition"].astype(str).isin(new)]
        tables.append(
            markdown.DriftTable(
                f"New data ({', '.join(new)}) vs the base's training data",
                len(base.train),
                len(cur),
                drift(base.train, cur),
            )
        )
    tables.append(
        markdown.DriftTable(
            "PR training data vs the base's training data",
            len(base.train),
            len(head_train),
            drift(base.train, head_train),
        )
    )
    return tables


@dataclass(frozen=True)
class DataDiff:
    """What changed in the data between the base and the PR."""

    months: list[Any]
    schema: list[Any]
    drift: list[markdown.DriftTable]
    head_params: dict[str, Any]


def data_diff(p: Params, base: baseline.BaseSide, holdout: pd.DataFrame) -> DataDiff:
    head_train = pd.read_parquet(Path(p.paths.features) / "train.parquet")
    head_all, head_role = _frame(head_train, holdout)
    base_all, base_role = _frame(base.train, base.holdout)
    months = diffs.month_rows(
        diffs.month_summary(base_all, base_role) if not base_all.empty else None,
        diffs.month_summary(head_all, head_role),
    )
    schema = (
        diffs.schema_diff(diffs.schema_of(base.train), diffs.schema_of(head_train))
        if base.train is not None
        else []
    )
    head_params = yaml.safe_load(Path("params.yaml").read_text()) or {}
    return DataDiff(months, schema, _drift_tables(p, base, head_train, head_all), head_params)


def content(
    p: Params,
    base_ref: str,
    base: baseline.BaseSide,
    gated: models.GateStep,
    drawn: figures.Figures,
    data: DataDiff,
    budget: list[markdown.Budget],
    notes: list[str],
) -> markdown.Content:
    evidence, champ = gated.evidence, gated.champion
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    short = git("rev-parse", "--short", "HEAD")
    checkout = branch if branch != "HEAD" else short
    if is_dirty():
        notes.append("the workspace has uncommitted changes: the candidate is the workspace, not HEAD")
    return markdown.Content(
        head=f"{checkout} @ {short}" if checkout != short else short,
        checkout=checkout,
        base_ref=base_ref,
        base_sha=base.sha,
        verdict=gated.verdict.to_dict(evidence),
        holdout=drawn.holdout_label,
        base_holdout=", ".join((base.metrics or {}).get("holdout_months") or []),
        champion=champ.version if champ else "",
        metrics=diffs.metric_rows(
            base.metrics,
            evidence.candidate,
            champ.metrics if champ else None,
            base_comparable=(base.metrics or {}).get("holdout_months")
            == evidence.candidate.get("holdout_months"),
        ),
        base_rescored=drawn.base_rescored,
        params=diffs.params_diff(base.params or {}, data.head_params),
        partitions=diffs.partition_diff(base.partitions, baseline.head_partitions(p.paths.raw)),
        months=data.months,
        schema=data.schema,
        drift=data.drift,
        budget=budget,
        images=drawn.images,
        drift_thresholds=compare.thresholds(p.drift),
        notes=notes,
        backtests=drawn.backtests,
        tuning=json.loads(Path(p.paths.tune).read_text()) if Path(p.paths.tune).is_file() else None,
    )


def build(
    p: Params,
    *,
    base_ref: str,
    out: Path,
    champion_bundle: str | None = None,
    use_registry: bool = True,
    check_stale: bool = True,
) -> Path:
    t0 = time.perf_counter()
    if check_stale:
        gate.check_up_to_date()
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.png"), out / REPORT_FILE]:
        old.unlink(missing_ok=True)
    with step("report: base side (git, DVC cache)"):
        base = baseline.load(base_ref, p)
    with step("report: gate (champion re-scored on the candidate's holdout)"):
        gated = models.run_gate(
            p, base_ref=base_ref, out=out, champion_bundle=champion_bundle, use_registry=use_registry
        )
    with step("report: scoring and plots"):
        scoring = models.score_models(p, gated, base)
        drawn = figures.draw(p, out, gated, scoring, base)
    with step("report: data diff and drift"):
        data = data_diff(p, base, gated.holdout)
    with step("report: serving budget"):
        budget = models.serving_budget(scoring.scored, gated.holdout, p.report.latency_repeats)
    notes = [*base.notes, *scoring.notes, *drawn.notes]
    path = out / REPORT_FILE
    path.write_text(markdown.render(content(p, base_ref, base, gated, drawn, data, budget, notes)))
    say(
        f"report: {path} ({len(drawn.images)} plots) in {time.perf_counter() - t0:.1f}s — "
        f"gate {'pass' if gated.verdict.passed else 'FAIL'}"
    )
    return path
