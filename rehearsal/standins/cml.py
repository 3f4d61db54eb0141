"""CML 0.20.4's `comment create|update` for the rehearsal: CML's repository, token, target and watermark rules
and its GitHub REST calls (src/cml.js, src/commenttarget.js, src/watermark.js, src/drivers/github.js).

Differences: the GitHub API (api.github.com) is the forge (REHEARSAL_FORGE_URL); published images go to
REHEARSAL_STORE/published/ instead of asset.cml.dev; the Markdown is not re-serialised by remark (only the
published URLs change); --watch is refused (it never returns); no telemetry, no global git safe.directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rehearsal.standins import rest
from rehearsal.standins.cml_args import Parsed, UsageError, parse, usage

WATERMARK_IMAGE = "https://cml.dev/watermark.png"
LEVELS = ("error", "warn", "info", "debug")
CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)
INLINE = re.compile(
    r'(?P<head>!?\[[^\]\n]*\]\(\s*)(?P<url><[^>\n]*>|[^\s)]+)(?P<tail>(?:\s+"(?P<title>[^"\n]*)")?\s*\))'
)
DEFINITION = re.compile(
    r'^(?P<head> {0,3}\[[^\]\n]+\]:\s*)(?P<url><[^>\n]*>|\S+)(?P<tail>(?:\s+"(?P<title>[^"\n]*)")?[ \t]*)$',
    re.M,
)


class CmlError(Exception):
    """What CML's top level logs with `logger.error(err)` before exiting 1."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Log:
    """winston as CML configures it when stdout is not a TTY: one JSON object per line on stderr."""

    def __init__(self, level: str) -> None:
        self.limit = LEVELS.index(level) if level in LEVELS else 2

    def log(self, level: str, message: str, **extra: object) -> None:
        if LEVELS.index(level) <= self.limit:
            sys.stderr.write(json.dumps({"level": level, "message": message, **extra}) + "\n")


class Watermark:
    """src/watermark.js: `![](https://cml.dev/watermark.png#<sha> "CML watermark <label>")`."""

    def __init__(self, label: str, workflow: str, run: str, sha: str | None) -> None:
        self.label = label.replace("{workflow}", workflow, 1).replace("{run}", run, 1)
        self.sha = sha

    @property
    def title(self) -> str:
        title = f"CML watermark {self.label}".strip()
        for char in ("_", "*", "[", "<"):  # GitHub escapes these in stored bodies; CML pre-escapes them
            title = title.replace(char, "\\" + char)
        return title

    def url(self, *, with_sha: bool = True) -> str:
        return f"{WATERMARK_IMAGE}#{self.sha}" if with_sha and self.sha else WATERMARK_IMAGE

    def __str__(self) -> str:
        return f'![]({self.url()} "{self.title}")'

    def is_in(self, text: str) -> bool:
        pattern = rf'!\[\]\({re.escape(self.url(with_sha=False))}#[0-9a-fA-F]+ "{re.escape(self.title)}"\)'
        return re.search(pattern, text) is not None


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def remote_url() -> str:
    """src/cml.js gitRemoteUrl: `git config --get remote.origin.url`, no credentials, https unless http."""
    proc = git("config", "--get", "remote.origin.url")
    if proc.returncode != 0:
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        raise CmlError("Command failed: git config --get remote.origin.url\n" + proc.stderr)
    url = proc.stdout.strip()
    scp = re.match(r"^(?:ssh://)?[^@/]+@(?P<host>[^:/]+)[:/](?P<path>.+)$", url)
    if scp:
        return f"https://{scp['host']}/{scp['path']}"
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{'http' if parts.scheme == 'http' else 'https'}://{netloc}{parts.path}"


