"""A small JSON-over-HTTP client for the stand-ins' calls to the forge (REST API and /_forge/ endpoints)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

GITHUB_API = "https://api.github.com"


class RestError(Exception):
    """A non-2xx answer, with GitHub's `message` when the body has one."""

    def __init__(self, method: str, url: str, status: int, message: str) -> None:
        super().__init__(f"{method} {url}: {status} {message}")
        self.method, self.url, self.status, self.message = method, url, status, message


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any
    headers: dict[str, str]


def call(
    method: str,
    url: str,
    body: object = None,
    *,
    token: str = "",
    scheme: str = "token",
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Reply:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RestError(method, url, 0, "not an http(s) URL")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    sent = {"Accept": "application/vnd.github+json", "User-Agent": "rehearsal-standin", **(headers or {})}
    if token:
        sent["Authorization"] = f"{scheme} {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        connection.request(method, target, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        reply_headers = {k.lower(): v for k, v in response.getheaders()}
    except OSError as exc:
        raise RestError(method, url, 0, f"no answer ({exc}); is the rehearsal forge running?") from exc
    finally:
        connection.close()
    try:
        data: Any = json.loads(raw) if raw.strip() else None
    except ValueError:
        data = raw.decode(errors="replace")
    if not 200 <= response.status < 300:
        message = data.get("message") if isinstance(data, dict) else None
        raise RestError(method, url, response.status, str(message or data or response.reason))
    return Reply(response.status, data, reply_headers)


def api_base(env: dict[str, str] | Any, url: str = GITHUB_API) -> str:
    """Where a GitHub API URL is served in the rehearsal: api.github.com (or the forge's URL) is the forge."""
    forge = str(env.get("REHEARSAL_FORGE_URL", "")).rstrip("/")
    host = urlsplit(url).netloc
    if not forge:
        raise RestError(
            "GET", url, 0, "REHEARSAL_FORGE_URL is not set: the rehearsal harness passes the forge's URL"
        )
    if host in ("api.github.com", "github.com", urlsplit(forge).netloc):
        return forge
    raise RestError(
        "GET", url, 0, f"{host} is not reachable in the rehearsal (only the forge, standing for github.com)"
    )
