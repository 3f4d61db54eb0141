"""One pure-ASGI middleware for the edges every request crosses.

Request id, body size limit (413), content type (415), app-level timeout (504), JSON 500 for
anything unexpected, Prometheus request metrics and the JSON access line. Pure ASGI (not
`BaseHTTPMiddleware`) because it runs on every request of a latency-critical service.

Deadline: every request is answered, or refused with 504, within REQUEST_TIMEOUT_SECONDS plus the
longest step that holds the event loop (a timeout fires only between steps). Steps are kept short:
bodies are capped at MAX_BODY_BYTES, parsing is linear in them, the row limit is checked before any
row is validated and a body cannot make pydantic list more errors than its objects have fields
(api/validation.py). The costliest body under 1 MiB holds a worker ≈ 0.1-0.5 s; `make soak` measures
it, and normal traffic's p99 while such bodies arrive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import JSON, error_body
from api.logs import ACCESS_LOGGER
from api.metrics import Metrics, observe

_RID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CHARSET = re.compile(rb'charset\s*=\s*"?([^";\s]+)', re.IGNORECASE)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Any token is a valid HTTP method; only these become label values, so clients cannot grow the
# metric series without bound.
_METHOD_LABELS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
access = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger("flightdelay.api")


class BodyTooLargeError(Exception):
    """Raised from `receive` once a chunked body passes the limit."""


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes
        self.timeout = timeout_seconds
        self.pid = os.getpid()
        # (route, method, status) → (counter, histogram) children: `labels()` costs microseconds
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _RID.match(given) else os.urandom(8).hex()
        scope["request_id"] = rid
        rid_header = (b"x-request-id", rid.encode())
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        async def refuse(code: int, kind: str, message: str) -> None:
            scope["error_kind"] = kind
            body = error_body(kind, message, rid)
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        try:
            refusal = self._check(scope["method"], headers)
            if refusal is not None:
                await refuse(*refusal)
            else:
                async with asyncio.timeout(self.timeout):
                    await self.app(scope, self._limited(receive), send_wrapper)
        except Exception as e:
            refusal = self._refusal(e, scope, rid, started=started)
            if refusal is not None:
                await refuse(*refusal)
        finally:
            self._record(scope, status, time.perf_counter() - start, rid)

    def _refusal(self, e: Exception, scope: Scope, rid: str, *, started: bool) -> tuple[int, str, str] | None:
        """The answer to an exception that left the app: 413, 504 or 500 (None once the response
        has started: the client then sees it cut short, and the error is counted)."""
        if isinstance(e, BodyTooLargeError):
            refusal = (
                413,
                "body_too_large",
                f"the body exceeds {self.max_body} bytes (MAX_BODY_BYTES); send fewer flights per request",
            )
        elif isinstance(e, TimeoutError):
            refusal = (
                504,
                "timeout",
                f"the request took longer than {self.timeout} s "
                "(REQUEST_TIMEOUT_SECONDS); retry, or send a smaller batch",
            )
        else:
            log.exception("unhandled error", extra={"request_id": rid})
            refusal = (500, "internal", "internal error; it is logged with this request id")
        if started:
            if refusal[1] != "body_too_large":
                scope["error_kind"] = refusal[1]
            return None
        return refusal

    def _check(self, method: str, headers: dict[bytes, bytes]) -> tuple[int, str, str] | None:
        if method not in _BODY_METHODS:
            return None
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "malformed_request", "Content-Length is not a number"
            if int(length) > self.max_body:
                return (
                    413,
                    "body_too_large",
                    f"the body has {int(length)} bytes, more than "
                    f"{self.max_body} (MAX_BODY_BYTES); send fewer flights per request",
                )
            if int(length) == 0:
                return None
        elif b"transfer-encoding" not in headers:
            return None  # no body at all (e.g. `curl -X POST`): nothing to type-check
        ctype, _, params = headers.get(b"content-type", b"").partition(b";")
        ctype = ctype.strip().lower()
        if ctype != b"application/json":
            shown = ctype.decode("latin-1") or "none"
            return (
                415,
                "unsupported_media_type",
                f"Content-Type {shown} is not supported; send JSON with Content-Type: application/json",
            )
        charset = _CHARSET.search(params)
        if charset is not None and charset.group(1).lower() not in (b"utf-8", b"utf8"):
            return (
                415,
                "unsupported_media_type",
                f"charset {charset.group(1).decode('latin-1')} is not supported; send UTF-8 JSON",
            )
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding != b"identity":
            return (
                415,
                "unsupported_media_type",
                f"Content-Encoding {encoding.decode('latin-1')} is not supported; send the body "
                "uncompressed, as UTF-8 JSON",
            )
        return None

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLargeError
            return message

        return wrapped

    def _record(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        route: Any = scope.get("route")
        label = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        key = (label, method if method in _METHOD_LABELS else "other", status)
        series = self._series.get(key)
        if series is None:
            series = self._new_series(*key)
        series[0].inc()
        observe(series[1], seconds)
        kind = scope.get("error_kind")
        if kind is not None:
            self.metrics.errors.labels(kind=kind).inc()
        if access.isEnabledFor(logging.INFO):
            client = scope.get("client")
            access.info(
                "%s %s %s",
                method,
                scope["path"],
                status,
                extra={
                    "request_id": rid,
                    "method": method,
                    "path": scope["path"],
                    "route": label,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "client": client[0] if client else None,
                    "pid": self.pid,
                },
            )

    def _new_series(self, route: str, method: str, status: int) -> tuple[Any, Any]:
        m = self.metrics
        labels = {"route": route, "method": method, "status": str(status)}
        series = (m.requests.labels(**labels), m.latency.labels(**labels))
        self._series[(route, method, status)] = series
        return series
