"""Test helpers: run a stand-in as act runs it (INPUT_* env, runner files); a small recording HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rehearsal.standins import find
from rehearsal.standins.catalog import PROJECT_ROOT
from rehearsal.standins.core import env_key


@dataclass
class StepRun:
    code: int
    log: str
    outputs: dict[str, str]
    exported: dict[str, str]
    paths: list[str]
    state: dict[str, str]


def read_file_commands(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE: `name=value` lines and `name<<DELIM ... DELIM` blocks."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            values[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        name, _, value = line.partition("=")
        values[name] = value
        index += 1
    return values


@dataclass
class Runner:
    """One job's runner: a workspace, runner files per step, and the environment act gives every step."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    state: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_RUN_ID": "101",
            "GITHUB_JOB": "build",
            "GITHUB_REPOSITORY": "acme/flightdelay",
            "GITHUB_REPOSITORY_OWNER": "acme",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_EVENT_NAME": "push",
            "REHEARSAL_STORE": str(self.root / "store"),
            **self.env,
        }

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def run(
        self, uses: str, inputs: dict[str, str] | None = None, stage: str = "main", **env: str
    ) -> StepRun:
        """`uses` as a workflow writes it; inputs as act passes them (the step's with: plus the defaults)."""
        found = find(uses)
        assert found is not None, f"no stand-in for {uses}"
        standin, sub = found
        action_dir = standin.action_dir(sub)
        script = (action_dir / f"{stage}.js").read_text()
        entry = script.split('"rehearsal.standins", "')[1].split('"')[0]
        files = {
            name: self.root / f"{name.lower()}.{len(self.state)}"
            for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE")
        }
        for path in files.values():
            path.write_text("")
        step_env = {
            **self.env,
            **{k: str(v) for k, v in files.items()},
            **env,
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        step_env.update(defaults(action_dir, step_env))
        step_env.update({env_key(k): v for k, v in (inputs or {}).items()})
        step_env.update({f"STATE_{k}": v for k, v in self.state.get(uses, {}).items()})
        proc = subprocess.run(
            [sys.executable, "-S", "-m", "rehearsal.standins", entry, stage, str(action_dir)],
            cwd=self.workspace,
            env=step_env,
            capture_output=True,
            text=True,
            check=False,
        )
        state = read_file_commands(files["GITHUB_STATE"])
        self.state.setdefault(uses, {}).update(state)
        return StepRun(
            proc.returncode,
            proc.stdout + proc.stderr,
            read_file_commands(files["GITHUB_OUTPUT"]),
            read_file_commands(files["GITHUB_ENV"]),
            files["GITHUB_PATH"].read_text().split(),
            state,
        )


def defaults(action_dir: Path, env: dict[str, str]) -> dict[str, str]:
    """act sets INPUT_<NAME> to the action.yml default (expressions evaluated) for every input left out."""
    from rehearsal.standins.actionyml import MISSING, read_action_yml

    token = env.get("GITHUB_TOKEN", "")
    expressions = {
        "${{ github.repository }}": env["GITHUB_REPOSITORY"],
        "${{ github.run_id }}": env["GITHUB_RUN_ID"],
        "${{ github.token }}": token,
        "${{ github.api_url }}": "https://api.github.com",
        "${{ github.server_url == 'https://github.com' && github.token || '' }}": token,
    }
    out: dict[str, str] = {}
    for name, spec in read_action_yml(action_dir / "action.yml").inputs.items():
        if spec.default is MISSING or spec.default is None:
            continue
        text = str(spec.default).lower() if isinstance(spec.default, bool) else str(spec.default)
        out[env_key(name)] = expressions.get(text, text)
    return out


Route = Callable[[str, str, Any], tuple[int, Any]]


@contextmanager
def http_server(route: Route) -> Iterator[tuple[str, list[tuple[str, str, Any, str]]]]:
    """A loopback server answering `route(method, path, body) -> (status, json)`; yields (URL, requests)."""
    seen: list[tuple[str, str, Any, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            seen.append((self.command, self.path, body, self.headers.get("Authorization", "")))
            status, answer = route(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.handle_one()

        def do_POST(self) -> None:
            self.handle_one()

        def do_PATCH(self) -> None:
            self.handle_one()

        def do_DELETE(self) -> None:
            self.handle_one()

        def log_message(self, format: str, *args: Any) -> None:  # the base class's parameter name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
