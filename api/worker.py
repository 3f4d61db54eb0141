"""The gunicorn worker: uvicorn (uvloop + httptools), our JSON access line instead of uvicorn's."""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):  # type: ignore[misc]
    # lifespan "on": a model that fails to load stops the worker instead of serving without one.
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "lifespan": "on",
        "server_header": False,
    }
