"""`flightdelay report pr --base <ref>`: the pull-request report (markdown + PNG plots) built from
the repository alone: base from git and the DVC cache/remote, candidate from the workspace after
`dvc repro`, champion from the registry (or `--champion-bundle`) re-scored on the same holdout."""

from __future__ import annotations

import hashlib
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from flightdelay.adapters.gitio import git, is_dirty
from flightdelay.core import bundle, features
from flightdelay.core.metrics import calibration_points, pr_points, roc_points
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import LOWER_IS_BETTER, Params
from flightdelay.core.progress import say, step
from flightdelay.core.stats import ColumnDrift, column_drift
from flightdelay.lifecycle import gate
from flightdelay.lifecycle.report import baseline, diffs, markdown, plots
from flightdelay.pipeline.evaluate import load_model, score_frame

REPORT_FILE = "report.md"
DRIFT_NUMERIC = ("distance", "sched_dep_time", *features.WEATHER)
DRIFT_CATEGORICAL = ("carrier", "origin", "dest", "disrupted")


@dataclass(frozen=True)
class Scored:
    """One model scored on the candidate's holdout."""

    label: str
    score: np.ndarray
    booster: Any
    spec: features.FeatureSpec
    size_bytes: int


def single_row_latency_ms(booster: Any, spec: features.FeatureSpec, row: pd.DataFrame, repeats: int) -> float:
    """Median wall time of one `inplace_predict` on a float32 row (the serving fast path)."""
    x = features.encode_frame(spec, row).astype(np.float32)
    booster.set_param({"nthread": 1})
    for _ in range(20):  # warm-up: first calls allocate
        booster.inplace_predict(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        booster.inplace_predict(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _base_scored(base: baseline.BaseSide, holdout: pd.DataFrame) -> Scored | None:
    if base.model_bytes is None or base.spec_text is None:
        return None
    spec = features.FeatureSpec.from_json(base.spec_text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        path.write_bytes(base.model_bytes)
        model = FlightDelayModel(spec, load_classifier(str(path)))
    score = score_frame(model, holdout)
    return Scored("base model", score, model.classifier.get_booster(), spec, len(base.model_bytes))


def _backtests(ev: gate.Evidence) -> dict[str, dict[str, Any]]:
    """Base, candidate and (when the base is the champion) champion backtests, for the report."""
    out: dict[str, dict[str, Any]] = {}
    if ev.base_backtest and ev.base_backtest.get("per_month"):
        out["base"] = dict(ev.base_backtest)
    if ev.candidate_backtest and ev.candidate_backtest.get("per_month"):
        out["candidate"] = dict(ev.candidate_backtest)
    if ev.base_is_champion and "base" in out:
        out[f"champion {ev.champion_version} (= base)"] = out["base"]
    return out


def _frame(train: pd.DataFrame | None, holdout: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, str]]:
    parts = [f for f in (train, holdout) if f is not None]
    role = {str(m): "train" for m in (train["partition"].unique() if train is not None else [])}
    role |= {str(m): "holdout" for m in (holdout["partition"].unique() if holdout is not None else [])}
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), role


def _curve_images(
    out: Path,
    y: np.ndarray,
    scored: list[Scored],
    base: baseline.BaseSide,
    *,
    holdout_label: str,
    bins: int,
) -> dict[str, str]:
    roc: list[plots.Series] = []
    pr: list[plots.Series] = []
    cal: list[plots.Series] = []
    for s in scored:
        label = f"{s.label} ({holdout_label})"
        r = roc_points(y, s.score)
        roc.append((label, [p["fpr"] for p in r], [p["tpr"] for p in r]))
        q = pr_points(y, s.score)
        pr.append((label, [p["recall"] for p in q], [p["precision"] for p in q]))
        c = calibration_points(y, s.score, bins)
        cal.append((label, [p["predicted"] for p in c], [p["observed"] for p in c]))
    if not any(s.label.startswith("base") for s in scored) and base.curves.get("roc"):
        held = ", ".join((base.metrics or {}).get("holdout_months") or [])
        label = f"base (committed, {held})"
        roc.append((label, [p["fpr"] for p in base.curves["roc"]], [p["tpr"] for p in base.curves["roc"]]))
        pr.append(
            (
                label,
                [p["recall"] for p in base.curves["precision_recall"]],
                [p["precision"] for p in base.curves["precision_recall"]],
            )
        )
        cal.append(
            (
                label,
                [p["predicted"] for p in base.curves["calibration"]],
                [p["observed"] for p in base.curves["calibration"]],
            )
        )
    plots.curves(
        roc,
        out / "roc.png",
        title="ROC",
        xlabel="false positive rate",
        ylabel="true positive rate",
        diagonal=True,
    )
    plots.curves(pr, out / "pr.png", title="Precision-recall", xlabel="recall", ylabel="precision")
    plots.curves(
        cal,
        out / "calibration.png",
        title="Calibration",
        xlabel="mean predicted",
        ylabel="observed rate",
        diagonal=True,
    )
    return {"roc": "roc.png", "pr": "pr.png", "calibration": "calibration.png"}


def _drift_tables(
    p: Params, base: baseline.BaseSide, head_train: pd.DataFrame, head_all: pd.DataFrame
) -> list[markdown.DriftTable]:
    if base.train is None:
        return []
    r = p.report

    def drift(reference: pd.DataFrame, current: pd.DataFrame) -> list[ColumnDrift]:
        return column_drift(
            reference,
            current,
            numeric=DRIFT_NUMERIC,
            categorical=DRIFT_CATEGORICAL,
            bins=r.psi_bins,
            psi_warn=r.psi_warn,
            wasserstein_warn=r.wasserstein_warn,
            js_warn=r.js_warn,
        )

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
    notes: list[str] = []
    with step("report: base side (git, DVC cache)"):
        base = baseline.load(base_ref, p)
    notes += base.notes
    with (
        tempfile.TemporaryDirectory(prefix="flightdelay-report-") as tmp,
        step("report: gate (champion re-scored on the candidate's holdout)"),
    ):
        ev, champ, holdout = gate.gather(
            p,
            base=base_ref,
            champion_bundle=champion_bundle,
            use_registry=use_registry,
            workdir=Path(tmp),
        )
        verdict = gate.decide(ev, p.gate)
        inputs = gate.fingerprint(
            p, base=base_ref, champion_bundle=champion_bundle, use_registry=use_registry
        )
        gate.write_verdict(verdict, ev, out / gate.VERDICT_FILE, inputs)
        champ_booster, champ_md5 = None, None
        if champ is not None:
            cb = bundle.load(champ.bundle_dir)
            champ_md5 = cb.metadata.get("model_md5")
            champ_booster = Scored(
                f"champion {champ.version}",
                champ.score,
                cb.booster,
                cb.spec,
                (cb.path / bundle.MODEL_FILE).stat().st_size,
            )

    with step("report: scoring and plots"):
        y = holdout["disrupted"].to_numpy()
        model = load_model(p)
        cand = Scored(
            "candidate",
            score_frame(model, holdout),
            model.classifier.get_booster(),
            model.spec,
            Path(p.paths.model).stat().st_size,
        )
        base_model = _base_scored(base, holdout)
        scored = [s for s in (cand, champ_booster, base_model) if s is not None]
        same = (
            base_model is not None
            and champ is not None
            and base.model_bytes is not None
            and hashlib.md5(base.model_bytes, usedforsecurity=False).hexdigest() == champ_md5
        )
        if same and base_model is not None and champ is not None:
            scored.remove(base_model)  # same model: one line in the plots, one budget row
            notes.append(f"the base model is the champion ({champ.version})")
        holdout_label = ", ".join(ev.candidate.get("holdout_months") or [])
        images = _curve_images(
            out, y, scored, base, holdout_label=holdout_label, bins=p.evaluate.calibration_bins
        )
        cand_importance = json.loads((Path(p.paths.plots) / "importance.json").read_text())
        plots.importance(cand_importance, base.importance, out / "importance.png")
        images["importance"] = "importance.png"
        backtests = _backtests(ev)
        if backtests:
            plots.backtest(
                [
                    (k, [r["month"] for r in bt["per_month"]], [r["roc_auc"] for r in bt["per_month"]])
                    for k, bt in backtests.items()
                ],
                out / "backtest.png",
            )
            images["backtest"] = "backtest.png"

        base_rescored = None
        if base_model is not None:
            base_rescored, base_slices = gate.holdout_metrics(
                holdout,
                base_model.score,
                float((base.metrics or {}).get("threshold", 0.5)),
                p.evaluate.min_slice_rows,
            )
        g = p.gate
        if champ is not None:
            slice_ref, against = champ.slices, f"champion {champ.version}"
        elif base_model is not None:
            slice_ref, against = base_slices, "base model"
        else:
            slice_ref, against = [], ""
        deltas = diffs.slice_deltas(list(ev.candidate_slices), slice_ref, g.slice_metric, g.min_slice_rows)
        if deltas:
            worst = deltas[: p.report.max_slice_bars]
            plots.slice_deltas(
                worst,
                out / "slices.png",
                metric=g.slice_metric,
                against=against,
                tolerance=g.slice_tolerance,
                higher_is_better=g.slice_metric not in LOWER_IS_BETTER,
            )
            images["slices"] = "slices.png"
        else:
            notes.append(
                "no slice comparison: there is neither a champion nor a base model to "
                "re-score on the candidate's holdout"
            )

    with step("report: data diff and drift"):
        fdir = Path(p.paths.features)
        head_train = pd.read_parquet(fdir / "train.parquet")
        head_all, head_role = _frame(head_train, holdout)
        base_all, base_role = _frame(base.train, base.holdout)
        head_params = yaml.safe_load(Path("params.yaml").read_text()) or {}
        months = diffs.month_rows(
            diffs.month_summary(base_all, base_role) if not base_all.empty else None,
            diffs.month_summary(head_all, head_role),
        )
        schema = (
            diffs.schema_diff(diffs.schema_of(base.train), diffs.schema_of(head_train))
            if base.train is not None
            else []
        )
        drift = _drift_tables(p, base, head_train, head_all)

    with step("report: serving budget"):
        row = holdout.iloc[[0]]
        budget = [
            markdown.Budget(
                s.label,
                s.size_bytes,
                single_row_latency_ms(s.booster, s.spec, row, p.report.latency_repeats),
                int(s.booster.num_boosted_rounds()),
            )
            for s in scored
        ]

    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    short = git("rev-parse", "--short", "HEAD")
    checkout = branch if branch != "HEAD" else short
    if is_dirty():
        notes.append("the workspace has uncommitted changes: the candidate is the workspace, not HEAD")
    r = p.report
    content = markdown.Content(
        head=f"{checkout} @ {short}" if checkout != short else short,
        checkout=checkout,
        base_ref=base_ref,
        base_sha=base.sha,
        verdict=verdict.to_dict(ev),
        holdout=holdout_label,
        base_holdout=", ".join((base.metrics or {}).get("holdout_months") or []),
        champion=champ.version if champ else "",
        metrics=diffs.metric_rows(
            base.metrics,
            ev.candidate,
            champ.metrics if champ else None,
            base_comparable=(base.metrics or {}).get("holdout_months") == ev.candidate.get("holdout_months"),
        ),
        base_rescored=base_rescored,
        params=diffs.params_diff(base.params or {}, head_params),
        partitions=diffs.partition_diff(base.partitions, baseline.head_partitions(p.paths.raw)),
        months=months,
        schema=schema,
        drift=drift,
        budget=budget,
        images=images,
        drift_thresholds=(
            f"PSI > {r.psi_warn} or Wasserstein/σ > {r.wasserstein_warn} (numeric), "
            f"Jensen–Shannon > {r.js_warn} (categorical)"
        ),
        notes=notes,
        backtests=backtests,
        tuning=json.loads(Path(p.paths.tune).read_text()) if Path(p.paths.tune).is_file() else None,
    )
    path = out / REPORT_FILE
    path.write_text(markdown.render(content))
    say(
        f"report: {path} ({len(images)} plots) in {time.perf_counter() - t0:.1f}s — "
        f"gate {'pass' if verdict.passed else 'FAIL'}"
    )
    return path
