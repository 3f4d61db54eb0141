"""The scikit-learn compatible model: feature encoding + XGBoost classifier in one estimator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from xgboost import XGBClassifier

from flightdelay.core import calibration
from flightdelay.core.calibration import ATTR as CALIBRATION_ATTR
from flightdelay.core.calibration import Calibration
from flightdelay.core.errors import ConfigError
from flightdelay.core.features import FeatureSpec, encode_frame, fit_spec
from flightdelay.core.params import TrainParams


def make_classifier(t: TrainParams, features: Sequence[str]) -> XGBClassifier:
    """The booster's settings for a model of `features` (the spec's order: monotone constraints
    are given by position, the encoded matrix having no column names)."""
    constraints = tuple(t.monotone.get(f, 0) for f in features) if t.monotone else None
    return XGBClassifier(
        n_estimators=t.n_estimators,
        max_depth=t.max_depth,
        learning_rate=t.learning_rate,
        subsample=t.subsample,
        colsample_bytree=t.colsample_bytree,
        min_child_weight=t.min_child_weight,
        reg_lambda=t.reg_lambda,
        max_bin=t.max_bin,
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        random_state=t.seed,
        n_jobs=t.n_jobs,
        monotone_constraints=constraints,
    )


class FlightDelayModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Raw flight records (DataFrame with INPUT_COLUMNS) → disruption probability.

    Wraps the same `encode_frame` + booster that serving uses, so the MLflow-logged model and the
    API give identical answers.
    """

    def __init__(self, spec: FeatureSpec, classifier: XGBClassifier) -> None:
        self.spec = spec
        self.classifier = classifier

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def fit(self, frame: pd.DataFrame, y: Any) -> FlightDelayModel:
        self.classifier.fit(encode_frame(self.spec, frame), np.asarray(y))
        return self

    @property
    def calibration(self) -> Calibration:
        return Calibration.from_json(self.classifier.get_booster().attr(CALIBRATION_ATTR))

    def set_calibration(self, c: Calibration) -> None:
        """Store the map in the booster (so in model.json): every reader of the model applies it."""
        self.classifier.get_booster().set_attr(
            **{CALIBRATION_ATTR: None if c.method == "none" else c.to_json()}
        )

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        booster = self.classifier.get_booster()
        raw = np.asarray(booster.inplace_predict(encode_frame(self.spec, frame)), dtype=np.float32)
        p = self.calibration.apply(raw).astype(np.float64)  # float32 in, as serving's scorers give
        return np.column_stack([1 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)


def fit_model(
    frame: pd.DataFrame, spec: FeatureSpec, t: TrainParams, *, min_category_count: int
) -> FlightDelayModel:
    """The model of `frame` (INPUT_COLUMNS, `disrupted`, `partition`), calibrated as
    `train.calibration` says: the map is fitted on the newest month of `frame`, scored by a model
    (spec included) of the months before it, and applied to the model of all of `frame`."""
    from flightdelay.core.features import INPUT_COLUMNS

    cols = list(INPUT_COLUMNS)
    model = FlightDelayModel(spec, make_classifier(t, spec.features))
    model.fit(frame[cols], frame["disrupted"].to_numpy())
    if t.calibration == "none":
        return model
    part = frame["partition"].astype(str)
    newest = part.max()
    earlier = frame[part != newest]
    if earlier.empty:
        raise ConfigError(
            f"train.calibration: {t.calibration} needs two training months or more (it is fitted on "
            f"the newest, {newest}, scored by a model of the months before it)",
            hint="widen data.window or set train.calibration: none",
        )
    aux_spec = fit_spec(earlier, "disrupted", min_category_count)
    aux = FlightDelayModel(aux_spec, make_classifier(t, aux_spec.features))
    aux.fit(earlier[cols], earlier["disrupted"].to_numpy())
    recent = frame[part == newest]
    model.set_calibration(
        calibration.fit(t.calibration, recent["disrupted"].to_numpy(), aux.predict_proba(recent[cols])[:, 1])
    )
    return model


def load_classifier(path: str) -> XGBClassifier:
    clf = XGBClassifier()
    clf.load_model(path)
    return clf


def fit_dask(spec: FeatureSpec, t: TrainParams, frame: Any, client: Any) -> FlightDelayModel:
    """Train with `xgboost.dask` on a Dask DataFrame (INPUT_COLUMNS + `disrupted`) whose partitions
    live on the cluster behind `client`: each worker encodes its partitions with the same
    `encode_frame` and XGBoost's workers build the trees together (histograms all-reduced).

    The booster comes back as a plain `XGBClassifier`, the same artefact `train.engine: local`
    makes: the bundle and serving do not know which engine trained it."""
    import xgboost.dask as dxgb

    meta = pd.DataFrame({name: pd.Series(dtype="float32") for name in spec.features})
    encoded = frame.map_partitions(_encode_partition, spec, meta=meta)
    # Arrays, not named columns: the booster then has no feature names, like the local one.
    x = encoded.to_dask_array(lengths=True)
    y = frame["disrupted"].astype("int8").to_dask_array(lengths=True)
    # n_jobs None: each worker uses its own thread count (train.n_jobs is the local engine's).
    dask_clf = dxgb.DaskXGBClassifier(**(make_classifier(t, spec.features).get_params() | {"n_jobs": None}))
    dask_clf.client = client
    dask_clf.fit(x, y)
    clf = XGBClassifier()
    clf.load_model(bytearray(dask_clf.get_booster().save_raw("json")))
    return FlightDelayModel(spec, clf)


def _encode_partition(part: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    return pd.DataFrame(encode_frame(spec, part), columns=list(spec.features), index=part.index)
