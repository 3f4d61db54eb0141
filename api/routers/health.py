"""GET /healthz (the process answers) and GET /readyz (a model is loaded and scores)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.errors import JSON
from api.service import Service, get_service

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


@router.get("/readyz", summary="Readiness: 200 once the model is loaded, else 503")
async def readyz(svc: Annotated[Service, Depends(get_service)]) -> Response:
    if not svc.holder.ready:
        return Response(b'{"status":"loading"}', status_code=503, media_type=JSON)
    m = svc.holder.current
    return Response(
        orjson.dumps({"status": "ready", "model_version": m.version, "generation": m.generation}),
        media_type=JSON,
    )
