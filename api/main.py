"""The FastAPI application: `create_app()` factory and the lifespan that loads the model.

`uvicorn --factory api.main:create_app` or gunicorn `api.main:app` (the module attribute `app` is
created on first access, so importing this module does no work).
"""

from __future__ import annotations

import gc
import logging
import logging.config
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import errors, openapi
from api.logs import lean_records, logging_config
from api.middleware import EdgeMiddleware
from api.routers import admin, health, mlflow_compat, model, predict
from api.routing import mount_flat
from api.service import Service
from api.settings import Settings, load_settings
from flightdelay.core.errors import FlightDelayError

DESCRIPTION = (
    "Probability that a scheduled New York flight is disrupted (arrives 15+ minutes late, or is "
    "cancelled or diverted), from schedule, route and origin weather. Every error is JSON "
    "`{error, message, request_id, detail?}`; every response carries `X-Request-ID`."
)


def create_app(settings: Settings | None = None, *, configure_logging: bool = False) -> FastAPI:
    """Build the app; the model is loaded by the lifespan, before the first request is served."""
    settings = settings or load_settings()
    if configure_logging:
        logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
        lean_records()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await service.start()
        except FlightDelayError as e:
            # One readable line before the traceback: the pod never becomes ready, and says why.
            logging.getLogger("flightdelay.api").error("model not loaded, not serving: %s", e)
            raise
        # The libraries and the model live as long as the worker: keep them out of every garbage
        # collection, whose cost otherwise grows with them (and shows in the latency tail).
        gc.freeze()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="flightdelay", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.service = service
    # The scoring routes run as they are documented, without FastAPI's per-request machinery
    # (api/routing.py); the other routes are ordinary FastAPI routes.
    mount_flat(app, predict.router, mlflow_compat.router)
    for r in (health.router, model.router, admin.router):
        app.include_router(r)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(
        EdgeMiddleware,
        metrics=service.metrics,
        max_body_bytes=settings.max_body_bytes,
        timeout_seconds=settings.request_timeout_seconds,
    )
    return app


def __getattr__(name: str) -> Any:
    """`api.main:app` for servers that want an attribute: built once, on first access."""
    if name == "app":
        app = create_app(configure_logging=True)
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
