"""The forge's shared vocabulary: identities, requests, responses, API errors and GitHub's URL shapes."""

from __future__ import annotations

import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from rehearsal import scopes

TokenKind = Literal["user", "github_token", "app"]
Json = dict[str, Any]

# The URLs GitHub puts in its payloads; `gh` sends every one of them to the forge's socket.
API_ORIGIN = "https://api.github.com"
HTML_ORIGIN = "https://github.com"
UPLOADS_ORIGIN = "https://uploads.github.com"
DOCS_URL = "https://docs.github.com/rest"
log = logging.getLogger("rehearsal.forge")


@dataclass(frozen=True)
class Identity:
    """Who makes a request: resolved from a token the forge minted."""

    kind: TokenKind | Literal["admin"]
    actor: str
    run_id: int | None = None
    # The scopes of a run's GITHUB_TOKEN (its workflow's `permissions:`) or of an App token minted
    # for some permissions (rehearsal/scopes.py); None: not restricted by the forge.
    scopes: tuple[tuple[str, str], ...] | None = None

    @property
    def triggers(self) -> bool:
        """GitHub starts no workflow for events made with a workflow's GITHUB_TOKEN."""
        return self.kind != "github_token"


class ApiError(Exception):
    """An HTTP error with GitHub's body shape: {"message", "documentation_url", "errors"?}."""

    def __init__(self, status: int, message: str, errors: list[Json] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> Json:
        out: Json = {"message": self.message, "documentation_url": DOCS_URL}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def missing_scope(identity: Identity | None, need: scopes.Need | None) -> str | None:
    """The `scope: level` a scoped token lacks for a request that needs `need`; else None."""
    if identity is None or identity.scopes is None or need is None:
        return None
    return None if scopes.allows(dict(identity.scopes), need) else scopes.describe(need)


def check_scope(identity: Identity | None, method: str, path: str) -> None:
    """GitHub's answer to a scoped token (a run's GITHUB_TOKEN, an App token asked for some
    permissions) used beyond its scopes; the forge's log names the scope it lacks."""
    lacking = missing_scope(identity, scopes.required(method, path))
    if lacking is not None:
        log.warning("forge: 403 for %s %s: the token lacks %s", method, path, lacking)
        raise ApiError(403, "Resource not accessible by integration")


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, message)


def validation_failed(resource: str, code: str, field_name: str, message: str | None = None) -> ApiError:
    error: Json = {"resource": resource, "code": code, "field": field_name}
    if message is not None:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


@dataclass
class Request:
    """A parsed API request; `params` are the path's named groups, already percent-decoded."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    identity: Identity | None
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Json:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "Problems parsing JSON")
        return data

    def require(self, data: Json, key: str) -> Any:
        """A required field of the JSON body, refused the way GitHub words it when absent."""
        if data.get(key) in (None, ""):
            raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
        return data[key]

    def who(self) -> Identity:
        if self.identity is None:
            raise ApiError(401, "Requires authentication")
        return self.identity

    def origin(self) -> str:
        """Where links in this response should point: GitHub's host when gh came over the socket."""
        host = self.headers.get("host", "")
        return API_ORIGIN if host.endswith("github.com") or not host else f"http://{host}"


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(data, indent=1).encode(), hdrs)

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status)


def paginate(req: Request, items: list[Json]) -> Response:
    """One page of `items` (?per_page default 30, max 100; ?page from 1) with GitHub's Link header."""
    try:
        per_page = min(max(int(req.query.get("per_page", "30")), 1), 100)
        page = max(int(req.query.get("page", "1")), 1)
    except ValueError as exc:
        raise ApiError(422, "per_page and page must be integers") from exc
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
        if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
            query = urlencode({**req.query, "per_page": per_page, "page": number})
            links.append(f'<{req.origin()}{req.path}?{query}>; rel="{rel}"')
    return Response.json(chunk, headers={"Link": ", ".join(links)} if links else None)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def user_id(login: str) -> int:
    """A stable numeric id per login (GitHub's ids are stable; their values do not matter here)."""
    return 10_000 + zlib.crc32(login.encode()) % 90_000_000


def user_json(login: str) -> Json:
    bot = login.endswith("[bot]")
    return {
        "login": login,
        "id": user_id(login),
        "node_id": f"U_{user_id(login)}",
        "type": "Bot" if bot else "User",
        "site_admin": False,
        "html_url": f"{HTML_ORIGIN}/{login}" if not bot else f"{HTML_ORIGIN}/apps/{login[:-5]}",
        "url": f"{API_ORIGIN}/users/{login}",
    }


@dataclass
class Store:
    """Everything the forge holds besides git; guarded by the forge's lock, persisted as state.json."""

    issues: dict[int, Json] = field(default_factory=dict)  # pull requests too: one number space
    pulls: dict[int, Json] = field(default_factory=dict)  # the pull-only part, keyed by issue number
    comments: dict[int, Json] = field(default_factory=dict)
    labels: dict[str, Json] = field(default_factory=dict)  # by lower-case name, as GitHub matches them
    releases: dict[int, Json] = field(default_factory=dict)
    assets: dict[int, Json] = field(default_factory=dict)
    check_runs: dict[int, Json] = field(default_factory=dict)
    runs: dict[int, Json] = field(default_factory=dict)
    artifacts: dict[int, Json] = field(default_factory=dict)
    images: list[Json] = field(default_factory=list)
    pushes: list[Json] = field(default_factory=list)
    refused_pushes: list[Json] = field(default_factory=list)
    events: list[Json] = field(default_factory=list)
    suppressed_events: list[Json] = field(default_factory=list)
    writes: list[Json] = field(default_factory=list)
    workflows: dict[str, Json] = field(default_factory=dict)
    last_number: int = 0
    last_id: int = 0

    def new_number(self) -> int:
        self.last_number += 1
        return self.last_number

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id
