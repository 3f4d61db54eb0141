"""The one drift issue: decide whether to open, update or close it (pure; `gh` runs it in CI).

Rules, given the current summary and the open issues carrying the drift label:
- drift, no open issue            → open
- drift, open issue(s)            → update the oldest (others are reported as duplicates)
- no drift, open issue(s)         → close them (drift cleared)
- no drift, none open             → nothing
- not enough data                 → nothing: absence of evidence does not close an issue
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from flightdelay.lifecycle.drift.schema import DriftSummary

Action = Literal["open", "update", "close", "none"]
TITLE = "Data drift detected by the scheduled check"


@dataclass(frozen=True)
class IssueAction:
    action: Action
    number: int | None
    title: str
    comment: str
    close: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(summary: DriftSummary, existing: Sequence[Mapping[str, Any]]) -> IssueAction:
    status = summary.status
    numbers = sorted(int(i["number"]) for i in existing if str(i.get("state", "OPEN")).upper() == "OPEN")
    share, when = summary.data_drift.share, summary.checked_at
    if status == "drift":
        if not numbers:
            return IssueAction("open", None, TITLE, "")
        t = summary.trigger
        note = f" Retraining was requested (signal: {t.signal})." if t.retrain_recommended else ""
        return IssueAction(
            "update",
            numbers[0],
            TITLE,
            f"Drift persists at {when}: weighted drift share {share:.2f}.{note}",
            duplicates=numbers[1:],
        )
    if status == "no_drift" and numbers:
        return IssueAction(
            "close",
            numbers[0],
            TITLE,
            f"Drift cleared at {when}: weighted drift share {share:.2f}, "
            "no prediction drift, quality above the floor. Closing.",
            close=numbers,
        )
    return IssueAction("none", numbers[0] if numbers else None, TITLE, "")
