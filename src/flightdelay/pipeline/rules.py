"""The data-quality rules of the `validate` stage: each a pure function
`(frame, partitions, params) -> list[Violation]` over the prepared flights. The stage
(`validate.py`) runs them in the order of its `RULES` table; the rules that compare a month with its
meaning and its neighbours (label inputs, weather alignment) live in `plausibility.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flightdelay.core import features
from flightdelay.core.params import ValidateParams
from flightdelay.pipeline import plausibility
from flightdelay.pipeline.source import RAW_FLIGHT_COLUMNS, RAW_WEATHER_COLUMNS

NUMERIC = (
    "year",
    "month",
    "day",
    "sched_dep_time",
    "sched_arr_time",
    "distance",
    *features.WEATHER,
)
MONTH_NAMES = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Violation:
    rule: str
    column: str | None
    month: str | None
    count: int
    message: str


Rule = Callable[[pd.DataFrame, dict[str, Any], ValidateParams], list[Violation]]


def _by_month(df: pd.DataFrame, mask: pd.Series) -> dict[str, int]:
    counts = df.loc[mask, "partition"].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items()) if v}


def rule_schema(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    out = []
    for month, info in sorted(parts.items()):
        for table, expected in (("flights", RAW_FLIGHT_COLUMNS), ("weather", RAW_WEATHER_COLUMNS)):
            cols = info["flight_columns" if table == "flights" else "weather_columns"]
            for col in [c for c in expected if c not in cols]:
                out.append(
                    Violation(
                        "schema",
                        col,
                        month,
                        info["rows"],
                        f"{table}.csv has no column {col!r}; restore the partition "
                        f"with `flightdelay data restore` or add the column",
                    )
                )
            for col in [c for c in cols if c not in expected and c not in v.forbidden_columns]:
                out.append(
                    Violation(
                        "schema",
                        col,
                        month,
                        info["rows"],
                        f"{table}.csv has unexpected column {col!r}; remove it or "
                        "add it to the schema deliberately",
                    )
                )
    return out


def rule_leakage(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    return [
        Violation(
            "leakage",
            col,
            month,
            info["rows"],
            f"flights.csv carries {col!r}, which is only known after the flight and would "
            "leak the label; remove the column from the partition",
        )
        for month, info in sorted(parts.items())
        for col in info["flight_columns"]
        if col in v.forbidden_columns
    ]


def rule_types(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    """Numeric-parse failure rate per month and column, against `max_unparsed_fraction`."""
    out = []
    sizes = df["partition"].value_counts()
    for col in (*NUMERIC, *plausibility.LABEL_INPUTS):
        if col in df.columns and not pd.api.types.is_numeric_dtype(df[col]):
            bad = pd.to_numeric(df[col], errors="coerce").isna() & df[col].notna()
            for month, n in _by_month(df, bad).items():
                rate = n / int(sizes[month])
                if rate <= v.max_unparsed_fraction:
                    continue
                sample = df.loc[bad & (df["partition"] == month), col].iloc[0]
                label = " (unparsed delays would be labelled disrupted)" if col == "arr_delay" else ""
                out.append(
                    Violation(
                        "types",
                        col,
                        month,
                        n,
                        f"{n} values ({rate:.1%}) are not numbers (e.g. {str(sample)[:20]!r}; budget "
                        f"{v.max_unparsed_fraction:.1%}){label}; fix them at the source",
                    )
                )
    return out


def rule_rows(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    """The count of a row_count violation is the rows the month has, not the shortfall."""
    out = []
    for m, info in sorted(parts.items()):
        rows = int(info["rows"])
        if rows == 0:
            msg = (
                f"the month is empty: flights.csv has no flights (minimum {v.min_rows_per_month}); "
                f"restore it with `flightdelay data restore`, or take {m} out of data.window"
            )
        elif rows < v.min_rows_per_month:
            msg = (
                f"only {rows} flights (minimum {v.min_rows_per_month}): the partition looks "
                "truncated; restore it with `flightdelay data restore`"
            )
        else:
            continue
        out.append(Violation("row_count", None, m, rows, msg))
    return out


def rule_dates(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    year = pd.to_numeric(df["year"], errors="coerce")
    month = pd.to_numeric(df["month"], errors="coerce")
    label = year.astype("Int64").astype("string") + "-" + month.astype("Int64").astype("string").str.zfill(2)
    dates = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": pd.to_numeric(df["day"], errors="coerce")}),
        errors="coerce",
    )
    wrong = (label != df["partition"]).fillna(True) | dates.isna()
    return [
        Violation(
            "dates",
            "year/month/day",
            m,
            n,
            f"{n} flights are dated outside the partition month (or are not real dates); "
            "move them to their own partition",
        )
        for m, n in _by_month(df, wrong).items()
    ]


def rule_categories(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    out = []
    pattern = re.compile(v.dest_pattern)
    checks = {
        "carrier": ~df["carrier"].isin(v.carriers),
        "origin": ~df["origin"].isin(v.origins),
        "dest": ~df["dest"].astype("string").fillna("").map(lambda s: bool(pattern.match(s))),
    }
    for col, bad in checks.items():
        for m, n in _by_month(df, bad).items():
            vals = sorted(df.loc[bad & (df["partition"] == m), col].astype(str).unique())[:5]
            out.append(
                Violation(
                    "categories",
                    col,
                    m,
                    n,
                    f"{n} rows have unknown {col} values {vals}; add them to "
                    f"validate.{col + 's' if col != 'dest' else 'dest_pattern'} "
                    "in params.yaml if they are real",
                )
            )
    return out


def rule_ranges(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    out = []
    for col, (lo, hi) in v.ranges.items():
        if col not in df.columns or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        bad = (df[col] < lo) | (df[col] > hi)
        for m, n in _by_month(df, bad.fillna(False)).items():
            out.append(Violation("ranges", col, m, n, f"{n} values outside [{lo}, {hi}]"))
    return out


def rule_nulls(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    out = []
    for col in features.INPUT_COLUMNS:
        budget = v.max_null_fraction.get(col, 0.0)
        frac = df[col].isna().groupby(df["partition"]).mean()
        for m, f in frac.items():
            if f > budget:
                n = round(f * int((df["partition"] == m).sum()))
                out.append(Violation("nulls", col, str(m), n, f"{f:.1%} missing (budget {budget:.1%})"))
    return out


def rule_duplicates(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    frac = df["is_duplicate"].groupby(df["partition"]).mean()
    return [
        Violation(
            "duplicates",
            None,
            str(m),
            int(df.loc[df["partition"] == m, "is_duplicate"].sum()),
            f"{f:.1%} of flights are duplicated (budget {v.max_duplicate_fraction:.1%}); "
            "de-duplicate the partition at its source",
        )
        for m, f in frac.items()
        if f > v.max_duplicate_fraction
    ]


def rule_temperature_units(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    if not pd.api.types.is_numeric_dtype(df["temp"]):
        return []
    out = []
    for m, mean in df.groupby("partition")["temp"].mean().items():
        cal = int(str(m)[5:])
        lo, hi = v.temp_monthly_mean_f[cal]
        if pd.notna(mean) and not lo <= mean <= hi:
            out.append(
                Violation(
                    "temperature_units",
                    "temp",
                    str(m),
                    int((df["partition"] == m).sum()),
                    f"mean temperature {mean:.1f} is outside the {lo:g}–{hi:g} °F expected for New "
                    f"York in {MONTH_NAMES[cal]}; are the temperatures in °C? convert them to °F",
                )
            )
    return out


def rule_label_rate(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    """The disruption rate in absolute bounds, and against the window's other months."""
    rate = df.groupby("partition")["disrupted"].mean()
    absolute = [
        Violation(
            "label_rate",
            "disrupted",
            str(m),
            int((df["partition"] == m).sum()),
            f"disruption rate {r:.1%} is implausible (expected {v.min_label_rate:.0%} to "
            f"{v.max_label_rate:.0%}); check arr_delay units (minutes) and the join",
        )
        for m, r in rate.items()
        if not (r > 0 and v.min_label_rate <= r <= v.max_label_rate)
    ]
    flagged = {x.month for x in absolute}
    relative = [x for x in plausibility.label_rate_vs_window(df, v) if x.month not in flagged]
    return sorted(absolute + relative, key=lambda x: str(x.month))
