"""GET /v1/model (bundle metadata of the served model) and GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response

from api.schemas import ModelInfo
from api.service import Service, get_service

router = APIRouter(tags=["model"])


@router.get("/v1/model", summary="Metadata of the served model bundle", response_model=ModelInfo)
async def model_info(svc: Annotated[Service, Depends(get_service)]) -> ModelInfo:
    m = svc.holder.current
    meta = m.bundle.metadata
    return ModelInfo(
        version=m.version,
        model_name=meta.get("model_name"),
        model_md5=meta["model_md5"],
        threshold=m.bundle.threshold,
        training_window=meta.get("training_window"),
        generation=m.generation,
        loaded_at=m.loaded_at,
        model_dir=str(m.bundle.path),
        scorer=m.scorer_name,
        metadata=meta,
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
