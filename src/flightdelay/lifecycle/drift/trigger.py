"""The retraining trigger with memory: drift in N of the last M checks (history in a JSON file), or
a live quality drop in N of the last M weeks (concept drift).

`decide` is pure. The history file is small (`drift.trigger.history_size` entries); in CI it is
restored from and saved to the Actions cache between scheduled runs (see drift.yml). A lost
history only delays a retraining request: it starts counting again from zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightdelay.core.errors import DataError
from flightdelay.core.params import DriftTrigger
from flightdelay.lifecycle.drift.schema import TriggerSummary

HISTORY_SCHEMA_VERSION = 1
VERDICTS = ("drift", "no_drift")


@dataclass(frozen=True)
class TriggerDecision:
    retrain: bool
    drift_count: int
    considered: list[str]  # statuses of the last m checks with a verdict, oldest first
    n: int
    m: int
    input_fired: bool = False
    quality_fired: bool = False
    quality_drop_count: int = 0
    quality_considered: list[bool] | None = None  # the last m weeks with a verdict, oldest first

    @property
    def signal(self) -> str | None:
        """Which signal asked for retraining: input drift, quality drop, or both."""
        if self.input_fired and self.quality_fired:
            return "both"
        return "input drift" if self.input_fired else "quality drop" if self.quality_fired else None

    def summary(self, history: Path) -> TriggerSummary:
        return TriggerSummary(
            retrain_recommended=self.retrain,
            signal=self.signal,
            drift_count=self.drift_count,
            considered=self.considered,
            quality_drop_count=self.quality_drop_count,
            quality_considered=self.quality_considered,
            n=self.n,
            m=self.m,
            history=str(history),
        )


def decide(statuses: list[str], t: DriftTrigger, drops: list[bool | None] | None = None) -> TriggerDecision:
    """`statuses` oldest first, the current check last. Checks without a verdict (not enough data)
    neither count nor break the window. Retraining is recommended only while drift persists: the
    current check found drift and at least n of the last m verdicts were drift.

    `drops` (concept drift): per week of live quality, oldest first, whether its quality dropped
    below the floor (None: too few joined flights for a verdict). The same rule applies: the
    newest week with a verdict dropped, and at least n of the last m such weeks did."""
    verdicts = [s for s in statuses if s in VERDICTS]
    window = verdicts[-t.m :]
    count = window.count("drift")
    current = statuses[-1] if statuses else None
    weeks = [d for d in (drops or []) if d is not None][-t.m :]
    input_fired = current == "drift" and count >= t.n
    quality_fired = bool(weeks) and weeks[-1] and sum(weeks) >= t.n
    return TriggerDecision(
        retrain=input_fired or quality_fired,
        drift_count=count,
        considered=window,
        n=t.n,
        m=t.m,
        input_fired=input_fired,
        quality_fired=quality_fired,
        quality_drop_count=sum(weeks),
        quality_considered=weeks if drops is not None else None,
    )


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(
            f"drift history {path} is not valid JSON: {e}",
            hint="delete it to start counting again (the trigger then waits for n drifts)",
        ) from e
    if not isinstance(data, dict) or data.get("schema_version") != HISTORY_SCHEMA_VERSION:
        raise DataError(
            f"drift history {path} has an unknown shape",
            hint=f"expected schema_version {HISTORY_SCHEMA_VERSION}; delete the file to reset",
        )
    return list(data.get("checks", []))


def append(path: Path, entry: dict[str, Any], size: int) -> list[dict[str, Any]]:
    checks = [*load(path), entry][-size:]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"schema_version": HISTORY_SCHEMA_VERSION, "checks": checks}, indent=2) + "\n")
    tmp.replace(path)
    return checks
