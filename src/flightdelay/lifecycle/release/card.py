"""Model card and changelog entry of a release: pure text from the release facts and reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CHANGELOG_HEADER = "# Model changelog\n\nOne entry per released model version, newest first.\n"
HEADLINE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall")
SLICE_METRICS = ("rows", "positive_rate", "roc_auc", "f1")

INTENDED_USE = """\
Estimates the probability that a scheduled flight departing New York (EWR, JFK, LGA) is
**disrupted**: arrives 15 or more minutes late, or is cancelled or diverted. Inputs are known
before departure (schedule, carrier, route, origin weather for the scheduled hour). It is meant
to rank and flag flights for attention (proactive rebooking, staffing), flagging at a
probability of {threshold}. It is not meant to decide anything about an individual passenger,
nor for airports, years or carriers outside its training data."""

LIMITATIONS = """\
- Trained on 2013 New York departures only. Behaviour drifts with the season (the disruption
  rate ranges from about 0.14 in September to 0.34 in December): monitor drift and retrain.
- Weather is the origin's hourly observation for the scheduled hour, not a forecast;
  destination weather and air-traffic control programs are not inputs.
- Carriers and airports rarer than `featurize.min_category_count` in training, or unseen, are
  scored as missing values; their predictions lean on the other features.
- Probabilities are calibrated on the holdout month only; check calibration after retraining.
"""


@dataclass(frozen=True)
class ReleaseFacts:
    """Everything that identifies one release; also what release.json holds."""

    version: str
    git_sha: str
    image: str
    model_md5: str
    released_at: str
    pr: str | None
    training_window: Mapping[str, str]
    holdout_months: Sequence[str]
    data_partitions: Mapping[str, str]
    data_fingerprint: str
    threshold: float
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return f"model-v{self.version}"

    def release_json(self, model_name: str) -> dict[str, Any]:
        return {
            "name": model_name,
            "version": self.version,
            "git_tag": self.tag,
            "git_sha": self.git_sha,
            "image": self.image,
            "model_md5": self.model_md5,
            "released_at": self.released_at,
            "pr": self.pr,
            "data_fingerprint": self.data_fingerprint,
        }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _slices_md(slices: Sequence[Mapping[str, Any]]) -> list[str]:
    if not slices:
        return ["No slice report (reports/slices.json) was available."]
    by_dim: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for s in slices:
        by_dim[str(s.get("slice"))].append(s)
    out = []
    for dim, group in by_dim.items():
        rows = sorted(group, key=lambda r: float(r.get("roc_auc") or 0.0))
        out += [
            f"**{dim}** (weakest first)",
            "",
            "| value | " + " | ".join(SLICE_METRICS) + " |",
            "|---|" + "---:|" * len(SLICE_METRICS),
        ]
        out += [
            f"| {r.get('value')} | " + " | ".join(_fmt(r.get(m, "")) for m in SLICE_METRICS) + " |"
            for r in rows
        ]
        out.append("")
    return out


def model_card(
    f: ReleaseFacts,
    metrics: Mapping[str, Any],
    slices: Sequence[Mapping[str, Any]],
    model_name: str,
) -> str:
    window = f"{f.training_window.get('start')} … {f.training_window.get('end')}"
    lines = [
        f"# Model card: {model_name} v{f.version} (`{f.tag}`)",
        "",
        "| | |",
        "|---|---|",
        f"| registry | `models:/{model_name}/{f.version}` |",
        f"| git tag / commit | `{f.tag}` / `{f.git_sha}` |",
        f"| image | `{f.image}` |",
        f"| model md5 (DVC) | `{f.model_md5}` |",
        f"| data fingerprint | `{f.data_fingerprint}` |",
        f"| pull request | {('#' + f.pr) if f.pr else '—'} |",
        f"| released at | {f.released_at} |",
        "",
        "## Intended use",
        "",
        INTENDED_USE.format(threshold=f.threshold),
        "",
        "## Data",
        "",
        f"Training window {window}; holdout (newest month(s), time split): "
        f"{', '.join(f.holdout_months) or '—'}. Raw partitions (DVC md5):",
        "",
        "| month | md5 |",
        "|---|---|",
        *(f"| {m} | `{h}` |" for m, h in sorted(f.data_partitions.items())),
        "",
        "## Metrics (holdout)",
        "",
        "| metric | value |",
        "|---|---:|",
        *(f"| {k} | {_fmt(metrics[k])} |" for k in HEADLINE_METRICS if k in metrics),
        *(f"| {k} | {_fmt(metrics[k])} |" for k in ("rows", "positive_rate") if k in metrics),
        "",
        "## Slices (holdout)",
        "",
        *_slices_md(slices),
        "## Limitations",
        "",
        LIMITATIONS,
    ]
    return "\n".join(lines)


def changelog_entry(f: ReleaseFacts, metrics: Mapping[str, Any], card_path: str, previous: str | None) -> str:
    headline = ", ".join(f"{k} {_fmt(metrics[k])}" for k in ("roc_auc", "pr_auc", "f1") if k in metrics)
    window = f"{f.training_window.get('start')}…{f.training_window.get('end')}"
    return "\n".join(
        [
            f"## {f.tag} — {f.released_at[:10]}",
            "",
            f"- commit `{f.git_sha[:12]}`{f' (PR #{f.pr})' if f.pr else ''}; image `{f.image}`",
            f"- training window {window}; holdout {headline}",
            f"- replaces {('model-v' + previous) if previous else 'nothing (first release)'}; "
            f"model card: [{card_path}]({card_path})",
            "",
        ]
    )


def prepend_changelog(existing: str, entry: str) -> str:
    """Insert `entry` after the header (creating it), keeping older entries below."""
    body = existing if existing.strip() else CHANGELOG_HEADER
    head, sep, rest = body.partition("\n## ")
    if not sep:
        return head.rstrip("\n") + "\n\n" + entry
    return head.rstrip("\n") + "\n\n" + entry + "\n## " + rest
