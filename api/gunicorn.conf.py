"""gunicorn settings for the flightdelay service; environment variables override the defaults.

`gunicorn -c api/gunicorn.conf.py api.main:app`. The app is imported once in the master
(`preload_app`: workers share those pages and fork in ~0.1 s); each worker then loads the model in
the lifespan, before it accepts a connection. Workers are never reloaded with HUP: a new model is
swapped in-process (POST /admin/reload), and every worker follows the shared control file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `api` imports however gunicorn was started
    sys.path.insert(0, str(ROOT))

from api import preflight
from api.logs import logging_config

_created: list[Path] = []


def _shared_paths() -> None:
    """Set before the app (and prometheus_client) is imported: workers inherit the environment."""
    prom = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if prom:
        Path(prom).mkdir(parents=True, exist_ok=True)
        for stale in Path(prom).glob("*.db"):  # samples of a previous run would be summed in
            stale.unlink()
    else:
        d = Path(tempfile.mkdtemp(prefix="flightdelay-prometheus-"))
        _created.append(d)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(d)
    if not os.environ.get("MODEL_CONTROL_FILE"):
        d = Path(tempfile.mkdtemp(prefix="flightdelay-control-"))
        _created.append(d)
        os.environ["MODEL_CONTROL_FILE"] = str(d / "model-control.json")


# Once, in the master, before any worker: a bundle or setting that would stop every worker is
# one readable line and a non-zero exit (not one traceback per worker).
preflight.run_or_exit()
_shared_paths()

bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "api.worker.Worker"
preload_app = True
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
timeout = 30  # heartbeat: a worker whose event loop is stuck this long is replaced
keepalive = 5
backlog = 2048
accesslog = None  # the app writes one JSON access line per request, with its request id
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "info"), os.environ.get("LOG_FORMAT", "auto"))
proc_name = "flightdelay"
control_socket_disable = True  # no gunicornc socket in $HOME: the container's root fs is read-only


def on_starting(server: Any) -> None:
    """Import the model libraries once in the master: forked workers start with them loaded (the
    model itself is loaded per worker, after the fork, so no thread pool crosses a fork)."""
    import numpy  # noqa: F401
    import xgboost  # noqa: F401


def child_exit(server: Any, worker: Any) -> None:
    """Drop the dead worker's live gauges (model_info) from the multiprocess metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server: Any) -> None:
    for d in _created:
        shutil.rmtree(d, ignore_errors=True)
