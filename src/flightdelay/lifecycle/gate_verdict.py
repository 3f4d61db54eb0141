"""The gate's verdict: every check put together (`decide`, pure), as a table and as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from flightdelay.core.params import GateParams
from flightdelay.lifecycle.gate_checks import (
    Check,
    Evidence,
    backtest_checks,
    bound_checks,
    relative_checks,
    slice_checks,
)
from flightdelay.lifecycle.gate_promotion import promotion_checks


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


def decide(evidence: Evidence, policy: GateParams) -> Verdict:
    checks = bound_checks(evidence.candidate, policy)
    notes: list[str] = []
    cand_holdout = list(evidence.candidate.get("holdout_months") or [])
    slice_ref: tuple[Sequence[Mapping[str, Any]], str] | None = None
    if evidence.base is None:
        notes.append(f"base {evidence.base_ref or '(none)'} has no committed metrics: no base comparison")
    elif list(evidence.base.get("holdout_months") or []) != cand_holdout:
        notes.append(
            f"base {evidence.base_ref} was measured on "
            f"{', '.join(evidence.base.get('holdout_months') or [])}, "
            f"the candidate on {', '.join(cand_holdout)}: not comparable, so the base is shown but "
            "not gated on (the champion re-scored on the candidate's holdout is the like-for-like "
            "check)"
        )
    else:
        checks += relative_checks(evidence.candidate, evidence.base, "base", policy.tolerance)
        slice_ref = (evidence.base_slices, "base")
    warnings: list[str] = []
    if evidence.champion is None and evidence.champion_warning:
        warnings.append(evidence.champion_warning)
    elif evidence.champion is None:
        notes.append("no champion released yet: gating on floors and the base only")
    else:
        checks += relative_checks(evidence.candidate, evidence.champion, "champion", policy.tolerance)
        slice_ref = (evidence.champion_slices, "champion")
    slice_failures = 0
    if slice_ref is not None:
        sc = slice_checks(evidence.candidate_slices, slice_ref[0], slice_ref[1], policy)
        slice_failures = sum(not c.passed for c in sc)
        if slice_failures <= policy.max_slice_regressions:  # allowed regressions do not fail the gate
            sc = [
                c if c.passed else Check(**{**asdict(c), "passed": True, "detail": c.detail + " (allowed)"})
                for c in sc
            ]
        checks += sc
    bt, bt_notes = backtest_checks(evidence, policy)
    promo, info = promotion_checks(evidence, policy)
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
