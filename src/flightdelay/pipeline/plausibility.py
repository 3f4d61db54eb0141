"""`validate` rules on what the data means, not its types: label inputs against a reference, and
weather keyed to the right hour.

A month can have every column typed and in range and still teach the model nonsense: arrival
delays in hours (the label rate collapses), delays that were blanked (they count as disrupted),
or weather joined by the UTC hour (every reading 4–5 hours off). The reference is twofold: bands
stored in params.yaml (from 2013, widened), and the median of the other months of the window,
which catches a shift the bands are too wide to see.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from flightdelay.core.params import ValidateParams
    from flightdelay.pipeline.rules import Violation

LABEL_INPUTS = ("arr_delay", "dep_delay")
MIN_WEATHER_HOURS = 200  # fewer (origin, day, hour) readings: too few for a phase (row_count/nulls report)


def _violation(*args: Any) -> Violation:
    from flightdelay.pipeline.rules import Violation  # rules imports this module

    return Violation(*args)


def _numeric(s: pd.Series) -> pd.Series:
    return s if pd.api.types.is_numeric_dtype(s) else pd.to_numeric(s, errors="coerce")


def _others_median(stat: dict[str, float], month: str) -> float | None:
    """The median of a per-month statistic over the other months of the window (None if alone)."""
    rest = [v for m, v in stat.items() if m != month and not math.isnan(v)]
    return float(np.median(rest)) if rest else None


def _off_by(ratio: float, limit: float) -> bool:
    return not (1 / limit <= ratio <= limit)


def label_rate_vs_window(df: pd.DataFrame, v: ValidateParams) -> list[Violation]:
    """Each month's disruption rate against the median of the window's other months."""
    rate = {str(m): float(r) for m, r in df.groupby("partition")["disrupted"].mean().items()}
    out = []
    for m, r in sorted(rate.items()):
        ref = _others_median(rate, m)
        if ref is None or ref <= 0 or not _off_by(r / ref, v.max_window_ratio):
            continue
        out.append(
            _violation(
                "label_rate",
                "disrupted",
                m,
                int((df["partition"] == m).sum()),
                f"disruption rate {r:.1%} is {r / ref:.2f}× the median {ref:.1%} of the other months "
                f"(allowed {1 / v.max_window_ratio:.2f}–{v.max_window_ratio:g}×); check arr_delay "
                "units (minutes) and the join, or raise validate.max_window_ratio if it is real",
            )
        )
    return out


def rule_label_inputs(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    """Arrival delay quantiles (stored band), spread q90 − q10 (vs the window's other months), and
    delays missing on flights that departed (a blanked delay is labelled disrupted)."""
    delay = _numeric(df["arr_delay"])
    months = df["partition"].astype("category")
    sizes = months.value_counts()
    qs = sorted(v.arr_delay_quantiles)
    table = delay.groupby(months, observed=True).quantile(qs).unstack() if len(df) else pd.DataFrame()
    spread = {str(m): float(row[qs[-1]] - row[qs[0]]) for m, row in table.iterrows()} if len(qs) > 1 else {}
    departed = ~df["cancelled"].astype(bool)
    blank = (df["arr_delay"].isna() & departed).groupby(months, observed=True).sum()
    missing = blank / departed.groupby(months, observed=True).sum().clip(lower=1)
    out = []
    for key, row in table.iterrows():
        m, n = str(key), int(sizes[key])
        off = [
            f"q{q * 100:g} = {row[q]:.1f}" + f" (expected {lo:g} to {hi:g})"
            for q in qs
            if not math.isnan(row[q])
            for lo, hi in [v.arr_delay_quantiles[q]]
            if not lo <= row[q] <= hi
        ]
        if off:
            out.append(
                _violation(
                    "label_inputs",
                    "arr_delay",
                    m,
                    n,
                    f"arrival delay quantiles are implausible for minutes: {'; '.join(off)}; "
                    "is arr_delay in hours or seconds? convert it to minutes",
                )
            )
        ref = _others_median(spread, m)
        if ref and spread[m] > 0 and _off_by(spread[m] / ref, v.max_window_ratio):
            out.append(
                _violation(
                    "label_inputs",
                    "arr_delay",
                    m,
                    n,
                    f"arrival delay spread q{qs[0] * 100:g}–q{qs[-1] * 100:g} is {spread[m]:.1f}, "
                    f"{spread[m] / ref:.2f}× the median {ref:.1f} of the other months (allowed "
                    f"{1 / v.max_window_ratio:.2f}–{v.max_window_ratio:g}×); check the units of arr_delay",
                )
            )
        if missing[key] > v.max_missing_arr_delay:
            out.append(
                _violation(
                    "label_inputs",
                    "arr_delay",
                    m,
                    int(blank[key]),
                    f"{missing[key]:.1%} of flights that departed have no arrival delay (budget "
                    f"{v.max_missing_arr_delay:.1%}; diverted flights are 0.1–0.7 %): they would be "
                    "labelled disrupted; restore the values at the source (blank or 'NA' is not a delay)",
                )
            )
    return out


def hourly_temperatures(df: pd.DataFrame) -> pd.DataFrame:
    """One temperature per (month, origin, day, scheduled departure hour): the weather readings
    the join attached to flights (hours without departures are absent)."""
    w = pd.DataFrame(
        {
            "partition": df["partition"],
            "origin": df["origin"],
            "day": df["day"],
            "hour": _numeric(df["sched_dep_time"]) // 100,
            "temp": _numeric(df["temp"]),
        }
    ).dropna()
    return w.drop_duplicates(["partition", "origin", "day", "hour"])


def temperature_peak_hour(w: pd.DataFrame) -> tuple[float, float]:
    """(hour of the daily temperature maximum, its amplitude in °F) for one month of
    `hourly_temperatures`: a first-harmonic fit to each reading's departure from its (origin, day)
    mean. NaN when there are too few readings."""
    if len(w) < MIN_WEATHER_HOURS:
        return math.nan, math.nan
    anomaly = (w["temp"] - w.groupby(["origin", "day"])["temp"].transform("mean")).to_numpy(float)
    angle = 2 * np.pi * w["hour"].to_numpy(float) / 24
    design = np.column_stack([np.ones(len(w)), np.cos(angle), np.sin(angle)])
    coef = np.linalg.lstsq(design, anomaly, rcond=None)[0]
    peak = (math.degrees(math.atan2(coef[2], coef[1])) / 15) % 24
    return peak, math.hypot(coef[1], coef[2])


def rule_weather_alignment(df: pd.DataFrame, parts: dict[str, Any], v: ValidateParams) -> list[Violation]:
    """Weather is keyed to the local hour: the daily temperature cycle peaks in the afternoon.
    Keyed by UTC, New York's peak moves 4–5 hours later (2013: 13.9–15.2 h local, 18.4–20.0 h UTC)."""
    if not pd.api.types.is_numeric_dtype(df["temp"]):
        return []  # `types` names the column
    lo, hi = v.temp_peak_hour
    out = []
    sizes = df["partition"].value_counts()
    for m, w in hourly_temperatures(df).groupby("partition"):
        peak, amplitude = temperature_peak_hour(w)
        if math.isnan(peak):
            continue
        if amplitude < v.min_temp_cycle_f:
            msg = (
                f"the temperature has no daily cycle (amplitude {amplitude:.2f} °F, expected at least "
                f"{v.min_temp_cycle_f:g}); are the weather readings keyed to the right hours and days?"
            )
        elif not lo <= peak <= hi:
            msg = (
                f"the daily temperature peak falls at {peak:.1f} h of the scheduled departure hour "
                f"(expected {lo:g}–{hi:g} h local time): the weather is probably keyed to UTC or "
                "another time zone; key weather.csv by the airport's local year/month/day/hour"
            )
        else:
            continue
        out.append(_violation("weather_alignment", "temp", str(m), int(sizes[m]), msg))
    return out
