"""The scikit-learn compatible model: feature encoding + XGBoost classifier in one estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from xgboost import XGBClassifier

from flightdelay.features import FeatureSpec, encode_frame
from flightdelay.params import TrainParams


def make_classifier(t: TrainParams) -> XGBClassifier:
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

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.classifier.get_booster().inplace_predict(encode_frame(self.spec, frame))
        p = np.asarray(p, dtype=np.float64)
        return np.column_stack([1 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)


def load_classifier(path: str) -> XGBClassifier:
    clf = XGBClassifier()
    clf.load_model(path)
    return clf
