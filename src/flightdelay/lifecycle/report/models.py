"""The models of the PR report scored on the candidate's holdout: the gate's evidence (candidate,
champion, base), each model's booster for the plots and the serving budget."""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import bundle, features
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import Params
from flightdelay.lifecycle import gate, gate_champion
from flightdelay.lifecycle.report import baseline, markdown
from flightdelay.pipeline.evaluate import load_model, score_frame


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


def base_scored(base: baseline.BaseSide, holdout: pd.DataFrame) -> Scored | None:
    if base.model_bytes is None or base.spec_text is None:
        return None
    spec = features.FeatureSpec.from_json(base.spec_text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        path.write_bytes(base.model_bytes)
        model = FlightDelayModel(spec, load_classifier(str(path)))
    score = score_frame(model, holdout)
    return Scored("base model", score, model.classifier.get_booster(), spec, len(base.model_bytes))


@dataclass(frozen=True)
class GateStep:
    """The gate's evidence and verdict (written beside the report), and the champion's model."""

    evidence: gate.Evidence
    champion: gate_champion.Champion | None
    holdout: pd.DataFrame
    verdict: gate.Verdict
    champion_model: Scored | None
    champion_md5: str | None


def run_gate(
    p: Params, *, base_ref: str, out: Path, champion_bundle: str | None, use_registry: bool
) -> GateStep:
    """The gate as `flightdelay gate` runs it: champion re-scored on the candidate's holdout."""
    with tempfile.TemporaryDirectory(prefix="flightdelay-report-") as tmp:
        evidence, champ, holdout = gate.gather(
            p, base=base_ref, champion_bundle=champion_bundle, use_registry=use_registry, workdir=Path(tmp)
        )
        verdict = gate.decide(evidence, p.gate)
        inputs = gate.fingerprint(
            p, base=base_ref, champion_bundle=champion_bundle, use_registry=use_registry
        )
        gate.write_verdict(verdict, evidence, out / gate.VERDICT_FILE, inputs)
        if champ is None:
            return GateStep(evidence, None, holdout, verdict, None, None)
        cb = bundle.load(champ.bundle_dir)  # the bundle lives in tmp: read it before it goes
        model = Scored(
            f"champion {champ.version}",
            champ.score,
            cb.booster,
            cb.spec,
            (cb.path / bundle.MODEL_FILE).stat().st_size,
        )
        return GateStep(evidence, champ, holdout, verdict, model, cb.metadata.get("model_md5"))


@dataclass(frozen=True)
class Models:
    """Every model scored on the candidate's holdout, one entry per distinct model."""

    scored: list[Scored]
    base: Scored | None
    notes: list[str]


def score_models(p: Params, gated: GateStep, base: baseline.BaseSide) -> Models:
    """Candidate, champion and base model; the base is left out when it is the champion."""
    model = load_model(p.paths)
    cand = Scored(
        "candidate",
        score_frame(model, gated.holdout),
        model.classifier.get_booster(),
        model.spec,
        Path(p.paths.model).stat().st_size,
    )
    base_model = base_scored(base, gated.holdout)
    scored = [s for s in (cand, gated.champion_model, base_model) if s is not None]
    same = (
        base_model is not None
        and gated.champion is not None
        and base.model_bytes is not None
        and hashlib.md5(base.model_bytes, usedforsecurity=False).hexdigest() == gated.champion_md5
    )
    if same and base_model is not None and gated.champion is not None:
        scored.remove(base_model)  # same model: one line in the plots, one budget row
        return Models(scored, base_model, [f"the base model is the champion ({gated.champion.version})"])
    return Models(scored, base_model, [])


def serving_budget(scored: list[Scored], holdout: pd.DataFrame, repeats: int) -> list[markdown.Budget]:
    row = holdout.iloc[[0]]
    return [
        markdown.Budget(
            s.label,
            s.size_bytes,
            single_row_latency_ms(s.booster, s.spec, row, repeats),
            int(s.booster.num_boosted_rounds()),
        )
        for s in scored
    ]
