"""`validate` stage: schema and quality rules on the prepared data, with a machine-readable report.

Each rule is a pure function `(frame, partitions, params) -> list[Violation]`. On any violation the
stage writes the report and exits non-zero, so DVC runs nothing downstream and the previous model
and metrics stay as they were.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.core.errors import DataValidationError
from flightdelay.core.params import Params, Paths, ValidateParams
from flightdelay.core.progress import say
from flightdelay.pipeline import plausibility
from flightdelay.pipeline.rules import (
    Rule,
    rule_categories,
    rule_dates,
    rule_duplicates,
    rule_label_rate,
    rule_leakage,
    rule_nulls,
    rule_ranges,
    rule_rows,
    rule_schema,
    rule_temperature_units,
    rule_types,
)

RULES: dict[str, Rule] = {
    "schema": rule_schema,
    "leakage": rule_leakage,
    "types": rule_types,
    "row_count": rule_rows,
    "dates": rule_dates,
    "categories": rule_categories,
    "ranges": rule_ranges,
    "nulls": rule_nulls,
    "duplicates": rule_duplicates,
    "temperature_units": rule_temperature_units,
    "label_rate": rule_label_rate,
    "label_inputs": plausibility.rule_label_inputs,
    "weather_alignment": plausibility.rule_weather_alignment,
}


def check(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> dict[str, Any]:
    """Run every rule; the report lists each rule with its status and violations."""
    results = []
    for name, rule in RULES.items():
        vs = rule(df, parts, v)
        results.append({"rule": name, "passed": not vs, "violations": [asdict(x) for x in vs]})
    return {
        "passed": all(r["passed"] for r in results),
        "rows": len(df),
        "months": {m: int(info["rows"]) for m, info in sorted(parts.items())},
        "rules": results,
    }


def format_failures(report: dict[str, Any], limit: int = 25) -> str:
    lines = []
    for r in report["rules"]:
        for x in r["violations"]:
            where = " ".join(
                s
                for s in (
                    f"month {x['month']}" if x["month"] else "",
                    f"column {x['column']!r}" if x["column"] else "",
                )
                if s
            )
            lines.append(f"  ✗ rule {x['rule']}: {where}: {x['message']} [{x['count']} rows]")
    more = f"\n  … and {len(lines) - limit} more in the report" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def config(p: Params) -> ValidateParams:
    return p.validate_


def run(paths: Paths, cfg: ValidateParams) -> dict[str, Any]:
    prepared = Path(paths.prepared)
    df = pd.read_parquet(prepared / "flights.parquet")
    parts = json.loads((prepared / "partitions.json").read_text())
    report = check(df, parts, cfg)
    out = Path(paths.validation)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if not report["passed"]:
        raise DataValidationError(
            f"validation failed ({sum(not r['passed'] for r in report['rules'])} rules); "
            f"nothing downstream was run:\n{format_failures(report)}",
            hint=f"full report in {out}; fix the partition and run `dvc repro` again",
        )
    say(f"validate: {len(RULES)} rules passed on {len(df):,} rows")
    return report
