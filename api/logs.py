"""Logging for the service, access and gunicorn loggers: one JSON object per line (what log
collectors parse), or a plain line for a person at a terminal. `LOG_FORMAT=json|text|auto` (auto:
text when stdout is a terminal, as uvicorn does)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
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


class TextFormatter(logging.Formatter):
    """`12:00:01 INFO flightdelay.api: message` (+ `key=value` for an access line's fields)."""

    def format(self, record: logging.LogRecord) -> str:
        at = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={record.__dict__[k]}" for k in ACCESS_FIELDS if k in record.__dict__)
        line = f"{at} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line += f" [{fields}]" if fields else ""
        return line + (f"\n{self.formatException(record.exc_info)}" if record.exc_info else "")


LOG_FORMATS = ("auto", "json", "text")


def resolve_format(fmt: str) -> str:
    """The format to use, "json" or "text": "auto" is text on a terminal, else JSON; anything
    else is an error."""
    fmt = fmt.strip().lower() or "auto"
    if fmt not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    if fmt == "auto":
        return "text" if sys.stdout.isatty() else "json"
    return fmt


def lean_records() -> None:
    """Log records without the caller's file and line, thread or process names, which these JSON
    lines never show: an access line costs ~20% less. Process-wide (the logging HOWTO's
    "Optimization" section), so only the service's own entry points call it."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def logging_config(level: str, fmt: str = "json") -> dict[str, Any]:
    """dictConfig for gunicorn (`logconfig_dict`) and for the app when run without gunicorn."""
    lvl = level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stdout"}
    formatter = TextFormatter if resolve_format(fmt) == "text" else JsonFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": formatter}},
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
