"""The retraining PR's words: title, commit message and body, from the months added and the
drift check's summary (`summary.json`) that asked for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flightdelay.core.errors import DataError


def load_evidence(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    if not path.is_file():
        raise DataError(
            f"drift evidence {path} does not exist",
            hint="pass the summary.json written by `flightdelay drift check`",
        )
    return dict(json.loads(path.read_text()))


def evidence_facts(evidence: dict[str, Any]) -> list[str]:
    """The drift summary in a few lines: verdict, drifted columns, quality, trigger."""
    if not evidence:
        return []
    dd = evidence.get("data_drift", {})
    facts = [
        f"drift check {evidence.get('checked_at', '?')}: status {evidence.get('status')}, "
        f"importance-weighted drift share {float(dd.get('share') or 0):.2f}"
    ]
    drifted = [c["column"] for c in dd.get("columns", []) if c.get("drifted")]
    if drifted:
        facts.append("drifted columns: " + ", ".join(drifted))
    q = evidence.get("model_quality") or {}
    if q.get("current"):
        facts.append(
            f"ROC AUC on {', '.join(evidence['current'].get('months') or ['the current window'])}: "
            f"{q['current'].get('roc_auc')} (holdout {q['reference'].get('roc_auc')}, "
            f"floor {q.get('floor')})"
        )
    t = evidence.get("trigger") or {}
    if t:
        facts.append(
            f"trigger: drift in {t.get('drift_count')} of the last "
            f"{len(t.get('considered', []))} checks (needs {t.get('n')} of {t.get('m')})"
        )
    return facts


def pr_body(months: list[str], old: tuple[str, str], new_end: str, facts: list[str], links: list[str]) -> str:
    return "\n".join(
        [
            "## Retraining",
            "",
            f"- New labelled data: **{', '.join(months)}** (DVC-tracked, `data/raw/<month>.dvc`).",
            f"- Training window: `{old[0]} … {old[1]}` → `{old[0]} … {new_end}`; the newest month "
            f"({new_end}) becomes the holdout, so the PR report compares this candidate with the "
            "current champion on a month neither trained on.",
            "",
            "## Drift evidence",
            "",
            *([f"- {f}" for f in facts] or ["- (no drift summary attached)"]),
            *([f"- {link}" for link in links]),
            "",
            "This branch commits the retrained model's `dvc.lock`; the PR pipeline reruns `dvc repro`, "
            "checks that it gives the same lock, and runs the gate and the report.",
            "",
        ]
    )


def render_pr(
    months: list[str],
    old: tuple[str, str],
    new_end: str,
    evidence: dict[str, Any],
    issue: int | None,
    evidence_url: str | None,
) -> tuple[str, str, str]:
    """(title, commit message, PR body)."""
    span = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
    title = f"Retrain on data through {new_end} (drift evidence)"
    facts = evidence_facts(evidence)
    links = [f"Refs #{issue}"] if issue else []
    links += [f"Evidence: {evidence_url}"] if evidence_url else []
    lines = [
        f"retrain: add {span}, move the training window end {old[1]} → {new_end}",
        "",
        *[f"- {f}" for f in facts],
        *([""] if facts else []),
        *links,
    ]
    message = "\n".join(lines).rstrip() + "\n"
    return title, message, pr_body(months, old, new_end, facts, links)
