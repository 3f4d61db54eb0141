"""`flightdelay gate`: may the candidate from `dvc repro` ship?

The candidate (workspace metrics after `dvc repro`) is checked against
(a) absolute floors/ceilings in params.yaml `gate:`,
(b) the metrics committed on the base ref, when both were measured on the same holdout months, and
(c) the released champion re-scored on the candidate's holdout (like for like), overall and per
    slice (carrier, origin),
(d) the backtest (`flightdelay backtest`, paths.backtest): floors on its mean and worst month, and
    the base's backtest over the months both scored, and
(e) the promotion policy (`gate.promotion`): under `better` the candidate must be shown to beat the
    champion — DeLong's paired test on the holdout, or the backtest mean by a margin when the base
    is the champion — and must not be worse than it on that backtest.
The champion comes from `--champion-bundle` (a bundle directory or the champion.tar.gz release
asset: no secret needed) or from the registry alias; a registry that is configured but cannot be
read fails the gate (RegistryError), it never means "no champion".
`decide` is pure; `gather` does the I/O (git, registry, scoring). The verdict is printed as a table,
written as JSON, and a failing verdict raises GateFailed (exit code 6).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay import __version__
from flightdelay.adapters import dvcio, hashing, registry, tracking
from flightdelay.adapters.gitio import git
from flightdelay.core import bundle, bundle_archive
from flightdelay.core.errors import ConfigError, GateFailed, ModelError, RegistryError, ToolError
from flightdelay.core.metrics import classification_metrics, slice_metrics
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import LOWER_IS_BETTER, GateParams, Params
from flightdelay.core.progress import say
from flightdelay.lifecycle import promotion
from flightdelay.pipeline.evaluate import SLICES, load_model, score_frame

VERDICT_FILE = "gate.json"
SHOWN = ("roc_auc", "pr_auc", "log_loss", "brier", "f1")


# ---------------------------------------------------------------- pure core


@dataclass(frozen=True)
class Check:
    against: str  # "floor" | "ceiling" | "base" | "champion" | "slice"
    metric: str
    candidate: float
    reference: float
    limit: float  # the bound the candidate had to meet
    passed: bool
    detail: str


@dataclass(frozen=True)
class Evidence:
    """Everything the decision needs, already loaded."""

    candidate: Mapping[str, Any]
    candidate_slices: Sequence[Mapping[str, Any]]
    base: Mapping[str, Any] | None = None
    base_ref: str = ""
    base_slices: Sequence[Mapping[str, Any]] = ()
    champion: Mapping[str, Any] | None = None
    champion_version: str = ""
    champion_slices: Sequence[Mapping[str, Any]] = ()
    # Why there is no champion when that is not simply "none released yet" (shown as a warning).
    champion_warning: str = ""
    candidate_backtest: Mapping[str, Any] | None = None
    base_backtest: Mapping[str, Any] | None = None
    base_is_champion: bool = False  # the base's model file is the champion's: its backtest is the champion's
    candidate_is_champion: bool = False  # the very same model file: nothing to promote, nothing lost
    paired: Mapping[str, Any] | None = None  # promotion.PairedTest.to_dict(): candidate vs champion


@dataclass(frozen=True)
class Verdict:
    passed: bool
    checks: list[Check]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    promotion: dict[str, Any] = field(default_factory=dict)  # policy, test, p-value, decision in words

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def reason(self) -> str:
        if self.passed:
            return "the candidate meets every check"
        return "; ".join(c.detail for c in self.failures)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict as `to_dict` wrote it (its evidence aside)."""
        return cls(
            passed=bool(data["passed"]),
            checks=[Check(**c) for c in data["checks"]],
            notes=list(data.get("notes") or []),
            warnings=list(data.get("warnings") or []),
            promotion=dict(data.get("promotion") or {}),
        )

    def to_dict(self, evidence: Evidence) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason(),
            "notes": self.notes,
            "warnings": self.warnings,
            "checks": [asdict(c) for c in self.checks],
            "promotion": self.promotion,
            "backtest": {
                "candidate": (evidence.candidate_backtest or {}).get("summary"),
                "base": (evidence.base_backtest or {}).get("summary"),
                "base_is_champion": evidence.base_is_champion,
            },
            "candidate": dict(evidence.candidate),
            "base": {"ref": evidence.base_ref, "metrics": dict(evidence.base or {}) or None},
            "champion": (
                {"version": evidence.champion_version, "metrics": dict(evidence.champion)}
                if evidence.champion is not None
                else None
            ),
        }