class Github:
    """src/drivers/github.js, the calls `comment create|update` makes, against the forge."""

    def __init__(self, repo: str, token: str, env: Mapping[str, str]) -> None:
        if not repo:
            raise CmlError("repo not found")
        if not token:
            raise CmlError("token not found")
        parts = urlsplit(repo)
        if not parts.scheme or not parts.netloc:
            raise CmlError("Invalid URL")
        self.owner, _, rest_path = parts.path.lstrip("/").partition("/")
        self.name = rest_path.split("/")[0]
        self.token, self.env = token, env
        try:  # github.com means api.github.com, which the forge stands for; other hosts are not reachable
            self.base = rest.api_base(env, repo)
        except rest.RestError as exc:
            raise CmlError(exc.message) from exc

    def call(self, method: str, path: str, body: object = None) -> rest.Reply:
        try:
            return rest.call(
                method,
                self.base + path,
                body,
                token=self.token,
                headers={"Accept": "application/vnd.github.v3+json"},
            )
        except rest.RestError as exc:
            raise CmlError(exc.message, exc.status or None) from exc

    def event(self) -> dict[str, object]:
        path = self.env.get("GITHUB_EVENT_PATH", "")
        if path and Path(path).is_file():
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        return {}

    @property
    def sha(self) -> str:
        pull = self.event().get("pull_request")
        if self.env.get("GITHUB_EVENT_NAME") == "pull_request" and isinstance(pull, dict):
            return str(pull["head"]["sha"])
        return self.env.get("GITHUB_SHA", "")

    @property
    def pr(self) -> str | None:
        pull = self.event().get("pull_request")
        if self.env.get("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target") and isinstance(
            pull, dict
        ):
            return str(pull["number"])
        return None

    def repo_path(self) -> str:
        return f"/repos/{self.owner}/{self.name}"

    def comments(self, target: dict[str, str]) -> list[dict[str, object]]:
        if target["target"] == "commit":  # octokit.paginate: 100 per page, following Link rel="next"
            found: list[dict[str, object]] = []
            path = f"{self.repo_path()}/commits/{target['commitSha']}/comments?per_page=100"
            while path:
                reply = self.call("GET", path)
                found += reply.data or []
                link = re.search(r'<([^>]+)>;\s*rel="next"', reply.headers.get("link", ""))
                path = urlsplit(link[1])._replace(scheme="", netloc="").geturl() if link else ""
            return found
        number = target.get("prNumber") or target.get("issueId")
        reply = self.call("GET", f"{self.repo_path()}/issues/{number}/comments")  # one page, as CML asks
        return list(reply.data or [])

    def create(self, target: dict[str, str], body: str) -> str:
        if target["target"] == "commit":
            path = f"{self.repo_path()}/commits/{target['commitSha']}/comments"
        else:
            path = f"{self.repo_path()}/issues/{target.get('prNumber') or target.get('issueId')}/comments"
        return str(self.call("POST", path, {"body": body}).data["html_url"])

    def update(self, target: dict[str, str], comment_id: object, body: str) -> str:
        kind = "comments" if target["target"] == "commit" else "issues/comments"
        return str(
            self.call("PATCH", f"{self.repo_path()}/{kind}/{comment_id}", {"body": body}).data["html_url"]
        )

    def commit_prs(self, sha: str) -> list[str]:
        reply = self.call("GET", f"{self.repo_path()}/commits/{sha}/pulls?state=open")
        return [str(pr["html_url"]) for pr in reply.data or []]


def comment_target(drv: Github, target: str, sha: str, log: Log) -> dict[str, str]:
    """src/commenttarget.js."""
    lowered = target.lower()
    if lowered == "commit":
        return {"target": "commit", "commitSha": sha}
    if lowered in ("pr", "auto"):
        if drv.pr:
            return {"target": "pr", "prNumber": drv.pr}
        urls = drv.commit_prs(sha)
        if urls:
            return {"target": "pr", "prNumber": urls[0].rsplit("/", 1)[-1]}
        if lowered == "auto":
            return {"target": "commit", "commitSha": sha}
        raise CmlError(f'PR for commit sha "{sha}" not found')
    kind, separator, ident = target.partition("/")
    if not separator:
        raise CmlError(f'Failed to parse comment --target="{target}"')
    key = {"commit": "commitSha", "pr": "prNumber", "issue": "issueId"}.get(kind.lower())
    if key is None:
        raise CmlError(f'unsupported comment target "{target}"')
    log.log("debug", f"Comment target {target}")
    return {"target": kind.lower(), key: ident}


def publish_file(store: Path, data: bytes, mime: str, publish_url: str) -> str:
    """CML's publish(): upload; `?cml=<type>` (watermarkUri), `&cache-bypass=<uuid>` (preventcacheUri)."""
    digest = hashlib.sha256(data).hexdigest()
    folder = store / "published"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / digest).write_bytes(data)
    (folder / f"{digest}.json").write_text(json.dumps({"mime": mime, "size": len(data)}), encoding="utf-8")
    kind = mime.rsplit("/", maxsplit=1)[-1]
    return f"{publish_url.rstrip('/')}/{digest}?cml={kind}&cache-bypass={uuid.uuid4()}"


