"""Redaction of secrets from anything printed: URL credentials, token query parameters, bearer
and basic auth tokens, AWS keys, and the values of secret environment variables.

Every status line (`progress.say`) and every error the CLI prints passes through `text`; code
that names a URL in a message uses `url`. Tracking, Pushgateway and DVC remote URLs come from the
environment and may embed credentials (a user and password before the host), so they are never
printed raw.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "***"
# The userinfo of a URL (user and password, or a token, before "@host") → scheme://***@host
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@?#'\"<>]+)@")
_QUERY = re.compile(
    r"(?P<key>[?&;](?:[a-z0-9_.-]*(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|signature"
    r"|credential|auth)[a-z0-9_.-]*|key|sig|code)=)(?P<value>[^&;#\s'\"<>]+)",
    re.IGNORECASE,
)
# A token has a digit or punctuation in it: "Bearer abc.def-1", not the prose "basic configuration".
_AUTH_HEADER = re.compile(
    r"(?P<key>\b(?:bearer|basic)\s+)(?P<value>(?=[a-z._~+/=-]*[0-9._~+/=-])[a-z0-9._~+/=-]{8,})",
    re.IGNORECASE,
)
_AUTH_FIELD = re.compile(
    r"(?P<key>\bauthorization[\"']?\s*[:=]\s*[\"']?(?:\w+\s+)?)(?P<value>[^\s\"',]+)", re.I
)
# KEY=value, key="value" and "key": "value" (not the prose "secrets: check them").
_ASSIGNMENT = re.compile(
    r"(?P<key>\b[a-z0-9_]*(?:secret|password|passwd|token|api_key|apikey|session_key)[a-z0-9_]*"
    r"(?:[\"']?\s*=\s*[\"']?|[\"']\s*:\s*[\"']))(?P<value>[^\s\"',;&]+)",
    re.IGNORECASE,
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# Environment variables whose values are secrets wherever they appear in a text.
_SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|APIKEY|CREDENTIAL|PRIVATE_KEY)", re.I)
_URL_NAMES = ("MLFLOW_TRACKING_URI", "PUSHGATEWAY_URL", "DVC_REMOTE_URL")
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words


def url(value: str) -> str:
    """A URL with any user:password part and secret query values masked."""
    return text(value, env={})


def _secret_values(env: Mapping[str, str]) -> list[str]:
    values = [v for k, v in env.items() if _SECRET_NAME.search(k) and len(v.strip()) >= MIN_SECRET_LEN]
    for name in _URL_NAMES:  # the credential part of a configured URL, also when printed decoded
        m = _USERINFO.search(env.get(name, ""))
        if m:
            values += [p for p in re.split(r"[:]", m.group("userinfo")) if len(p) >= MIN_SECRET_LEN]
    return sorted({v.strip() for v in values}, key=len, reverse=True)


def text(value: str, env: Mapping[str, str] | None = None) -> str:
    """`value` with every secret it may carry masked (`env` defaults to the process environment)."""
    out = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", value)
    out = _QUERY.sub(lambda m: f"{m.group('key')}{MASK}", out)
    out = _AUTH_FIELD.sub(lambda m: f"{m.group('key')}{MASK}", out)
    out = _AUTH_HEADER.sub(lambda m: f"{m.group('key')}{MASK}", out)
    out = _ASSIGNMENT.sub(lambda m: f"{m.group('key')}{MASK}", out)
    out = _AWS_KEY_ID.sub(MASK, out)
    for secret in _secret_values(os.environ if env is None else env):
        out = out.replace(secret, MASK)
    return out
