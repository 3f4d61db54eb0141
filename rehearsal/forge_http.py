"""The forge's HTTP side: TCP and unix-socket servers, request parsing, token auth, routing, git over HTTP."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import shutil
import socketserver
import sys
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from rehearsal.forge_core import ApiError, Identity, Request, Response, missing_scope, not_found
from rehearsal.forge_git import run_http_backend

if TYPE_CHECKING:
    from rehearsal.forge import Forge

log = logging.getLogger("rehearsal.forge")
Handler = Callable[["Forge", Request], Response]
GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git(?P<rest>/.*)?$")
CHUNK = 64 * 1024


class Router:
    """Routes written as GitHub documents them: `/repos/{owner}/{repo}/branches/{branch:path}`.

    A group is `{name}` (one segment), `{name:int}`, `{name:path}` (may hold `/`) or `{name:<regex>}`.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        def group(match: re.Match[str]) -> str:
            name, _, kind = match.group(1).partition(":")
            body = {"path": ".+", "int": r"\d+", "": "[^/]+"}.get(kind, kind)  # else: a regex
            return f"(?P<{name}>{body})"

        pattern = re.sub(r"\{([^}]+)\}", group, template)
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def dispatch(self, forge: Forge, req: Request) -> Response:
        allowed = False
        wanted = "GET" if req.method == "HEAD" else req.method
        for method, pattern, handler in self.routes:
            match = pattern.match(req.path)
            if match is None:
                continue
            if method != wanted:
                allowed = True
                continue
            req.params = {k: unquote(v) for k, v in match.groupdict().items()}
            owner, repo = req.params.get("owner"), req.params.get("repo")
            if owner is not None and (owner.lower(), (repo or "").lower()) != (
                forge.owner.lower(),
                forge.repo.lower(),
            ):
                raise not_found()
            return handler(forge, req)
        if allowed:
            raise ApiError(405, f"{req.method} is not allowed on {req.path}")
        raise not_found()


