"""The forge's own endpoints under /_forge/: git hooks, App tokens, images, artifacts, runs, state dump."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rehearsal.forge_core import ApiError, Identity, Json, Request, Response
from rehearsal.forge_git import ZERO_SHA
from rehearsal.forge_http import token_from_header
from rehearsal.forge_model import issue_json, pull_json
from rehearsal.forge_releases import check_json, release_json

if TYPE_CHECKING:
    from rehearsal.forge import Forge
    from rehearsal.forge_http import Router


def hook_identity(forge: Forge, req: Request) -> Identity | None:
    if req.identity is not None:
        return req.identity
    if forge.is_admin_secret(req.headers.get("x-forge-admin", "")):
        return Identity("admin", "forge-admin")
    return None


def updates_of(req: Request) -> list[Json]:
    updates = req.json().get("updates")
    if not isinstance(updates, list) or not all(
        isinstance(u, dict) and {"ref", "before", "after"} <= u.keys() for u in updates
    ):
        raise ApiError(422, "updates must be a list of {ref, before, after}")
    return updates


def refusal(forge: Forge, who: Identity, updates: list[Json]) -> list[str]:
    """GitHub's GH006 lines for a push the ruleset on the default branch forbids; [] when it may land."""
    main = f"refs/heads/{forge.default_branch}"
    for update in updates:
        if update["ref"] != main:
            continue
        head = f"error: GH006: Protected branch update failed for {main}."
        if update["after"] == ZERO_SHA:
            return [head, "error: Cannot delete this protected branch."]
        if who.actor not in forge.bypass and who.kind != "admin":
            return [
                head,
                "error: Changes must be made through a pull request. "
                'Required status check "gate" is expected.',
            ]
    return []


def pre_receive(forge: Forge, req: Request) -> Response:
    updates = updates_of(req)
    who = hook_identity(forge, req)
    if who is None:
        lines = [
            f"error: this push has no actor: push over {forge.git_url} with a token (x-access-token:<token>)."
        ]
        forge.store.refused_pushes.append(
            {"actor": None, "token_kind": None, "refs": updates, "reason": lines[0]}
        )
        return Response.json({"ok": False, "messages": lines})
    lines = refusal(forge, who, updates)
    if lines:
        forge.store.refused_pushes.append(
            {
                "actor": who.actor,
                "token_kind": who.kind,
                "run_id": who.run_id,
                "refs": updates,
                "reason": " ".join(lines),
            }
        )
    return Response.json({"ok": not lines, "messages": lines})


def post_receive(forge: Forge, req: Request) -> Response:
    updates = updates_of(req)
    who = hook_identity(forge, req)
    if who is None:  # pre-receive refused it already; nothing landed
        raise ApiError(401, "post-receive without an actor")
    forge.record_push(who, updates, via="seed" if who.kind == "admin" else "git")
    return Response.json({"ok": True, "messages": []})


def app_token(forge: Forge, req: Request) -> Response:
    data = req.json()
    app_id, key = str(data.get("app_id") or ""), str(data.get("private_key") or "")
    return Response.json(forge.app_token(app_id, key, data.get("permissions")), 201)


def add_image(forge: Forge, req: Request) -> Response:
    data = req.json()
    ref, digest = req.require(data, "ref"), req.require(data, "digest")
    return Response.json(forge.register_image(ref, digest, req.identity), 201)


def add_artifact(forge: Forge, req: Request) -> Response:
    data = req.json()
    run_id, name, path = (req.require(data, k) for k in ("run_id", "name", "path"))
    return Response.json(forge.register_artifact(int(run_id), name, path), 201)


def add_run(forge: Forge, req: Request) -> Response:
    run = req.json()
    req.require(run, "id")
    forge.record_run(run)
    return Response.json(forge.store.runs[int(run["id"])], 201)


def revoke_installation_token(forge: Forge, req: Request) -> Response:
    """DELETE /installation/token: an App's installation token revokes itself (the action's post step)."""
    who = req.who()
    if who.kind != "app":
        raise ApiError(
            403, "Resource not accessible by integration: only an installation token can revoke itself"
        )
    forge.revoke_token(token_from_header(req.headers.get("authorization")) or "")
    return Response.empty(204)


def get_state(forge: Forge, req: Request) -> Response:
    return Response.json(state_json(forge))


def state_json(forge: Forge) -> Json:
    """Everything the forge holds (call with the forge's lock held)."""
    refs = forge.git.refs()
    store = forge.store
    return {
        "forge": forge.describe(),
        "refs": {k: v for k, v in refs.items() if k.startswith("refs/heads/")},
        "tags": {k[len("refs/tags/") :]: v for k, v in refs.items() if k.startswith("refs/tags/")},
        "pulls": [pull_json(forge, n, refs) for n in sorted(store.pulls)],
        "issues": [issue_json(forge, n) for n in sorted(store.issues) if not store.issues[n]["is_pull"]],
        "labels": [dict(v) for _, v in sorted(store.labels.items())],
        "comments": [dict(c) for _, c in sorted(store.comments.items())],
        "releases": [release_json(forge, r) for r in sorted(store.releases)],
        "check_runs": [check_json(forge, c) for c in sorted(store.check_runs)],
        "runs": [store.runs[r] for r in sorted(store.runs)],
        "artifacts": [{"id": a, **store.artifacts[a]} for a in sorted(store.artifacts)],
        "images": list(store.images),
        "pushes": list(store.pushes),
        "refused_pushes": list(store.refused_pushes),
        "events": [event_summary(e) for e in store.events],
        "suppressed_events": [event_summary(e) for e in store.suppressed_events],
        "writes": list(store.writes),
        "workflows": dict(store.workflows),
    }


def event_summary(event: Json) -> Json:
    """An event without its payload (state.json stays small), keeping what identifies it."""
    payload = event["payload"]
    number = payload.get("number") or payload.get("issue", {}).get("number")
    out = {k: v for k, v in event.items() if k != "payload"}
    return {**out, "ref": payload.get("ref"), "after": payload.get("after"), "number": number}


def add_routes(router: Router) -> None:
    router.add("POST", "/_forge/hooks/pre-receive", pre_receive)
    router.add("POST", "/_forge/hooks/post-receive", post_receive)
    router.add("POST", "/_forge/app-token", app_token)
    router.add("POST", "/_forge/images", add_image)
    router.add("POST", "/_forge/artifacts", add_artifact)
    router.add("POST", "/_forge/runs", add_run)
    router.add("GET", "/_forge/state", get_state)
    router.add("DELETE", "/installation/token", revoke_installation_token)
