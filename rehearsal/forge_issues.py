"""REST endpoints for issues (pull requests are issues too), their comments and the repository's labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rehearsal.forge_core import Request, Response, not_found, now_iso, paginate, validation_failed
from rehearsal.forge_model import (
    authorship,
    comment_json,
    edit_text,
    emit_issue_event,
    ensure_labels,
    get_issue,
    issue_json,
    label_json,
    new_issue,
    set_state,
)

if TYPE_CHECKING:
    from rehearsal.forge import Forge
    from rehearsal.forge_http import Router


def create_issue(forge: Forge, req: Request) -> Response:
    who = req.who()
    data = req.json()
    title = req.require(data, "title")
    number = new_issue(forge, who, title, data, is_pull=False)
    emit_issue_event(forge, who, number, "opened")
    return Response.json(issue_json(forge, number), 201)


def list_issues(forge: Forge, req: Request) -> Response:
    state = req.query.get("state", "open")
    wanted = {name.strip().lower() for name in req.query.get("labels", "").split(",") if name.strip()}
    creator = req.query.get("creator")
    items = []
    for number in sorted(forge.store.issues, reverse=True):  # GitHub's default: newest first
        issue = forge.store.issues[number]
        if state != "all" and issue["state"] != state:
            continue
        if not wanted <= {name.lower() for name in issue["labels"]}:
            continue
        if creator and creator.lower() != issue["user"].lower():
            continue
        items.append(issue_json(forge, number))
    return paginate(req, items)


def get_issue_endpoint(forge: Forge, req: Request) -> Response:
    return Response.json(issue_json(forge, int(req.params["number"])))


def update_issue(forge: Forge, req: Request) -> Response:
    who = req.who()
    number = int(req.params["number"])
    issue = get_issue(forge, number)
    data = req.json()
    changes = edit_text(issue, data)
    if "labels" in data:
        before = set(issue["labels"])
        issue["labels"] = ensure_labels(forge, data["labels"] or [])
        for name in issue["labels"]:
            if name not in before:
                emit_issue_event(forge, who, number, "labeled", label=label_json(forge, name))
    if changes:
        issue["updated_at"] = now_iso()
        emit_issue_event(forge, who, number, "edited", changes=changes)
    if "state" in data or "state_reason" in data:
        reason = data.get("state_reason")
        if reason not in (None, "completed", "not_planned", "reopened"):
            raise validation_failed("Issue", "invalid", "state_reason")
        set_state(forge, who, number, str(data.get("state", issue["state"])), reason)
    return Response.json(issue_json(forge, number))


def add_labels(forge: Forge, req: Request) -> Response:
    who = req.who()
    number = int(req.params["number"])
    issue = get_issue(forge, number)
    data = req.json()
    for name in ensure_labels(forge, data.get("labels") or []):
        if name not in issue["labels"]:
            issue["labels"].append(name)
            emit_issue_event(forge, who, number, "labeled", label=label_json(forge, name))
    return Response.json([label_json(forge, name) for name in issue["labels"]])


def remove_label(forge: Forge, req: Request) -> Response:
    req.who()
    issue = get_issue(forge, int(req.params["number"]))
    matching = [n for n in issue["labels"] if n.lower() == req.params["name"].lower()]
    if not matching:
        raise not_found("Label does not exist")
    issue["labels"].remove(matching[0])
    return Response.json([label_json(forge, name) for name in issue["labels"]])


def create_comment(forge: Forge, req: Request) -> Response:
    who = req.who()
    number = int(req.params["number"])
    issue = get_issue(forge, number)
    body = req.require(req.json(), "body")
    comment_id, created = forge.store.new_id(), now_iso()
    forge.store.comments[comment_id] = {
        "id": comment_id,
        "issue_number": number,
        "body": body,
        "user": who.actor,
        "created_at": created,
        "updated_at": created,
        "created_by": authorship(who),
    }
    issue["updated_at"] = created
    emit_comment_event(forge, req, comment_id, "created")
    return Response.json(comment_json(forge, comment_id), 201)


def emit_comment_event(forge: Forge, req: Request, comment_id: int, action: str) -> None:
    comment = comment_json(forge, comment_id)
    number = forge.store.comments[comment_id]["issue_number"]
    payload = {"action": action, "issue": issue_json(forge, number), "comment": comment}
    forge.emit(req.who(), "issue_comment", action, payload)


def list_comments(forge: Forge, req: Request) -> Response:
    number = int(req.params["number"])
    get_issue(forge, number)
    ids = sorted(cid for cid, c in forge.store.comments.items() if c["issue_number"] == number)
    return paginate(req, [comment_json(forge, cid) for cid in ids])


def list_repo_comments(forge: Forge, req: Request) -> Response:
    return paginate(req, [comment_json(forge, cid) for cid in sorted(forge.store.comments)])


def get_comment(forge: Forge, req: Request) -> Response:
    return Response.json(comment_json(forge, int(req.params["id"])))


def update_comment(forge: Forge, req: Request) -> Response:
    who = req.who()
    comment_id = int(req.params["id"])
    comment_json(forge, comment_id)  # 404 first, as GitHub answers
    body = req.require(req.json(), "body")
    comment = forge.store.comments[comment_id]
    comment.update(body=body, updated_at=now_iso())
    comment.setdefault("edits", []).append({**authorship(who), "at": comment["updated_at"]})
    emit_comment_event(forge, req, comment_id, "edited")
    return Response.json(comment_json(forge, comment_id))


def delete_comment(forge: Forge, req: Request) -> Response:
    req.who()
    comment_id = int(req.params["id"])
    comment_json(forge, comment_id)
    emit_comment_event(forge, req, comment_id, "deleted")
    del forge.store.comments[comment_id]
    return Response.empty()


def create_label(forge: Forge, req: Request) -> Response:
    req.who()
    data = req.json()
    name = req.require(data, "name")
    if name.lower() in forge.store.labels:
        raise validation_failed("Label", "already_exists", "name")
    color = str(data.get("color") or "ededed").lstrip("#")
    forge.store.labels[name.lower()] = {
        "id": forge.store.new_id(),
        "name": name,
        "color": color,
        "description": data.get("description"),
    }
    return Response.json(label_json(forge, name), 201)


def list_labels(forge: Forge, req: Request) -> Response:
    return paginate(req, [label_json(forge, name) for name in sorted(forge.store.labels)])


def get_label(forge: Forge, req: Request) -> Response:
    return Response.json(label_json(forge, req.params["name"]))


def update_label(forge: Forge, req: Request) -> Response:
    req.who()
    label_json(forge, req.params["name"])
    data = req.json()
    label = forge.store.labels.pop(req.params["name"].lower())
    new_name = data.get("new_name") or label["name"]
    if new_name.lower() in forge.store.labels:
        forge.store.labels[label["name"].lower()] = label
        raise validation_failed("Label", "already_exists", "name")
    label.update(name=new_name, color=str(data.get("color") or label["color"]).lstrip("#"))
    if "description" in data:
        label["description"] = data["description"]
    forge.store.labels[new_name.lower()] = label
    for issue in forge.store.issues.values():
        issue["labels"] = [
            new_name if n.lower() == req.params["name"].lower() else n for n in issue["labels"]
        ]
    return Response.json(label_json(forge, new_name))


def delete_label(forge: Forge, req: Request) -> Response:
    req.who()
    name = req.params["name"].lower()
    if name not in forge.store.labels:
        raise not_found()
    del forge.store.labels[name]
    for issue in forge.store.issues.values():
        issue["labels"] = [n for n in issue["labels"] if n.lower() != name]
    return Response.empty()


def add_routes(router: Router) -> None:
    repo = "/repos/{owner}/{repo}"
    router.add("POST", f"{repo}/issues", create_issue)
    router.add("GET", f"{repo}/issues", list_issues)
    router.add("GET", f"{repo}/issues/comments", list_repo_comments)
    router.add("GET", f"{repo}/issues/comments/{{id:int}}", get_comment)
    router.add("PATCH", f"{repo}/issues/comments/{{id:int}}", update_comment)
    router.add("DELETE", f"{repo}/issues/comments/{{id:int}}", delete_comment)
    router.add("GET", f"{repo}/issues/{{number:int}}", get_issue_endpoint)
    router.add("PATCH", f"{repo}/issues/{{number:int}}", update_issue)
    router.add("POST", f"{repo}/issues/{{number:int}}/labels", add_labels)
    router.add("DELETE", f"{repo}/issues/{{number:int}}/labels/{{name:path}}", remove_label)
    router.add("POST", f"{repo}/issues/{{number:int}}/comments", create_comment)
    router.add("GET", f"{repo}/issues/{{number:int}}/comments", list_comments)
    router.add("POST", f"{repo}/labels", create_label)
    router.add("GET", f"{repo}/labels", list_labels)
    router.add("GET", f"{repo}/labels/{{name:path}}", get_label)
    router.add("PATCH", f"{repo}/labels/{{name:path}}", update_label)
    router.add("DELETE", f"{repo}/labels/{{name:path}}", delete_label)