def publish_links(report: str, markdown_file: Path, opts: Parsed, store: Path | None, log: Log) -> str:
    """Images, links and definitions naming a local file (or a data: image) point at its published copy."""

    def publish(url: str) -> str | None:
        raw = url[1:-1] if url.startswith("<") else url
        if opts.flag("publish-native"):
            raise CmlError("Github does not support publish!")
        if store is None:
            raise CmlError("REHEARSAL_STORE is not set: the rehearsal keeps published files there")
        if raw.startswith("data:image/"):
            mime = raw[len("data:") : raw.index(";")]
            return publish_file(store, base64.b64decode(raw.split(",", 1)[1]), mime, opts.text("publish-url"))
        path = (markdown_file.parent / unquote(raw)).resolve()
        if "://" in raw or not path.is_file():
            log.log("debug", f"file not found: {raw} ({path})")
            return None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return publish_file(store, path.read_bytes(), mime, opts.text("publish-url"))

    def replace(match: re.Match[str]) -> str:
        if (match["title"] or "").startswith("CML watermark"):
            return match[0]
        published = publish(match["url"])
        return match[0] if published is None else f"{match['head']}{published}{match['tail']}"

    pieces, last = [], 0
    for code in CODE.finditer(report):  # code spans and fences hold no links for remark
        pieces.append(DEFINITION.sub(replace, INLINE.sub(replace, report[last : code.start()])))
        pieces.append(code[0])
        last = code.end()
    pieces.append(DEFINITION.sub(replace, INLINE.sub(replace, report[last:])))
    return "".join(pieces)


def comment(opts: Parsed, env: Mapping[str, str], log: Log) -> str:
    """src/cml.js: the CML constructor (repo, token, driver), then commentCreate."""
    repo = (opts.text("repo") or remote_url()).rstrip("/").removesuffix(".git")
    token = opts.text("driver-token") or next(
        (
            env[k]
            for k in ("REPO_TOKEN", "repo_token", "GITHUB_TOKEN", "GITLAB_TOKEN", "BITBUCKET_TOKEN")
            if env.get(k)
        ),
        "",
    )
    driver = opts.text("driver")
    if not driver:
        host = urlsplit(repo).hostname if "://" in repo else None
        if "://" not in repo:
            raise CmlError("Invalid URL")
        driver = {"github.com": "github", "gitlab.com": "gitlab"}.get(host or "", "")
        if not driver and host and re.search(r"bitbucket\.(com|org)", host):
            driver = "bitbucket"
        driver = driver or (
            "github" if env.get("GITHUB_REPOSITORY") else "gitlab" if env.get("CI_PROJECT_URL") else ""
        )
        driver = driver or ("bitbucket" if env.get("BITBUCKET_REPO_UUID") else "")
    if not driver:
        raise CmlError("driver not set")
    if driver != "github":
        raise CmlError(f"driver {driver}: the rehearsal emulates only the github driver")
    drv = Github(repo, token, env)
    update = opts.command == "update" or opts.flag("update")
    if opts.flag("rm-watermark") and update:
        raise CmlError("watermarks are mandatory for updatable comments")
    if opts.flag("watch"):
        raise CmlError("--watch waits for file changes forever; the rehearsal does not emulate it")
    sha = opts.text("commit-sha") or drv.sha or git("rev-parse", "HEAD").stdout.strip()
    if not sha:
        log.log("warn", "Failed to obtain SHA. Perhaps not in the correct git folder")
    watermark = None
    if not opts.flag("rm-watermark"):
        watermark = Watermark(
            opts.text("watermark-title"),
            env.get("GITHUB_WORKFLOW", "undefined"),
            env.get("GITHUB_RUN_ID", "undefined"),
            sha or None,
        )
    markdown_file = Path(opts.markdown_file)
    try:
        report = markdown_file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CmlError(f"ENOENT: no such file or directory, open '{opts.markdown_file}'") from exc
    if watermark is not None:
        report = f"{report}\n\n{watermark}"
    if opts.flag("publish"):
        store = Path(env["REHEARSAL_STORE"]) if env.get("REHEARSAL_STORE") else None
        report = publish_links(report, markdown_file, opts, store, log)
    wanted = opts.text("target") or "auto"
    if opts.text("commit-sha"):  # legacy flags, as commenttarget.js maps them
        sys.stderr.write(
            '::warning::Deprecation warning: use --target="commit/<sha>" instead of --commit-sha=<sha>\n'
        )
        wanted = f"commit/{opts.text('commit-sha')}"
    if opts.flag("pr"):
        sys.stderr.write("::warning::Deprecation warning: use --target=pr instead of --pr\n")
        wanted = "pr"
    target = comment_target(drv, wanted, drv.sha or "undefined", log)
    if update:
        for existing in reversed(drv.comments(target)):
            if watermark is None or watermark.is_in(str(existing.get("body") or "")):
                return drv.update(target, existing["id"], report)
    return drv.create(target, report)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = dict(os.environ if env is None else env)
    args = sys.argv[1:] if argv is None else argv
    try:
        opts = parse(args, environment)
    except UsageError as exc:
        sys.stderr.write(f"{usage('update')}\n\n{exc}\n")
        return 1
    if opts.flag("help"):
        sys.stdout.write(usage(opts.command) + "\n")
        return 0
    log = Log(opts.text("log"))
    try:
        url = comment(opts, environment, log)
    except CmlError as exc:
        extra = {"status": exc.status} if exc.status else {}
        log.log("error", str(exc), **extra)
        return 1
    sys.stdout.write(f"{url}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
