"""REST endpoints for releases and their assets, check runs, and Actions (workflows, runs, artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehearsal.forge_core import (
    API_ORIGIN,
    UPLOADS_ORIGIN,
    ApiError,
    Json,
    Request,
    Response,
    not_found,
    now_iso,
    paginate,
    user_json,
    validation_failed,
)
from rehearsal.forge_model import api, authorship, html

if TYPE_CHECKING:
    from rehearsal.forge import Forge
    from rehearsal.forge_http import Router


def asset_json(forge: Forge, asset_id: int) -> Json:
    asset = forge.store.assets.get(asset_id)
    if asset is None:
        raise not_found()
    tag = forge.store.releases[asset["release_id"]]["tag_name"]
    return {
        "id": asset_id,
        "node_id": f"RA_{asset_id}",
        "url": api(forge, f"/releases/assets/{asset_id}"),
        "browser_download_url": html(forge, f"/releases/download/{tag}/{asset['name']}"),
        "name": asset["name"],
        "label": asset.get("label"),
        "state": "uploaded",
        "content_type": asset["content_type"],
        "size": asset["size"],
        "download_count": 0,
        "created_at": asset["created_at"],
        "updated_at": asset["created_at"],
        "uploader": user_json(asset["created_by"]["actor"]),
    }


def release_json(forge: Forge, release_id: int) -> Json:
    rel = forge.store.releases.get(release_id)
    if rel is None:
        raise not_found()
    assets = sorted(a for a, v in forge.store.assets.items() if v["release_id"] == release_id)
    return {
        "id": release_id,
        "node_id": f"RE_{release_id}",
        "url": api(forge, f"/releases/{release_id}"),
        "html_url": html(forge, f"/releases/tag/{rel['tag_name']}"),
        "assets_url": api(forge, f"/releases/{release_id}/assets"),
        "upload_url": f"{UPLOADS_ORIGIN}/repos/{forge.full_name}/releases/{release_id}/assets{{?name,label}}",
        "tarball_url": api(forge, f"/tarball/{rel['tag_name']}"),
        "zipball_url": api(forge, f"/zipball/{rel['tag_name']}"),
        **{
            k: rel[k]
            for k in (
                "tag_name",
                "target_commitish",
                "name",
                "body",
                "draft",
                "prerelease",
                "created_at",
                "published_at",
            )
        },
        "author": user_json(rel["created_by"]["actor"]),
        "assets": [asset_json(forge, a) for a in assets],
        "latest": forge.latest_release == release_id,
        "created_by": rel["created_by"],
    }


def create_release(forge: Forge, req: Request) -> Response:
    who = req.who()
    data = req.json()
    tag = req.require(data, "tag_name")
    if any(r["tag_name"] == tag for r in forge.store.releases.values()):
        raise validation_failed("Release", "already_exists", "tag_name")
    target = data.get("target_commitish") or forge.default_branch
    if forge.git.refs().get(f"refs/tags/{tag}") is None:  # GitHub creates a missing tag at the target
        sha = forge.git.rev_parse(target)
        if sha is None:
            raise validation_failed("Release", "invalid", "target_commitish")
        forge.git.create_tag(tag, sha)
    release_id, created = forge.store.new_id(), now_iso()
    draft, prerelease = bool(data.get("draft")), bool(data.get("prerelease"))
    forge.store.releases[release_id] = {
        "tag_name": tag,
        "target_commitish": target,
        "name": data.get("name") or tag,
        "body": data.get("body"),
        "draft": draft,
        "prerelease": prerelease,
        "created_at": created,
        "published_at": None if draft else created,
        "created_by": authorship(who),
    }
    if str(data.get("make_latest", "true")).lower() != "false" and not draft and not prerelease:
        forge.latest_release = release_id
    if not draft:
        forge.emit(
            who, "release", "published", {"action": "published", "release": release_json(forge, release_id)}
        )
    return Response.json(release_json(forge, release_id), 201)


def list_releases(forge: Forge, req: Request) -> Response:
    return paginate(req, [release_json(forge, r) for r in sorted(forge.store.releases, reverse=True)])


def get_release(forge: Forge, req: Request) -> Response:
    return Response.json(release_json(forge, int(req.params["id"])))


def update_release(forge: Forge, req: Request) -> Response:
    """PATCH …/releases/{id}: name, body and `make_latest` (a rollback points PR gates back)."""
    req.who()
    release_id = int(req.params["id"])
    if release_id not in forge.store.releases:
        raise not_found()
    data = req.json()
    release = forge.store.releases[release_id]
    for key in ("name", "body"):
        if key in data:
            release[key] = data[key]
    if (
        str(data.get("make_latest", "")).lower() == "true"
        and not release["draft"]
        and not release["prerelease"]
    ):
        forge.latest_release = release_id
    return Response.json(release_json(forge, release_id))


def latest_release(forge: Forge, req: Request) -> Response:
    if forge.latest_release is None:
        raise not_found()
    return Response.json(release_json(forge, forge.latest_release))


def release_by_tag(forge: Forge, req: Request) -> Response:
    for release_id, rel in forge.store.releases.items():
        if rel["tag_name"] == req.params["tag"]:
            return Response.json(release_json(forge, release_id))
    raise not_found()


def upload_asset(forge: Forge, req: Request) -> Response:
    who = req.who()
    release_id = int(req.params["id"])
    release_json(forge, release_id)
    name = req.query.get("name")
    if not name:
        raise ApiError(422, 'Invalid request.\n\n"name" wasn\'t supplied as a query parameter.')
    if any(a["release_id"] == release_id and a["name"] == name for a in forge.store.assets.values()):
        raise validation_failed("ReleaseAsset", "already_exists", "name")
    asset_id = forge.store.new_id()
    path = forge.root / "assets" / str(asset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(req.body)
    forge.store.assets[asset_id] = {
        "release_id": release_id,
        "name": name,
        "label": req.query.get("label"),
        "size": len(req.body),
        "content_type": req.headers.get("content-type", "application/octet-stream"),
        "path": str(path),
        "created_at": now_iso(),
        "created_by": authorship(who),
    }
    return Response.json(asset_json(forge, asset_id), 201)


def get_asset(forge: Forge, req: Request) -> Response:
    asset_id = int(req.params["id"])
    meta = asset_json(forge, asset_id)
    if "application/octet-stream" in req.headers.get("accept", ""):
        data = Path(forge.store.assets[asset_id]["path"]).read_bytes()
        return Response(200, data, {"Content-Type": meta["content_type"]})
    return Response.json(meta)


def list_assets(forge: Forge, req: Request) -> Response:
    return paginate(req, release_json(forge, int(req.params["id"]))["assets"])


def download_asset(forge: Forge, req: Request) -> Response:
    for asset in forge.store.assets.values():
        if (
            asset["name"] == req.params["name"]
            and forge.store.releases[asset["release_id"]]["tag_name"] == req.params["tag"]
        ):
            return Response(200, Path(asset["path"]).read_bytes(), {"Content-Type": asset["content_type"]})
    raise not_found()


def check_json(forge: Forge, check_id: int) -> Json:
    check = forge.store.check_runs.get(check_id)
    if check is None:
        raise not_found()
    pulls = [
        {"number": n, "head": {"ref": p["head_ref"], "sha": p["head_sha"]}, "base": {"ref": p["base_ref"]}}
        for n, p in forge.store.pulls.items()
        if p["head_sha"] == check["head_sha"]
    ]
    return {
        "id": check_id,
        "node_id": f"CR_{check_id}",
        "url": api(forge, f"/check-runs/{check_id}"),
        "html_url": html(forge, f"/runs/{check_id}"),
        **check,
        "app": {
            "slug": check.get("app_slug", "github-actions"),
            "name": check.get("app_slug", "github-actions"),
        },
        "pull_requests": pulls,
    }


def new_check(forge: Forge, sha: str, data: dict[str, Any], author: Json) -> int:
    check_id, at = forge.store.new_id(), now_iso()
    conclusion = data.get("conclusion")
    status = "completed" if conclusion else data.get("status", "queued")
    forge.store.check_runs[check_id] = {
        "name": data["name"],
        "head_sha": sha,
        "status": status,
        "conclusion": conclusion,
        "started_at": data.get("started_at") or at,
        "completed_at": at if status == "completed" else None,
        "details_url": data.get("details_url"),
        "external_id": data.get("external_id"),
        "output": data.get("output") or {"title": None, "summary": None},
        "workflow": data.get("workflow"),
        "run_id": data.get("run_id"),
        "app_slug": data.get("app_slug", "github-actions"),
        "created_by": author,
    }
    return check_id


def create_check(forge: Forge, req: Request) -> Response:
    who = req.who()
    if who.kind == "user":
        raise ApiError(403, "You must authenticate via a GitHub App.")
    data = req.json()
    for key in ("name", "head_sha"):
        req.require(data, key)
    sha = forge.git.rev_parse(data["head_sha"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {data['head_sha']}")
    app_slug = "github-actions" if who.kind == "github_token" else who.actor.removesuffix("[bot]")
    check_id = new_check(forge, sha, {**data, "app_slug": app_slug, "run_id": who.run_id}, authorship(who))
    return Response.json(check_json(forge, check_id), 201)


def update_check(forge: Forge, req: Request) -> Response:
    req.who()
    check_id = int(req.params["id"])
    check_json(forge, check_id)
    data, check = req.json(), forge.store.check_runs[check_id]
    for key in ("name", "details_url", "external_id", "output", "status", "conclusion"):
        if key in data:
            check[key] = data[key]
    if data.get("conclusion"):
        check.update(status="completed", completed_at=now_iso())
    return Response.json(check_json(forge, check_id))


def get_check(forge: Forge, req: Request) -> Response:
    return Response.json(check_json(forge, int(req.params["id"])))


def checks_for_ref(forge: Forge, req: Request) -> Response:
    sha = forge.git.rev_parse(req.params["ref"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['ref']}")
    name, status = req.query.get("check_name"), req.query.get("status")
    found = [
        c
        for c in sorted(forge.store.check_runs, reverse=True)
        if forge.store.check_runs[c]["head_sha"] == sha
    ]
    if req.query.get("filter", "latest") == "latest":  # the newest run of each name
        newest: dict[str, int] = {}
        for c in found:
            newest.setdefault(forge.store.check_runs[c]["name"], c)
        found = sorted(newest.values(), reverse=True)
    runs = [check_json(forge, c) for c in found]
    runs = [r for r in runs if (not name or r["name"] == name) and (not status or r["status"] == status)]
    return Response.json({"total_count": len(runs), "check_runs": runs})


def workflow_exists(forge: Forge, file: str, ref: str) -> bool:
    return forge.git.git_ok("cat-file", "-e", f"{ref}:.github/workflows/{file}")


def set_workflow(forge: Forge, req: Request) -> Response:
    who = req.who()
    file, action = req.params["file"], req.params["action"]
    if not workflow_exists(forge, file, forge.default_branch):
        raise not_found()
    state = "active" if action == "enable" else "disabled_manually"
    forge.store.workflows[file] = {"state": state, **authorship(who), "at": now_iso()}
    return Response.empty()


def get_workflow(forge: Forge, req: Request) -> Response:
    file = req.params["file"]
    if not workflow_exists(forge, file, forge.default_branch):
        raise not_found()
    state = forge.store.workflows.get(file, {}).get("state", "active")
    return Response.json({"id": file, "name": file, "path": f".github/workflows/{file}", "state": state})


def dispatch_workflow(forge: Forge, req: Request) -> Response:
    who = req.who()
    file, data = req.params["file"], req.json()
    ref = req.require(data, "ref")
    if forge.git.rev_parse(ref) is None:
        raise ApiError(422, f"No ref found for: {ref}")
    if not workflow_exists(forge, file, ref):
        raise not_found()
    payload = {
        "ref": ref if ref.startswith("refs/") else f"refs/heads/{ref}",
        "workflow": f".github/workflows/{file}",
        "inputs": data.get("inputs") or {},
    }
    forge.emit(who, "workflow_dispatch", None, payload)  # GitHub starts these even for GITHUB_TOKEN
    return Response.empty()


def run_json(forge: Forge, run_id: int) -> Json:
    run = forge.store.runs.get(run_id)
    if run is None:
        raise not_found()
    return {
        "url": api(forge, f"/actions/runs/{run_id}"),
        "html_url": html(forge, f"/actions/runs/{run_id}"),
        **run,
    }


def get_run(forge: Forge, req: Request) -> Response:
    return Response.json(run_json(forge, int(req.params["id"])))


def list_runs(forge: Forge, req: Request) -> Response:
    keys = ("event", "status", "head_sha", "branch")
    runs = [run_json(forge, r) for r in sorted(forge.store.runs, reverse=True)]
    for key in keys:
        if value := req.query.get(key):
            field = "head_branch" if key == "branch" else key
            runs = [
                r
                for r in runs
                if str(r.get(field)) == value or (key == "status" and r.get("conclusion") == value)
            ]
    return Response.json({"total_count": len(runs), "workflow_runs": runs})


def artifact_json(forge: Forge, artifact_id: int) -> Json:
    art = forge.store.artifacts[artifact_id]
    return {
        "id": artifact_id,
        "node_id": f"AR_{artifact_id}",
        "url": api(forge, f"/actions/artifacts/{artifact_id}"),
        "archive_download_url": f"{API_ORIGIN}/repos/{forge.full_name}/actions/artifacts/{artifact_id}/zip",
        "expired": False,
        **art,
        "workflow_run": {"id": art["run_id"]},
    }


def list_artifacts(forge: Forge, req: Request) -> Response:
    run_id = int(req.params["id"]) if "id" in req.params else None
    name = req.query.get("name")
    arts = [
        artifact_json(forge, a)
        for a in sorted(forge.store.artifacts)
        if (run_id is None or forge.store.artifacts[a]["run_id"] == run_id)
        and (not name or forge.store.artifacts[a]["name"] == name)
    ]
    return Response.json({"total_count": len(arts), "artifacts": arts})


def add_routes(router: Router) -> None:
    repo = "/repos/{owner}/{repo}"
    router.add("POST", f"{repo}/releases", create_release)
    router.add("GET", f"{repo}/releases", list_releases)
    router.add("GET", f"{repo}/releases/latest", latest_release)
    router.add("GET", f"{repo}/releases/tags/{{tag:path}}", release_by_tag)
    router.add("GET", f"{repo}/releases/assets/{{id:int}}", get_asset)
    router.add("GET", f"{repo}/releases/{{id:int}}", get_release)
    router.add("PATCH", f"{repo}/releases/{{id:int}}", update_release)
    router.add("POST", f"{repo}/releases/{{id:int}}/assets", upload_asset)
    router.add("GET", f"{repo}/releases/{{id:int}}/assets", list_assets)
    router.add("GET", "/{owner}/{repo}/releases/download/{tag}/{name}", download_asset)
    router.add("POST", f"{repo}/check-runs", create_check)
    router.add("GET", f"{repo}/check-runs/{{id:int}}", get_check)
    router.add("PATCH", f"{repo}/check-runs/{{id:int}}", update_check)
    router.add("GET", f"{repo}/commits/{{ref}}/check-runs", checks_for_ref)
    router.add("PUT", f"{repo}/actions/workflows/{{file}}/{{action:(?:enable|disable)}}", set_workflow)
    router.add("GET", f"{repo}/actions/workflows/{{file}}", get_workflow)
    router.add("POST", f"{repo}/actions/workflows/{{file}}/dispatches", dispatch_workflow)
    router.add("GET", f"{repo}/actions/runs", list_runs)
    router.add("GET", f"{repo}/actions/runs/{{id:int}}", get_run)
    router.add("GET", f"{repo}/actions/runs/{{id:int}}/artifacts", list_artifacts)
    router.add("GET", f"{repo}/actions/artifacts", list_artifacts)
