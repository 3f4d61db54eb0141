"""GET /v1/model (bundle metadata of the served model) and GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response
from pydantic import Field

from api.control import ReloadAttempt
from api.responses import ModelInfo
from api.service import Service, get_service

router = APIRouter(tags=["model"])


class ModelStatus(ModelInfo):
    last_reload: ReloadAttempt | None = Field(
        description="the last reload attempt of any worker (when, to what, outcome, why it failed); "
        "null before the first one"
    )


@router.get("/v1/model", summary="Metadata of the served model bundle", response_model=ModelStatus)
async def model_info(svc: Annotated[Service, Depends(get_service)]) -> ModelStatus:
    m = svc.holder.current
    b = m.bundle
    w = b.meta.training_window
    return ModelStatus(
        version=m.version,
        model_name=b.meta.model_name,
        model_md5=b.meta.model_md5,
        threshold=b.threshold,
        training_window=w.model_dump() if w else None,
        generation=m.generation,
        loaded_at=m.loaded_at,
        model_dir=str(b.path),
        scorer=m.scorer_name,
        metadata=b.metadata,
        last_reload=svc.holder.last_attempt,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics of all workers",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format",
        }
    },
)
async def metrics(svc: Annotated[Service, Depends(get_service)]) -> Response:
    body, ctype = svc.metrics.exposition()
    return Response(body, media_type=ctype)
