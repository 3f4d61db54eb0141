"""GitHub's JSON shapes for what the forge stores (repository, labels, issues, pulls, comments) and events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rehearsal.forge_core import (
    API_ORIGIN,
    HTML_ORIGIN,
    ApiError,
    Identity,
    Json,
    not_found,
    now_iso,
    user_id,
    user_json,
)

if TYPE_CHECKING:
    from rehearsal.forge import Forge

FORK_OWNER = "forker"  # the owner of the fork a `"fork": true` pull request comes from


def api(forge: Forge, tail: str = "") -> str:
    return f"{API_ORIGIN}/repos/{forge.full_name}{tail}"


def html(forge: Forge, tail: str = "") -> str:
    return f"{HTML_ORIGIN}/{forge.full_name}{tail}"


def repo_json(forge: Forge, owner: str | None = None) -> Json:
    """The repository (or, with `owner`, a fork of it whose branches live in the same bare repository)."""
    owner = owner or forge.owner
    full_name = f"{owner}/{forge.repo}"
    owner_json = user_json(owner) | ({"type": "Organization"} if owner == forge.owner else {})
    return {
        "id": user_id(full_name),
        "node_id": f"R_{user_id(full_name)}",
        "name": forge.repo,
        "full_name": full_name,
        "owner": owner_json,
        "private": False,
        "visibility": "public",
        "fork": owner != forge.owner,
        "default_branch": forge.default_branch,
        "html_url": f"{HTML_ORIGIN}/{full_name}",
        "url": f"{API_ORIGIN}/repos/{full_name}",
        "clone_url": forge.git_url,
        "archived": False,
        "disabled": False,
    }


def sender(identity: Identity) -> Json:
    return user_json(identity.actor)


def authorship(identity: Identity) -> Json:
    return {"actor": identity.actor, "token_kind": identity.kind, "run_id": identity.run_id}


def label_json(forge: Forge, name: str) -> Json:
    label = forge.store.labels.get(name.lower())
    if label is None:
        raise not_found()
    return {
        "id": label["id"],
        "node_id": f"LA_{label['id']}",
        "url": api(forge, f"/labels/{label['name']}"),
        "name": label["name"],
        "color": label["color"],
        "description": label.get("description"),
        "default": False,
    }


def ensure_labels(forge: Forge, names: list[Any]) -> list[str]:
    """Label names as given (strings or {"name"}); unknown ones are created, as GitHub does for writers."""
    out = []
    for item in names:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name:
            raise ApiError(422, f"Invalid request.\n\nlabel {item!r} is not a name.")
        if name.lower() not in forge.store.labels:
            forge.store.labels[name.lower()] = {
                "id": forge.store.new_id(),
                "name": name,
                "color": "ededed",
                "description": None,
            }
        out.append(forge.store.labels[name.lower()]["name"])
    return out


def edit_text(issue: Json, data: Json) -> Json:
    """Apply a PATCH's title/body to an issue or PR; returns GitHub's `changes` ({key: {"from": old}})."""
    changes: Json = {
        key: {"from": issue.get(key)}
        for key in ("title", "body")
        if key in data and data[key] != issue.get(key)
    }
    for key in changes:
        issue[key] = data[key]
    return changes


def new_issue(forge: Forge, who: Identity, title: str, data: Json, *, is_pull: bool) -> int:
    """Store a new issue or pull request (one number space, as on GitHub); returns its number."""
    number, created = forge.store.new_number(), now_iso()
    forge.store.issues[number] = {
        "id": forge.store.new_id(),
        "number": number,
        "is_pull": is_pull,
        "title": title,
        "body": data.get("body"),
        "state": "open",
        "state_reason": None,
        "labels": ensure_labels(forge, data.get("labels") or []),
        "user": who.actor,
        "created_at": created,
        "updated_at": created,
        "closed_at": None,
        "created_by": authorship(who),
    }
    return number


def get_issue(forge: Forge, number: int) -> Json:
    issue = forge.store.issues.get(number)
    if issue is None:
        raise not_found()
    return issue


def issue_json(forge: Forge, number: int) -> Json:
    issue = get_issue(forge, number)
    kind = "pull" if issue["is_pull"] else "issues"
    out = {
        "id": issue["id"],
        "node_id": f"I_{issue['id']}",
        "url": api(forge, f"/issues/{number}"),
        "repository_url": api(forge),
        "comments_url": api(forge, f"/issues/{number}/comments"),
        "html_url": html(forge, f"/{kind}/{number}"),
        "number": number,
        "state": issue["state"],
        "state_reason": issue.get("state_reason"),
        "title": issue["title"],
        "body": issue.get("body"),
        "user": user_json(issue["user"]),
        "labels": [label_json(forge, name) for name in issue["labels"]],
        "assignees": [],
        "locked": False,
        "comments": sum(1 for c in forge.store.comments.values() if c["issue_number"] == number),
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue.get("closed_at"),
        "author_association": "MEMBER",
        "created_by": issue["created_by"],
    }
    if issue["is_pull"]:
        pull = forge.store.pulls[number]
        out["pull_request"] = {
            "url": api(forge, f"/pulls/{number}"),
            "html_url": out["html_url"],
            "merged_at": pull.get("merged_at"),
        }
    return out


def pull_json(forge: Forge, number: int, refs: dict[str, str] | None = None) -> Json:
    issue = get_issue(forge, number)
    pull = forge.store.pulls.get(number)
    if pull is None:
        raise not_found()
    refs = forge.git.refs() if refs is None else refs
    head_owner = pull["head_owner"]
    base_sha = refs.get(f"refs/heads/{pull['base_ref']}", pull["base_sha"])
    issue_part = issue_json(forge, number)
    return {
        "url": api(forge, f"/pulls/{number}"),
        "id": pull["id"],
        "node_id": f"PR_{pull['id']}",
        "number": number,
        "html_url": html(forge, f"/pull/{number}"),
        "diff_url": html(forge, f"/pull/{number}.diff"),
        "issue_url": issue_part["url"],
        "state": issue["state"],
        "locked": False,
        "title": issue["title"],
        "body": issue.get("body"),
        "user": issue_part["user"],
        "labels": issue_part["labels"],
        "draft": False,
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue.get("closed_at"),
        "merged": pull["merged"],
        "merged_at": pull.get("merged_at"),
        "merged_by": user_json(pull["merged_by"]) if pull.get("merged_by") else None,
        "merge_commit_sha": pull.get("merge_commit_sha"),
        "mergeable": None if issue["state"] != "open" else True,
        "head": {
            "label": f"{head_owner}:{pull['head_ref']}",
            "ref": pull["head_ref"],
            "sha": pull["head_sha"],
            "user": user_json(head_owner),
            "repo": repo_json(forge, head_owner),
        },
        "base": {
            "label": f"{forge.owner}:{pull['base_ref']}",
            "ref": pull["base_ref"],
            "sha": base_sha,
            "user": user_json(forge.owner),
            "repo": repo_json(forge),
        },
        "author_association": "MEMBER",
        "created_by": issue["created_by"],
    }


def comment_json(forge: Forge, comment_id: int) -> Json:
    comment = forge.store.comments.get(comment_id)
    if comment is None:
        raise not_found()
    number = comment["issue_number"]
    kind = "pull" if forge.store.issues[number]["is_pull"] else "issues"
    return {
        "id": comment_id,
        "node_id": f"IC_{comment_id}",
        "url": api(forge, f"/issues/comments/{comment_id}"),
        "html_url": html(forge, f"/{kind}/{number}#issuecomment-{comment_id}"),
        "issue_url": api(forge, f"/issues/{number}"),
        "body": comment["body"],
        "user": user_json(comment["user"]),
        "created_at": comment["created_at"],
        "updated_at": comment["updated_at"],
        "author_association": "MEMBER",
        "created_by": comment["created_by"],
    }


def emit_issue_event(forge: Forge, identity: Identity, number: int, action: str, **extra: Any) -> None:
    """`pull_request` for a pull request, `issues` otherwise, as GitHub sends them."""
    if forge.store.issues[number]["is_pull"]:
        payload = {"action": action, "number": number, "pull_request": pull_json(forge, number), **extra}
        forge.emit(identity, "pull_request", action, payload)
    else:
        forge.emit(
            identity, "issues", action, {"action": action, "issue": issue_json(forge, number), **extra}
        )


def set_state(forge: Forge, identity: Identity, number: int, state: str, reason: str | None = None) -> None:
    """Close or reopen an issue or pull request and emit the event (a merged pull request stays closed)."""
    issue = get_issue(forge, number)
    if state not in ("open", "closed"):
        raise ApiError(422, "Validation Failed", [{"resource": "Issue", "code": "invalid", "field": "state"}])
    if state == issue["state"]:
        if reason and state == "closed":
            issue["state_reason"] = reason
        return
    if state == "open" and issue["is_pull"] and forge.store.pulls[number]["merged"]:
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "state cannot be changed. The pull request has been merged.",
                }
            ],
        )
    issue["state"] = state
    issue["updated_at"] = now_iso()
    if state == "closed":
        issue["closed_at"] = issue["updated_at"]
        issue["state_reason"] = reason or "completed"
    else:
        issue["closed_at"] = None
        issue["state_reason"] = "reopened"
    emit_issue_event(forge, identity, number, "closed" if state == "closed" else "reopened")