def token_from_header(value: str | None) -> str | None:
    """The token in `token X`, `Bearer X` or `Basic base64(user:X)` (actions/checkout: x-access-token:X)."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme in ("token", "bearer"):
        return rest.strip() or None
    if scheme == "basic":
        try:
            user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(
                401, "Bad credentials: the Basic authorization is not base64 of user:token"
            ) from exc
        return password or user or None
    raise ApiError(
        401, f"Bad credentials: unsupported authorization scheme {scheme!r} (use token, Bearer or Basic)"
    )


class ForgeHandler(BaseHTTPRequestHandler):
    """One handler for both servers; `forge` and `router` are set on a subclass per forge."""

    protocol_version = "HTTP/1.1"
    forge: ClassVar[Forge]
    router: ClassVar[Router]
    token: str | None = None

    def address_string(self) -> str:
        # On the unix socket client_address is a str (often empty), not (host, port).
        return self.client_address if isinstance(self.client_address, str) else str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:  # the base class's parameter name
        log.debug("%s %s", self.address_string() or "unix", format % args)

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PATCH(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def do_DELETE(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    def handle_any(self) -> None:
        target = self.path
        if "://" in target:  # absolute-form request line
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        path, _, query_string = target.partition("?")
        if path.startswith("/api/v3/"):  # GitHub Enterprise's prefix, which gh uses for a GH_HOST
            path = path[len("/api/v3") :]
        try:
            identity = self.identify()
            git = GIT_PATH.match(path)
            if git:
                self.serve_git(git, query_string, identity)
                return
            req = Request(
                method=self.command,
                path=path,
                query=dict(parse_qsl(query_string, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=b"".join(self.body_chunks()),
                identity=identity,
            )
            response = self.forge.handle(self.router, req)
        except ApiError as exc:
            response = Response.json(exc.body(), exc.status)
        except Exception as exc:  # a forge bug: answer 500 with the cause rather than drop the connection
            log.error("forge error on %s %s:\n%s", self.command, path, traceback.format_exc())
            response = Response.json({"message": f"forge internal error: {exc!r}"}, 500)
        self.send(response)

    def identify(self) -> Identity | None:
        token = self.token = token_from_header(self.headers.get("Authorization"))
        if token is None:
            return None
        identity = self.forge.identify(token)
        if identity is None:
            raise ApiError(401, "Bad credentials")
        return identity

    def send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def body_chunks(self) -> Iterator[bytes]:
        """The request body as it arrives: Content-Length or chunked transfer encoding (git sends both)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, CHUNK))
                    if not data:
                        return
                    remaining -= len(data)
                    yield data
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            data = self.rfile.read(min(remaining, CHUNK))
            if not data:
                return
            remaining -= len(data)
            yield data

    def serve_git(self, match: re.Match[str], query_string: str, identity: Identity | None) -> None:
        forge = self.forge
        if (match["owner"].lower(), match["repo"].lower()) != (forge.owner.lower(), forge.repo.lower()):
            self.send(Response(404, b"Repository not found.\n", {"Content-Type": "text/plain"}))
            return
        rest = match["rest"] or "/"
        if (
            rest.endswith("/git-receive-pack") or "service=git-receive-pack" in query_string
        ) and identity is None:
            # 401 with a challenge makes git retry with the credentials it has (URL user:token, helpers).
            message = (
                b"Anonymous push refused: authenticate with Basic x-access-token:<token> or a token header.\n"
            )
            self.send(
                Response(
                    401, message, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"}
                )
            )
            return
        push = rest.endswith("/git-receive-pack") or "service=git-receive-pack" in query_string
        lacking = missing_scope(identity, (("contents",), "write" if push else "read"))
        if identity is not None and lacking is not None:
            denied = f"remote: Permission to {forge.owner}/{forge.repo}.git denied to {identity.actor}.\n"
            log.warning("forge: 403 for git %s: the token lacks %s", rest, lacking)
            self.send(Response(403, denied.encode(), {"Content-Type": "text/plain"}))
            return
        env = {
            "PATH_INFO": f"/{forge.owner}/{forge.repo}.git{rest}",
            "QUERY_STRING": query_string,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "REMOTE_ADDR": "127.0.0.1",
            "FORGE_URL": forge.base_url,
        }
        if self.headers.get("Content-Length"):
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        for name, value in self.headers.items():
            if name.lower() not in ("authorization", "content-type", "content-length"):
                env["HTTP_" + name.upper().replace("-", "_")] = value
        if identity is not None and self.token is not None:
            env |= {
                "REMOTE_USER": identity.actor,
                "FORGE_TOKEN": self.token,
                "FORGE_ACTOR": identity.actor,
                "FORGE_TOKEN_KIND": identity.kind,
                "FORGE_RUN_ID": str(identity.run_id or ""),
            }
        cgi = run_http_backend(forge.git_root, env, self.body_chunks())
        try:
            self.send_response(cgi.status)
            for name, value in cgi.headers:
                self.send_header(name, value)
            self.send_header("Connection", "close")  # the CGI gives no length: the end of the body is EOF
            self.end_headers()
            shutil.copyfileobj(cgi.stdout, self.wfile, CHUNK)
        finally:
            cgi.finish()
            self.close_connection = True


class QuietDisconnects:
    """A client that hangs up before reading the answer (a cancelled job, a killed `gh`) is not a
    forge error: note it in one line instead of socketserver's traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            log.info("forge: client %s went away before its answer (%s)", client_address, exc)
            return
        super().handle_error(request, client_address)  # type: ignore[misc]


class TcpServer(QuietDisconnects, ThreadingHTTPServer):
    daemon_threads = True


class UnixServer(QuietDisconnects, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The same handler on a unix socket, for gh's `http_unix_socket`."""

    daemon_threads = True


def handler_for(forge: Forge, router: Router) -> type[ForgeHandler]:
    return type("BoundForgeHandler", (ForgeHandler,), {"forge": forge, "router": router})
