"""OpenAPI document: bodies read as raw bytes (validated by pydantic-core) still get schemas."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from api.responses import ErrorBody
from api.schemas import InvocationsRequest, PredictRequest

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not JSON"},
    413: {"model": ErrorBody, "description": "the body is larger than MAX_BODY_BYTES"},
    415: {"model": ErrorBody, "description": "Content-Type is not application/json"},
    422: {"model": ErrorBody, "description": "a field is invalid; `detail` lists field paths"},
    503: {"model": ErrorBody, "description": "the model is not loaded yet"},
    504: {"model": ErrorBody, "description": "REQUEST_TIMEOUT_SECONDS exceeded"},
}
BODY_SCHEMAS: dict[str, Any] = {
    "PredictRequest": PredictRequest,
    "InvocationsRequest": InvocationsRequest,
}
REF = "#/components/schemas/{model}"


def json_body(name: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=name)}}},
        }
    }


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that adds the raw-body schemas to the components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, tp in BODY_SCHEMAS.items():
            schema = TypeAdapter(tp).json_schema(ref_template=REF)
            components.update(schema.pop("$defs", {}))
            components[name] = schema
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
