"""POST /admin/reload: swap every worker to a new bundle without downtime (Bearer ADMIN_TOKEN)."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from api.control import ReloadBusy
from api.errors import ApiError, from_validation
from api.openapi import ERROR_RESPONSES
from api.responses import ErrorBody, ReloadResponse
from api.schemas import ReloadRequest
from api.service import Service, get_service
from flightdelay.core.errors import ModelError

router = APIRouter(tags=["admin"])


def _authorize(request: Request, svc: Service) -> None:
    token = svc.settings.admin_token
    if token is None:
        raise ApiError(404, "not_found", "the admin API is disabled: set ADMIN_TOKEN to enable it")
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.get_secret_value().encode()
    ):
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>")


@router.post(
    "/admin/reload",
    summary="Load a bundle and swap to it in every worker",
    description='Body optional: `{"model_dir": "..."}` (default MODEL_DIR). The answering '
    "worker checks the bundle (every file against its pydantic model, every hash against "
    "manifest.json), copies it into the server's control directory, loads it and scores an "
    "example; every other worker then loads the same copy, and only when all hold it do they "
    "all swap (two-phase). A bundle any worker refuses, or a worker that does not answer within "
    "RELOAD_TIMEOUT_SECONDS, leaves every worker on the current model (422, naming the file and "
    "field); another reload running gives 409. The outcome is logged and shown by GET /v1/model "
    "(`last_reload`).",
    response_model=ReloadResponse,
    responses={
        **ERROR_RESPONSES,
        409: {"model": ErrorBody, "description": "another reload is in progress"},
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": ReloadRequest.model_json_schema()}},
        }
    },
)
async def reload(request: Request, svc: Annotated[Service, Depends(get_service)]) -> ReloadResponse:
    _authorize(request, svc)
    body = await request.body()
    req = ReloadRequest()
    if body.strip():
        try:
            req = svc.adapters.reload.validate_json(body)
        except ValidationError as e:
            raise from_validation(e) from None
    target = Path(req.model_dir) if req.model_dir else svc.settings.model_dir
    try:
        new, old = await svc.reload(target)
    except ReloadBusy as e:
        raise ApiError(409, "reload_in_progress", f"{e.message}; retry when it has finished") from None
    except ModelError as e:
        raise ApiError(422, "reload_failed", f"{e.message}; the current model stays in place") from None
    return ReloadResponse(
        version=new.version,
        previous_version=old.version if old else "",
        generation=new.generation,
        model_dir=str(new.bundle.path),
    )
