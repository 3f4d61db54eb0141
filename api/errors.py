"""HTTP errors: every error body is JSON `{error, message, request_id, detail?}`.

No client input may produce a 500: each refusal has its status, its metric kind and a message
saying what to change.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flightdelay.errors import ModelError

JSON = "application/json"
_TAGS = frozenset({"single", "batch", "split", "records"})


class ApiError(Exception):
    """A request the service refuses, with the status, the metric kind and what to do."""

    def __init__(
        self, status: int, kind: str, message: str, detail: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.detail = detail


def error_body(
    kind: str, message: str, request_id: str | None, detail: list[dict[str, Any]] | None = None
) -> bytes:
    body: dict[str, Any] = {"error": kind, "message": message, "request_id": request_id}
    if detail is not None:
        body["detail"] = detail
    return orjson.dumps(body)


def from_validation(e: ValidationError, prefix: tuple[str | int, ...] = ("body",)) -> ApiError:
    """422 with field paths, or 400 when the body is not JSON at all."""
    errors = e.errors(include_url=False, include_context=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return ApiError(400, "malformed_json", f"the body is not valid JSON: {errors[0]['msg']}")
    detail = [
        {"loc": [*prefix, *_untagged(err["loc"])], "msg": err["msg"], "type": err["type"]}
        for err in errors[:50]
    ]
    first = detail[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(422, "validation", f"{where}: {first['msg']}{more}", detail)


def _untagged(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the union tag pydantic puts first (`single`, `batch`, …): clients never sent it."""
    return loc[1:] if loc and loc[0] in _TAGS else loc


def _rid(request: Request) -> str | None:
    rid = request.scope.get("request_id")
    return rid if isinstance(rid, str) else None


def install(app: FastAPI) -> None:
    """Map every error the routers can raise to its JSON body and status."""

    async def api_error(request: Request, exc: ApiError) -> Response:
        request.scope["error_kind"] = exc.kind
        return Response(
            error_body(exc.kind, exc.message, _rid(request), exc.detail),
            status_code=exc.status,
            media_type=JSON,
        )

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        request.scope["error_kind"] = kind
        return Response(
            error_body(kind, str(exc.detail), _rid(request)),
            status_code=exc.status_code,
            media_type=JSON,
            headers=exc.headers,
        )

    async def request_validation(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()]
        request.scope["error_kind"] = "validation"
        return Response(
            error_body("validation", "the request is invalid", _rid(request), detail),
            status_code=422,
            media_type=JSON,
        )

    async def not_ready(request: Request, exc: ModelError) -> Response:
        request.scope["error_kind"] = "model_not_ready"
        return Response(
            error_body("model_not_ready", str(exc), _rid(request)),
            status_code=503,
            media_type=JSON,
            headers={"Retry-After": "1"},
        )

    # Starlette types handlers as taking any Exception; each of ours takes the one it is bound to.
    handlers: dict[type[Exception], Any] = {
        ApiError: api_error,
        StarletteHTTPException: http_error,
        RequestValidationError: request_validation,
        ModelError: not_ready,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
