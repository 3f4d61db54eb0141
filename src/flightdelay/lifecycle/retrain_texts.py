"""The retraining PR's words: title, commit message and body, from the months added and the
drift check's summary (`summary.json`) that asked for it."""

from __future__ import annotations

from pathlib import Path

from flightdelay.lifecycle.drift.schema import SUMMARY_HINT, DriftSummary, read


def load_evidence(path: Path | None) -> DriftSummary | None:
    return None if path is None else read(DriftSummary, path, SUMMARY_HINT)


def evidence_facts(evidence: DriftSummary | None) -> list[str]:
    """The drift summary in a few lines: verdict, drifted columns, quality, trigger."""
    if evidence is None:
        return []
    dd = evidence.data_drift
    facts = [
        f"drift check {evidence.checked_at}: status {evidence.status}, "
        f"importance-weighted drift share {dd.share:.2f}"
    ]
    drifted = [c.column for c in dd.columns if c.drifted]
    if drifted:
        facts.append("drifted columns: " + ", ".join(drifted))
    q = evidence.model_quality
    if q and q.current:
        facts.append(
            f"ROC AUC on {', '.join(evidence.current.months or ['the current window'])}: "
            f"{q.current.get('roc_auc')} (holdout {q.reference.get('roc_auc')}, floor {q.floor})"
        )
    t = evidence.trigger
    facts.append(
        f"trigger: drift in {t.drift_count} of the last {len(t.considered)} checks (needs {t.n} of {t.m})"
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
    evidence: DriftSummary | None,
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
