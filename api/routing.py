"""Routes for the scoring paths: registered once, documented by FastAPI, run without its per-request
machinery.

A `RawRoute` is an `APIRoute`: its decorator (path, summary, responses, the request body schema
in `openapi_extra`) is what the OpenAPI document shows. Its endpoint takes the `Request` and returns
the `Response` itself, so the route runs it as Starlette runs a plain route, not through FastAPI's
request handler (dependency solving, body parsing and exit stacks these endpoints never use cost
~40 µs a request, more than scoring one flight). `mount_flat` puts a router's routes straight into
the app's route list, first: FastAPI nests an included router and resolves its context on every
request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match, Route, request_response
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class RawRoute(APIRoute):
    """An APIRoute whose endpoint is `async (Request) -> Response`, run as a plain Starlette route
    runs it: no dependency solving, no exit stacks for dependencies it has none of, no included-
    router context to resolve. Same handler, same exception handlers."""

    def __init__(self, path: str, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = request_response(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = Route.matches(self, scope)
        if match is not Match.NONE:
            child["route"] = self  # as APIRoute does: metrics and access lines label by route path
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Route.handle(self, scope, receive, send)


def mount_flat(app: FastAPI, *routers: APIRouter) -> None:
    """The routers' routes (each a `RawRoute`) at the front of the app's routes, in order."""
    routes = [r for router in routers for r in router.routes]
    if not all(isinstance(r, RawRoute) for r in routes):
        raise TypeError("mount_flat takes routers of RawRoute routes (APIRouter(route_class=RawRoute))")
    app.router.routes[:0] = routes
