"""`featurize` stage: drop flagged duplicates, split by time, and fit the feature spec on training rows.

The newest `featurize.holdout_months` month(s) of the window are the holdout; the rest trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flightdelay.core import features
from flightdelay.core.errors import DataError
from flightdelay.core.params import FeaturizeParams, Params, Paths, Window
from flightdelay.core.progress import say

KEEP = ["partition", *features.INPUT_COLUMNS, "disrupted", "cancelled"]


def split(df: pd.DataFrame, months: list[str], holdout_months: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(months) <= holdout_months:
        raise DataError(
            f"the window has {len(months)} month(s); need more than featurize.holdout_months="
            f"{holdout_months} to train and hold out",
            hint="widen data.window in params.yaml",
        )
    holdout = months[-holdout_months:]
    is_holdout = df["partition"].isin(holdout)
    return df[~is_holdout].reset_index(drop=True), df[is_holdout].reset_index(drop=True)


@dataclass(frozen=True)
class FeaturizeConfig:
    """What the stage reads of params.yaml: its section and the window (the holdout is its end)."""

    featurize: FeaturizeParams
    window: Window


def config(p: Params) -> FeaturizeConfig:
    return FeaturizeConfig(featurize=p.featurize, window=p.data.window)


def run(paths: Paths, cfg: FeaturizeConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.read_parquet(Path(paths.prepared) / "flights.parquet")
    dupes = int(df["is_duplicate"].sum())
    df = df.loc[~df["is_duplicate"], KEEP]
    train, holdout = split(df, cfg.window.months, cfg.featurize.holdout_months)
    spec = features.fit_spec(train, "disrupted", cfg.featurize.min_category_count)
    spec = features.FeatureSpec(
        categories=spec.categories,
        meta={
            "train_months": sorted(train["partition"].unique().tolist()),
            "holdout_months": sorted(holdout["partition"].unique().tolist()),
        },
    )
    out = Path(paths.features)
    out.mkdir(parents=True, exist_ok=True)
    train.to_parquet(out / "train.parquet", index=False)
    holdout.to_parquet(out / "holdout.parquet", index=False)
    spec.save(paths.feature_spec)
    say(
        f"featurize: train {len(train):,} rows {spec.meta['train_months'][0]}…"
        f"{spec.meta['train_months'][-1]}, holdout {len(holdout):,} rows "
        f"{', '.join(spec.meta['holdout_months'])}; dropped {dupes} duplicates"
    )
    return train, holdout
