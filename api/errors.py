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

from api.validation import RowLimitError
from flightdelay.core.errors import ModelError

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


def from_validation(
    e: ValidationError, prefix: tuple[str | int, ...] = ("body",), body: bytes | None = None
) -> ApiError:
    """422 with field paths; 400 when the body is not JSON at all, 415 when it is not UTF-8 text."""
    errors = e.errors(include_url=False, include_context=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return (body is not None and not_utf8_text(body)) or ApiError(
            400, "malformed_json", f"the body is not valid JSON: {errors[0]['msg']}"
        )
    detail = [
        {"loc": [*prefix, *_untagged(err["loc"])], "msg": _message(err), "type": err["type"]}
        for err in errors[:50]
    ]
    first = detail[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(422, "validation", f"{where}: {first['msg']}{more}", detail)


def _message(err: Any) -> str:
    if err["type"] == "finite_number":  # the JSON parser reads NaN and Infinity; say why they fail
        return "Input should be a finite number, not NaN or Infinity; send null where a value is missing"
    return str(err["msg"])


def not_utf8_text(body: bytes) -> ApiError | None:
    """415 for a body that is not UTF-8 text (compressed, UTF-16/32, latin-1, …): the JSON
    parser would only say "invalid JSON". Checked after a parse failed, never on the hot path."""
    if body[:2] == b"\x1f\x8b":
        what = "gzip-compressed"
    elif body[:3] == b"\xef\xbb\xbf":
        what = "UTF-8 with a byte-order mark"
    elif body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        what = "UTF-16 or UTF-32 text"
    else:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as u:
            what = f"not UTF-8 (byte 0x{body[u.start]:02x} at offset {u.start}; latin-1?)"
        else:
            return None
    return ApiError(
        415,
        "unsupported_media_type",
        f"the body is {what}; send uncompressed UTF-8 JSON with Content-Type: application/json",
    )


def from_row_limit(e: RowLimitError, what: str, advice: str) -> ApiError:
    """422 for more rows than MAX_BATCH_ROWS, found before any row was validated."""
    loc = ".".join(("body", *e.loc))
    return ApiError(
        422,
        "validation",
        f"{loc}: {e.rows} {what}, more than MAX_BATCH_ROWS={e.limit}; {advice}",
        [{"loc": ["body", *e.loc], "msg": f"at most {e.limit} items", "type": "too_long"}],
    )


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
