"""What went wrong with the MLflow registry, in words that say what to do: MLflow's and the HTTP
stack's exceptions turned into one RegistryError (down, refused, unauthorised, artefacts gone)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flightdelay.adapters import tracking
from flightdelay.core import redact
from flightdelay.core.errors import RegistryError

AUTH_CODES = {"UNAUTHENTICATED": "401 unauthenticated", "PERMISSION_DENIED": "403 permission denied"}
P = ParamSpec("P")
R = TypeVar("R")


def redacted_uri() -> str:
    """The tracking URI without any user:password part or token (it goes into error messages)."""
    return redact.url(tracking.tracking_uri())


SERVER_CODES = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE"}
HTTP_AUTH = {"401": "UNAUTHENTICATED", "403": "PERMISSION_DENIED"}
ARTIFACTS_GONE = "Failed to download artifacts"  # MLflow's words for a run whose artefacts are gone
# Substrings of requests/urllib3 errors, and what to call them.
CONNECTION_CAUSES = {
    "Connection refused": "connection refused",
    "Name or service not known": "unknown host",
    "Temporary failure in name resolution": "unknown host",
    "timed out": "timed out",
    "SSLError": "TLS error",
}


def unreadable(e: Exception, action: str) -> RegistryError:
    """The error for a registry that could not be used (down, refused, unauthorised, broken)."""
    code = str(getattr(e, "error_code", "") or "")
    text = redact.text(str(e))  # MLflow's messages repeat the request URL, credentials included
    uri = redacted_uri()
    status = re.search(r"error code (\d{3}) != 200", text)  # a non-JSON answer (e.g. a proxy)
    if status and status.group(1) in HTTP_AUTH:
        code = HTTP_AUTH[status.group(1)]
    if code in AUTH_CODES:
        reason = AUTH_CODES[code]
        hint = (
            "trusted jobs get MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD from "
            "secrets: check that they are set and valid for this server"
        )
    else:
        causes = [label for needle, label in CONNECTION_CAUSES.items() if needle in text]
        first = (text.strip().splitlines() or [type(e).__name__])[0][:200]
        if causes:
            reason = f"unreachable ({causes[0]})"
        elif "too many 5" in text:  # urllib3 gave up retrying 5xx answers
            reason = "it answers with server errors (5xx)"
        elif "Max retries exceeded" in text:
            reason = "unreachable (no answer)"
        elif code in SERVER_CODES or (status and status.group(1).startswith("5")):
            reason = f"server error: {first}"
        else:
            reason = first
        hint = f"check MLFLOW_TRACKING_URI ({uri}) and that the server is up, then re-run"
        if ARTIFACTS_GONE in text:
            reason = "the version's artefacts are missing from the artifact store (deleted or moved)"
            hint = (
                "restore the run's artefacts in the store behind the registry, or release the model "
                "again (a registry version without its artefacts cannot be served or compared)"
            )
    return RegistryError(f"cannot {action} the MLflow registry at {uri}: {reason}", hint=hint)


def guarded(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn MLflow's exceptions into a RegistryError that says what to do: the caller never
    mistakes an unreadable registry for an empty one."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            from mlflow.exceptions import MlflowException

            try:
                return fn(*args, **kwargs)
            except (MlflowException, OSError) as e:  # OSError: requests' errors, artifact stores
                raise unreadable(e, action) from e

        return inner

    return wrap
