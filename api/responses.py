"""Response bodies of the HTTP API, as the OpenAPI document describes them (the scoring routes
write their JSON with orjson; these models document it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Prediction(BaseModel):
    probability: float = Field(description="P(arrives ≥15 min late, or cancelled or diverted)")
    decision: bool = Field(description="probability ≥ the model's operating threshold")


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "8f14e45fceea167a",
                    "model_version": "3",
                    "threshold": 0.31,
                    "predictions": [{"probability": 0.27, "decision": False}],
                }
            ]
        }
    )

    request_id: str
    model_version: str
    threshold: float
    predictions: list[Prediction]


class InvocationsResponse(BaseModel):
    predictions: list[float] = Field(description="disruption probability per row")


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable kind, e.g. validation, malformed_json")
    message: str
    request_id: str | None = None
    detail: list[dict[str, Any]] | None = Field(None, description="field errors with `loc` paths")


class ModelInfo(BaseModel):
    version: str
    model_name: str | None
    model_md5: str
    threshold: float
    training_window: dict[str, Any] | None
    generation: int = Field(description="reload counter shared by all workers")
    loaded_at: str
    model_dir: str
    scorer: str = Field(
        description='what scores the trees: "compiled" (the C kernel), "numpy" (the fallback when the '
        'kernel is not built, for small batches) or "xgboost"'
    )
    metadata: dict[str, Any]


class ReloadResponse(BaseModel):
    version: str
    previous_version: str
    generation: int
    model_dir: str
