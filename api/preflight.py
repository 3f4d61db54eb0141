"""The start-up check gunicorn's master runs once, before it forks a worker: the settings and the
model bundle (its files, manifest, metadata, feature spec and model, read and checked as a worker
reads them). A failure is one line on stderr, saying what is wrong and what to do next, and a
non-zero exit, instead of one traceback per worker. The master never scores: XGBoost's thread pool
must not exist before the fork (each worker loads and scores the model itself)."""

from __future__ import annotations

import sys
from typing import TextIO

from flightdelay.core.errors import FlightDelayError

PREFIX = "flightdelay serve: not serving: "


def one_line(e: FlightDelayError) -> str:
    message = " ".join(e.message.split())
    return PREFIX + message + (f" — next: {' '.join(e.hint.split())}" if e.hint else "")


def check(stream: TextIO = sys.stderr) -> int:
    """0 when a worker would start; else the error's exit code, after printing its one line."""
    from api.settings import load_settings
    from flightdelay.core import bundle
    from flightdelay.core.errors import ModelError

    try:
        model_dir = load_settings().model_dir
        if not model_dir.is_dir():
            raise ModelError(
                f"no model bundle at {model_dir} (MODEL_DIR)",
                hint="`make serve` builds it on a fresh clone (data restore + dvc repro); or "
                "`dvc pull` it, or set MODEL_DIR to a bundle (e.g. an extracted model-vN release asset)",
            )
        bundle.load(model_dir, require_manifest=True)
    except FlightDelayError as e:
        stream.write(one_line(e) + "\n")
        stream.flush()
        return e.exit_code
    return 0


def run_or_exit() -> None:
    code = check()
    if code:
        raise SystemExit(code)