def _higher(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def _num(m: Mapping[str, Any], key: str) -> float:
    v = m.get(key)
    return float(v) if isinstance(v, int | float) else float("nan")


def bound_checks(candidate: Mapping[str, Any], g: GateParams) -> list[Check]:
    out = []
    for metric, floor in g.floors.items():
        v = _num(candidate, metric)
        ok = v >= floor
        out.append(
            Check(
                "floor",
                metric,
                v,
                floor,
                floor,
                ok,
                f"{metric} {v:.4f} {'≥' if ok else 'is below the floor'} {floor:.4f}",
            )
        )
    for metric, ceiling in g.ceilings.items():
        v = _num(candidate, metric)
        ok = v <= ceiling
        out.append(
            Check(
                "ceiling",
                metric,
                v,
                ceiling,
                ceiling,
                ok,
                f"{metric} {v:.4f} {'≤' if ok else 'is above the ceiling'} {ceiling:.4f}",
            )
        )
    return out


def relative_checks(
    candidate: Mapping[str, Any],
    reference: Mapping[str, Any],
    against: str,
    tolerance: Mapping[Any, float],
) -> list[Check]:
    """Candidate may be worse than the reference by at most `tolerance[metric]`."""
    out = []
    for metric, tol in tolerance.items():
        c, r = _num(candidate, metric), _num(reference, metric)
        if math.isnan(r):
            continue
        limit = r - tol if _higher(metric) else r + tol
        ok = c >= limit if _higher(metric) else c <= limit
        delta = c - r
        detail = (
            f"{metric} {c:.4f} vs {against} {r:.4f} ({delta:+.4f})"
            if ok
            else f"{metric} {c:.4f} is worse than the {against} {r:.4f} by {abs(delta):.4f} (tolerance {tol})"
        )
        out.append(Check(against, metric, c, r, limit, ok, detail))
    return out


def _slice_key(s: Mapping[str, Any]) -> tuple[str, str]:
    return str(s["slice"]), str(s["value"])


def slice_checks(
    candidate: Sequence[Mapping[str, Any]],
    reference: Sequence[Mapping[str, Any]],
    against: str,
    g: GateParams,
) -> list[Check]:
    """One check per slice big enough on both sides; regressions beyond the slice tolerance fail."""
    ref = {_slice_key(s): s for s in reference if int(s.get("rows", 0)) >= g.min_slice_rows}
    metric, tol = g.slice_metric, g.slice_tolerance
    out = []
    for s in candidate:
        key = _slice_key(s)
        if int(s.get("rows", 0)) < g.min_slice_rows or key not in ref:
            continue
        c, r = _num(s, metric), _num(ref[key], metric)
        if math.isnan(c) or math.isnan(r):
            continue
        limit = r - tol if _higher(metric) else r + tol
        ok = c >= limit if _higher(metric) else c <= limit
        name = f"{key[0]}={key[1]}"
        detail = (
            f"{name} {metric} {c:.4f} vs {against} {r:.4f}"
            if ok
            else f"slice {name}: {metric} {c:.4f} vs {against} {r:.4f} ({c - r:+.4f}, tolerance {tol})"
        )
        out.append(Check("slice", f"{name} {metric}", c, r, limit, ok, detail))
    return out


def backtest_checks(ev: Evidence, g: GateParams) -> tuple[list[Check], list[str]]:
    """Floors on the candidate's backtest; its regression against the base's on shared months."""
    cand, base = ev.candidate_backtest, ev.base_backtest
    if not cand or not cand.get("per_month"):
        return [], ["no backtest for the candidate (paths.backtest is missing): not gated on it"]
    months = [r["month"] for r in cand["per_month"]]
    checks, notes = [], []
    for name, floor in g.backtest_floors.items():
        v = _backtest_value(cand, months, name)
        ok = v >= floor
        word = "≥" if ok else "is below the floor"
        checks.append(
            Check("backtest", name, v, floor, floor, ok, f"backtest {name} {v:.4f} {word} {floor:.4f}")
        )
    shared = promotion.common_months(cand, base) if base else []
    if base is None:
        notes.append(f"base {ev.base_ref or '(none)'} has no committed backtest: no backtest comparison")
    elif not shared:
        notes.append("the base's backtest scored other months than the candidate's: not compared")
    else:
        span = _span(shared)
        for name, tol in g.backtest_tolerance.items():
            c, r = _backtest_value(cand, shared, name), _backtest_value(base, shared, name)
            ok = c >= r - tol
            detail = (
                f"backtest {name} {c:.4f} vs base {r:.4f} over {span} ({c - r:+.4f})"
                if ok
                else f"backtest {name} {c:.4f} is worse than the base's {r:.4f} over {span} by "
                f"{r - c:.4f} (tolerance {tol})"
            )
            checks.append(Check("base backtest", name, c, r, r - tol, ok, detail))
    return checks, notes


def _backtest_value(bt: Mapping[str, Any], months: Sequence[str], name: str) -> float:
    if name == "worst_roc_auc":
        return promotion.backtest_worst(bt, months)
    return promotion.backtest_mean(bt, months)


def _span(months: Sequence[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


def promotion_checks(ev: Evidence, g: GateParams) -> tuple[list[Check], dict[str, Any]]:
    """The promotion policy's checks, and its decision in words (for the verdict and the report)."""
    test = promotion.PairedTest(**ev.paired) if ev.paired else None
    info: dict[str, Any] = {
        "policy": g.promotion,
        "alpha": g.alpha,
        "test": test.test if test else promotion.TEST_NAME,
        "p_value": test.p_value if test else None,
        "paired": dict(ev.paired) if ev.paired else None,
        "test_in_words": promotion.in_words(test, g.alpha),
    }
    champ = f"champion {ev.champion_version}"
    if ev.champion is None:
        info["decision"] = "no champion to beat: the candidate is held to the floors and the base"
        return [], info
    if ev.candidate_is_champion:
        info["decision"] = f"the candidate is the {champ}'s own model file: nothing to promote, nothing lost"
        return [], info
    if g.promotion == "not_worse":
        info["decision"] = (
            f"policy not_worse: the candidate is held to the tolerances against the {champ} only "
            f"(whether it is better is reported, not required)"
        )
        return [], info
    holdout_better = test is not None and test.difference > 0 and test.p_value < g.alpha
    checks: list[Check] = []
    shared = (
        promotion.common_months(ev.candidate_backtest, ev.base_backtest)
        if ev.base_is_champion and ev.candidate_backtest and ev.base_backtest
        else []
    )
    bt_better = bt_worse = False
    bt_words = "the champion's backtest is not known (the base is not the champion)"
    if shared:
        c = promotion.backtest_mean(ev.candidate_backtest or {}, shared)
        r = promotion.backtest_mean(ev.base_backtest or {}, shared)
        bt_better, bt_worse = c - r >= g.backtest_margin, c < r
        bt_words = (
            f"backtest mean ROC AUC {c:.4f} vs the champion's {r:.4f} over {_span(shared)} "
            f"({c - r:+.4f}; margin {g.backtest_margin})"
        )
        detail = f"backtest mean_roc_auc {c:.4f} vs {champ} {r:.4f} over {_span(shared)} ({c - r:+.4f})"
        if bt_worse:
            detail = f"worse than the {champ} on the backtest: {detail}"
        checks.append(Check("champion backtest", "mean_roc_auc", c, r, r, not bt_worse, detail))
    p_words = (
        f"p = {test.p_value:.4g} {'<' if test.p_value < g.alpha else '≥'} α = {g.alpha}"
        if test
        else "no paired test"
    )
    if bt_worse:
        decision = (
            f"not promoted: worse than the {champ} on the backtest ({bt_words}), whatever the "
            f"holdout says ({p_words})"
        )
    elif holdout_better or bt_better:
        why = [f"DeLong on the holdout, {p_words}"] if holdout_better else []
        why += [bt_words] if bt_better else []
        decision = f"promoted: better than the {champ} — {'; '.join(why)}"
    else:
        decision = (
            f"not promoted: not shown to be better than the {champ} (policy better): DeLong on the "
            f"holdout, {p_words}; {bt_words}"
        )
    info["decision"] = decision
    passed = (holdout_better or bt_better) and not bt_worse
    cand_auc = test.candidate_auc if test else _num(ev.candidate, "roc_auc")
    champ_auc = test.champion_auc if test else _num(ev.champion, "roc_auc")
    checks.append(Check("promotion", "better (DeLong p)", cand_auc, champ_auc, g.alpha, passed, decision))
    return checks, info


def decide(ev: Evidence, g: GateParams) -> Verdict:
    checks = bound_checks(ev.candidate, g)
    notes: list[str] = []
    cand_holdout = list(ev.candidate.get("holdout_months") or [])
    slice_ref: tuple[Sequence[Mapping[str, Any]], str] | None = None
    if ev.base is None:
        notes.append(f"base {ev.base_ref or '(none)'} has no committed metrics: no base comparison")
    elif list(ev.base.get("holdout_months") or []) != cand_holdout:
        notes.append(
            f"base {ev.base_ref} was measured on {', '.join(ev.base.get('holdout_months') or [])}, "
            f"the candidate on {', '.join(cand_holdout)}: not comparable, so the base is shown but "
            "not gated on (the champion re-scored on the candidate's holdout is the like-for-like "
            "check)"
        )
    else:
        checks += relative_checks(ev.candidate, ev.base, "base", g.tolerance)
        slice_ref = (ev.base_slices, "base")
    warnings: list[str] = []
    if ev.champion is None and ev.champion_warning:
        warnings.append(ev.champion_warning)
    elif ev.champion is None:
        notes.append("no champion released yet: gating on floors and the base only")
    else:
        checks += relative_checks(ev.candidate, ev.champion, "champion", g.tolerance)
        slice_ref = (ev.champion_slices, "champion")
    slice_failures = 0
    if slice_ref is not None:
        sc = slice_checks(ev.candidate_slices, slice_ref[0], slice_ref[1], g)
        slice_failures = sum(not c.passed for c in sc)
        if slice_failures <= g.max_slice_regressions:  # allowed regressions do not fail the gate
            sc = [
                c if c.passed else Check(**{**asdict(c), "passed": True, "detail": c.detail + " (allowed)"})
                for c in sc
            ]
        checks += sc
    bt, bt_notes = backtest_checks(ev, g)
    promo, info = promotion_checks(ev, g)
    checks += bt + promo
    notes += [*bt_notes, f"promotion: {info['decision']}"]
    return Verdict(
        passed=all(c.passed for c in checks), checks=checks, notes=notes, warnings=warnings, promotion=info
    )


def format_table(verdict: Verdict) -> str:
    rows = [("check", "metric", "candidate", "reference", "limit", "result")]
    for c in verdict.checks:
        rows.append(
            (
                c.against,
                c.metric,
                f"{c.candidate:.4f}",
                f"{c.reference:.4f}",
                f"{c.limit:.4f}",
                "pass" if c.passed else "FAIL",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"note: {n}" for n in verdict.notes]
    lines += [f"WARNING: {w}" for w in verdict.warnings]
    lines.append(("PASS: " if verdict.passed else "FAIL: ") + verdict.reason())
    return "\n".join(lines)


# ---------------------------------------------------------------- I/O edges


@dataclass(frozen=True)
class Champion:
    version: str
    bundle_dir: Path
    metrics: dict[str, Any]
    slices: list[dict[str, Any]]
    score: np.ndarray
    model_md5: str = ""


def resolve_ref(ref: str) -> str:
    """The commit SHA of `ref`; a ref that is not there is a usage error with a fix."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ToolError as e:
        raise ConfigError(
            f"base ref {ref!r} is not a commit in this repository",
            hint="fetch it (`git fetch origin main`; CI needs fetch-depth: 0) or pass "
            "--base with an existing branch or SHA",
        ) from e


def git_json(ref: str, path: str) -> Any | None:
    """A JSON file as committed on `ref`, or None when the ref does not have it."""
    resolve_ref(ref)
    try:
        return json.loads(git("show", f"{ref}:{path}"))
    except ToolError:
        return None


def score_bundle(bundle_dir: Path, holdout: pd.DataFrame) -> tuple[str, float, np.ndarray]:
    """(version, threshold, scores) of a bundle on `holdout`, through the same scoring code."""
    b = bundle.load(bundle_dir)
    model = FlightDelayModel(b.spec, load_classifier(str(b.path / bundle.MODEL_FILE)))
    return b.version, b.threshold, score_frame(model, holdout)


def holdout_metrics(
    holdout: pd.DataFrame, score: np.ndarray, threshold: float, min_slice_rows: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    y = holdout["disrupted"].to_numpy()
    m: dict[str, Any] = {k: round(v, 6) for k, v in classification_metrics(y, score, threshold).items()}
    m["threshold"] = threshold
    m["holdout_months"] = sorted(holdout["partition"].unique().tolist())
    frame = holdout.assign(y=y, score=score)
    slices = [s for by in SLICES for s in slice_metrics(frame, by, threshold, min_slice_rows)]
    return m, slices


CHAMPION_BUNDLE_HINT = (
    "A pull-request check needs no registry: pass --champion-bundle with the champion.tar.gz "
    "asset of the latest model-vN release (or --no-champion to gate on the floors and base only)"
)
NO_CHAMPION_SOURCE = (
    "no champion compared: no --champion-bundle was given and MLFLOW_TRACKING_URI is not set "
    "(the local registry {uri} has no champion), so this candidate is gated on the floors and the "
    "base only; pass --champion-bundle with the champion.tar.gz asset of the latest model-vN release"
)


def champion_dir(source: str, workdir: Path) -> Path:
    """A bundle directory from `--champion-bundle`: the directory itself, or an archive extracted."""
    path = Path(source)
    if path.is_file():
        return bundle_archive.unpack(path, workdir / "champion-bundle")
    return path  # bundle.load says what is wrong with a directory that is not a bundle


def load_champion(
    p: Params, holdout: pd.DataFrame, *, bundle_dir: str | None, use_registry: bool, workdir: Path
) -> tuple[Champion | None, str]:
    """The champion re-scored on the candidate's holdout: `--champion-bundle` (directory or
    archive), else the registry alias `champion`, else None (first release). Second: a warning
    when there is no champion for another reason than "none released yet"."""
    registered: str | None = None
    configured = tracking.is_configured()  # before MLflow runs: set_tracking_uri exports the variable
    if bundle_dir is not None:
        path: Path | None = champion_dir(bundle_dir, workdir)
        say(f"gate: champion from {bundle_dir} (no registry read)")
    elif use_registry:
        say(f"gate: looking up the registry alias `champion` at {registry.redacted_uri()} …")
        try:
            path = registry.alias_bundle("champion", workdir / "champion")
            registered = registry.alias_version("champion") if path is not None else None
        except RegistryError as e:  # fail closed, and name the way that needs no registry
            raise RegistryError(
                f"the champion cannot be read, so the gate cannot compare with it: {e.message}",
                hint=f"{e.hint}. {CHAMPION_BUNDLE_HINT}" if e.hint else CHAMPION_BUNDLE_HINT,
            ) from e
    else:
        return None, ""  # --no-champion: asked for, so a note rather than a warning
    if path is None:
        return None, "" if configured else NO_CHAMPION_SOURCE.format(uri=tracking.tracking_uri())
    version, threshold, score = score_bundle(path, holdout)
    version = registered or version  # the registry's number, also for bundles logged before release
    metrics, slices = holdout_metrics(holdout, score, threshold, p.evaluate.min_slice_rows)
    say(
        f"gate: champion {version} re-scored on {', '.join(metrics['holdout_months'])}: "
        f"ROC AUC {metrics['roc_auc']:.4f}"
    )
    md5 = hashing.file_md5(path / bundle.MODEL_FILE)
    return Champion(version, path, metrics, slices, score, md5), ""


def candidate_outputs(p: Params) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame]:
    metrics_path, slices_path = Path(p.paths.metrics), Path(p.paths.slices)
    holdout_path = Path(p.paths.features) / "holdout.parquet"
    for f in (metrics_path, slices_path, holdout_path, Path(p.paths.model)):
        if not f.exists():
            raise ModelError(
                f"{f} is missing: there is no candidate to gate",
                hint="run `dvc repro` first (or `make repro`)",
            )
    return (
        json.loads(metrics_path.read_text()),
        json.loads(slices_path.read_text()),
        pd.read_parquet(holdout_path),
    )


def check_up_to_date() -> None:
    proc = dvcio.run("status", "--json", check=False)
    text = proc.stdout.strip()
    if proc.returncode == 0 and text not in ("", "{}"):
        stale = sorted(json.loads(text))
        raise ModelError(
            f"the pipeline outputs are stale ({', '.join(stale)} changed since the last "
            "run): the metrics would not describe this workspace",
            hint="run `dvc repro`, then gate again",
        )


def gather(
    p: Params, *, base: str, champion_bundle: str | None, use_registry: bool, workdir: Path
) -> tuple[Evidence, Champion | None, pd.DataFrame]:
    candidate, cand_slices, holdout = candidate_outputs(p)
    base_metrics = git_json(base, p.paths.metrics)
    base_slices = git_json(base, p.paths.slices) or []
    champ, warning = load_champion(
        p, holdout, bundle_dir=champion_bundle, use_registry=use_registry, workdir=workdir
    )
    backtest_path = Path(p.paths.backtest)
    cand_md5 = hashing.file_md5(Path(p.paths.model))
    base_md5 = dvcio.parse_lock_outs(_git_text(base, "dvc.lock")).get(p.paths.model)
    paired = None
    if champ is not None and cand_md5 != champ.model_md5:
        cand_score = score_frame(load_model(p), holdout)
        paired = promotion.delong(holdout["disrupted"].to_numpy(), cand_score, champ.score).to_dict()
    ev = Evidence(
        candidate=candidate,
        candidate_slices=cand_slices,
        base=base_metrics,
        base_ref=base,
        base_slices=base_slices,
        champion=champ.metrics if champ else None,
        champion_version=champ.version if champ else "",
        champion_slices=champ.slices if champ else (),
        champion_warning=warning,
        candidate_backtest=json.loads(backtest_path.read_text()) if backtest_path.is_file() else None,
        base_backtest=git_json(base, p.paths.backtest),
        base_is_champion=champ is not None and base_md5 == champ.model_md5,
        candidate_is_champion=champ is not None and cand_md5 == champ.model_md5,
        paired=paired,
    )
    return ev, champ, holdout


def _git_text(ref: str, path: str) -> str | None:
    try:
        return git("show", f"{ref}:{path}")
    except ToolError:
        return None


def write_verdict(verdict: Verdict, ev: Evidence, path: Path, inputs: str | None = None) -> Path:
    """The verdict JSON; `inputs` (see `fingerprint`) lets a later gate on the same inputs reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**verdict.to_dict(ev), "inputs": inputs}
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")
    return path


def fingerprint(p: Params, *, base: str, champion_bundle: str | None, use_registry: bool) -> str | None:
    """What a verdict is a function of: the candidate's outputs, the base commit, the champion
    bundle, the gate params and this code. None when the champion would come from the registry
    (its alias can move between two runs) or an input is missing: such a verdict is not reused."""
    if champion_bundle is None and use_registry:
        return None
    files = [Path(p.paths.metrics), Path(p.paths.slices), Path(p.paths.features) / "holdout.parquet"]
    files.append(Path(p.paths.model))  # the paired test scores it
    if champion_bundle is not None:
        source = Path(champion_bundle)
        files += sorted(f for f in source.rglob("*") if f.is_file()) if source.is_dir() else [source]
    digest = hashlib.sha256()
    try:
        for f in files:
            digest.update(f"{f}\0".encode() + hashlib.sha256(f.read_bytes()).digest())
    except OSError:
        return None
    backtest = Path(p.paths.backtest)  # optional: without it the gate notes that it has none
    digest.update(hashlib.sha256(backtest.read_bytes()).digest() if backtest.is_file() else b"no backtest")
    digest.update(resolve_ref(base).encode())
    digest.update(p.gate.model_dump_json().encode())
    digest.update(f"{p.evaluate.min_slice_rows}\0{__version__}\0".encode())
    digest.update(Path(__file__).read_bytes())  # the decision's own code (a local edit between runs)
    digest.update(Path(promotion.__file__).read_bytes())
    return digest.hexdigest()


def reusable(path: Path, inputs: str | None) -> Verdict | None:
    """The verdict at `path` when it was made from exactly these inputs (by `report pr`)."""
    if inputs is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return Verdict.from_dict(data) if data.get("inputs") == inputs else None
    except (ValueError, KeyError, TypeError):
        return None  # an older or foreign file: decide afresh


def run(
    p: Params,
    *,
    base: str,
    champion_bundle: str | None = None,
    use_registry: bool = True,
    out: str | None = None,
    check_stale: bool = True,
) -> Verdict:
    if check_stale:
        check_up_to_date()
    path = Path(out or Path(p.paths.pr_report) / VERDICT_FILE)
    inputs = fingerprint(p, base=base, champion_bundle=champion_bundle, use_registry=use_registry)
    verdict = reusable(path, inputs)
    if verdict is not None:
        say(f"gate: {path} was decided on these very inputs (by `report pr`): reused, nothing re-scored")
    else:
        with tempfile.TemporaryDirectory(prefix="flightdelay-gate-") as tmp:
            ev, _, _ = gather(
                p,
                base=base,
                champion_bundle=champion_bundle,
                use_registry=use_registry,
                workdir=Path(tmp),
            )
        verdict = decide(ev, p.gate)
        write_verdict(verdict, ev, path, inputs)
        say(f"gate: verdict written to {path}")
    print(format_table(verdict))  # noqa: T201 - the verdict table is this command's output
    if not verdict.passed:
        raise GateFailed(
            f"the candidate must not ship: {verdict.reason()}",
            hint="see the table above; fix the change or adjust params.yaml `gate:` in a reviewed commit",
        )
    return verdict


def add_candidate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", default="main", help="git ref the PR merges into (default: main)")
    parser.add_argument(
        "--champion-bundle",
        metavar="DIR|ARCHIVE",
        help="re-score this bundle (a directory, or the champion.tar.gz release asset) as the "
        "champion instead of reading the registry (needs no credentials)",
    )
    parser.add_argument(
        "--no-champion",
        action="store_true",
        help="do not look up the registry (gate on floors and base only)",
    )
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="skip the `dvc status` check that the outputs match the workspace",
    )


def _handler(args: argparse.Namespace, p: Params) -> int:
    run(
        p,
        base=args.base,
        champion_bundle=args.champion_bundle,
        use_registry=not args.no_champion,
        out=args.out,
        check_stale=not args.allow_stale,
    )
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    g = sub.add_parser("gate", help="may the candidate ship? floors, base, champion re-scored")
    add_candidate_args(g)
    g.add_argument("--out", help="verdict JSON (default: <paths.pr_report>/gate.json)")
    handlers["gate"] = _handler
