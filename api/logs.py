"""JSON logging: one object per line for the service, access and gunicorn loggers."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson

ACCESS_LOGGER = "flightdelay.access"
# Fields an access line carries besides the standard ones (set with `extra=`).
ACCESS_FIELDS = ("request_id", "method", "path", "route", "status", "duration_ms", "client", "pid")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat("T", "milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ACCESS_FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def lean_records() -> None:
    """Log records without the caller's file and line, thread or process names, which these JSON
    lines never show: an access line costs ~20% less. Process-wide (the logging HOWTO's
    "Optimization" section), so only the service's own entry points call it."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def logging_config(level: str) -> dict[str, Any]:
    """dictConfig for gunicorn (`logconfig_dict`) and for the app when run without gunicorn."""
    lvl = level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"level": "WARNING", "handlers": ["stdout"]},
        "loggers": {
            name: {"level": lvl, "handlers": ["stdout"], "propagate": False}
            for name in ("flightdelay", "gunicorn.error", "uvicorn.error")
        }
        | {
            # uvicorn's own access line has no request id: ours replaces it.
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
