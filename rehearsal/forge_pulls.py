"""REST endpoints for the repository, its branches and commits, users, pull requests and the merge rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rehearsal.forge_core import (
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
from rehearsal.forge_git import MergeConflict
from rehearsal.forge_model import (
    FORK_OWNER,
    api,
    edit_text,
    emit_issue_event,
    get_issue,
    new_issue,
    pull_json,
    repo_json,
    set_state,
)

if TYPE_CHECKING:
    from rehearsal.forge import Forge
    from rehearsal.forge_http import Router

REQUIRED_CHECK = "gate"


def get_repo(forge: Forge, req: Request) -> Response:
    return Response.json(repo_json(forge))


def get_user(forge: Forge, req: Request) -> Response:
    login = req.params["login"]
    if login.lower() not in {u.lower() for u in forge.users}:
        raise not_found()
    return Response.json(user_json(next(u for u in forge.users if u.lower() == login.lower())))


def get_authenticated_user(forge: Forge, req: Request) -> Response:
    who = req.who()
    if who.kind != "user":
        raise ApiError(403, "Resource not accessible by integration")
    return Response.json(user_json(who.actor))


def commit_json(forge: Forge, sha: str) -> Json:
    commit = forge.git.commit_json(sha)
    parents = forge.git.git("show", "-s", "--format=%P", sha).split()
    files = [
        {"filename": f, "status": status}
        for status in ("added", "removed", "modified")
        for f in commit[status]
    ]
    author = {**commit["author"], "date": commit["timestamp"]}
    return {
        "sha": sha,
        "node_id": f"C_{sha}",
        "url": api(forge, f"/commits/{sha}"),
        "html_url": f"{repo_json(forge)['html_url']}/commit/{sha}",
        "commit": {
            "message": commit["message"],
            "author": author,
            "committer": author,
            "tree": {"sha": commit["tree_id"]},
        },
        "parents": [{"sha": p, "url": api(forge, f"/commits/{p}")} for p in parents],
        "files": files,
    }


def get_branch(forge: Forge, req: Request) -> Response:
    branch = req.params["branch"]
    sha = forge.git.refs().get(f"refs/heads/{branch}")
    if sha is None:
        raise not_found("Branch not found")
    return Response.json(
        {
            "name": branch,
            "commit": commit_json(forge, sha),
            "protected": branch == forge.default_branch,
            "_links": {"self": api(forge, f"/branches/{branch}")},
        }
    )


def list_branches(forge: Forge, req: Request) -> Response:
    refs = forge.git.refs()
    items = [
        {
            "name": name[len("refs/heads/") :],
            "commit": {"sha": sha, "url": api(forge, f"/commits/{sha}")},
            "protected": name == f"refs/heads/{forge.default_branch}",
        }
        for name, sha in sorted(refs.items())
        if name.startswith("refs/heads/")
    ]
    return paginate(req, items)


def get_commit(forge: Forge, req: Request) -> Response:
    sha = forge.git.rev_parse(req.params["ref"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['ref']}")
    return Response.json(commit_json(forge, sha))


def get_git_ref(forge: Forge, req: Request) -> Response:
    ref = "refs/" + req.params["ref"]
    sha = forge.git.refs().get(ref)
    if sha is None:
        raise not_found()
    return Response.json(
        {"ref": ref, "url": api(forge, f"/git/{ref}"), "object": {"sha": sha, "type": "commit"}}
    )


def create_pull(forge: Forge, req: Request) -> Response:
    who = req.who()
    data = req.json()
    title, head, base = (req.require(data, key) for key in ("title", "head", "base"))
    fork = bool(
        data.get("fork")
    )  # the forge's own flag: a pull request from a fork (no secrets for its runs)
    head_owner, _, head_ref = str(head).rpartition(":")
    head_owner = head_owner or (FORK_OWNER if fork else forge.owner)
    if not fork and head_owner.lower() != forge.owner.lower():
        raise validation_failed("PullRequest", "invalid", "head")
    refs = forge.git.refs()
    head_sha = refs.get(f"refs/heads/{head_ref}")
    base_sha = refs.get(f"refs/heads/{base}")
    if head_sha is None:
        raise validation_failed("PullRequest", "invalid", "head")
    if base_sha is None:
        raise validation_failed("PullRequest", "invalid", "base")
    for number, pull in forge.store.pulls.items():
        same = (pull["head_owner"].lower(), pull["head_ref"], pull["base_ref"]) == (
            head_owner.lower(),
            head_ref,
            base,
        )
        if same and forge.store.issues[number]["state"] == "open":
            raise validation_failed(
                "PullRequest", "custom", "head", f"A pull request already exists for {head_owner}:{head_ref}."
            )
    if forge.git.is_ancestor(head_sha, base_sha):
        raise validation_failed("PullRequest", "custom", "head", f"No commits between {base} and {head_ref}")
    number = new_issue(forge, who, title, data, is_pull=True)
    forge.store.pulls[number] = {
        "id": forge.store.new_id(),
        "head_owner": head_owner,
        "head_ref": head_ref,
        "head_sha": head_sha,
        "base_ref": base,
        "base_sha": base_sha,
        "fork": fork,
        "merged": False,
    }
    emit_issue_event(forge, who, number, "opened")
    return Response.json(pull_json(forge, number, refs), 201)


def list_pulls(forge: Forge, req: Request) -> Response:
    state = req.query.get("state", "open")
    head, base = req.query.get("head"), req.query.get("base")
    refs = forge.git.refs()
    items = []
    for number in sorted(forge.store.pulls, reverse=True):
        pull, issue = forge.store.pulls[number], forge.store.issues[number]
        if state != "all" and issue["state"] != state:
            continue
        if head and head.lower() != f"{pull['head_owner']}:{pull['head_ref']}".lower():
            continue
        if base and base != pull["base_ref"]:
            continue
        items.append(pull_json(forge, number, refs))
    return paginate(req, items)


def pull_number(forge: Forge, req: Request) -> int:
    number = int(req.params["number"])
    if number not in forge.store.pulls:
        raise not_found()
    return number


def get_pull(forge: Forge, req: Request) -> Response:
    return Response.json(pull_json(forge, pull_number(forge, req)))


def update_pull(forge: Forge, req: Request) -> Response:
    who = req.who()
    number = pull_number(forge, req)
    data = req.json()
    issue = get_issue(forge, number)
    changes = edit_text(issue, data)
    if "base" in data:
        if forge.git.rev_parse(f"refs/heads/{data['base']}") is None:
            raise validation_failed("PullRequest", "invalid", "base")
        forge.store.pulls[number]["base_ref"] = data["base"]
    if changes:
        issue["updated_at"] = now_iso()
        emit_issue_event(forge, who, number, "edited", changes=changes)
    if "state" in data:
        set_state(forge, who, number, data["state"])
    return Response.json(pull_json(forge, number))


def gate_refusal(forge: Forge, sha: str) -> str | None:
    """Why the ruleset's required check forbids merging `sha`, or None when the latest `gate` run passed."""
    runs = [
        i for i, c in forge.store.check_runs.items() if c["head_sha"] == sha and c["name"] == REQUIRED_CHECK
    ]
    if not runs:
        return f'Required status check "{REQUIRED_CHECK}" is expected.'
    if forge.store.check_runs[max(runs)].get("conclusion") != "success":
        return f'Required status check "{REQUIRED_CHECK}" has failed.'
    return None


def merge_pull(forge: Forge, req: Request) -> Response:
    who = req.who()
    number = pull_number(forge, req)
    data = req.json()
    pull, issue = forge.store.pulls[number], forge.store.issues[number]
    if issue["state"] != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if data.get("sha") and data["sha"] != pull["head_sha"]:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    method = data.get("merge_method", "merge")
    if method not in ("merge", "squash"):
        raise ApiError(
            405, f"Merge method {method!r} is not offered by the rehearsal forge: use merge or squash."
        )
    if who.actor not in forge.bypass and (why := gate_refusal(forge, pull["head_sha"])):
        raise ApiError(405, why)
    base_ref = f"refs/heads/{pull['base_ref']}"
    before = forge.git.rev_parse(base_ref) or ""
    title = data.get("commit_title") or (
        f"{issue['title']} (#{number})"
        if method == "squash"
        else f"Merge pull request #{number} from {pull['head_owner']}/{pull['head_ref']}"
    )
    message = f"{title}\n\n{data.get('commit_message') or issue['title']}"
    email = f"{user_json(who.actor)['id']}+{who.actor}@users.noreply.github.com"
    try:
        sha = forge.git.merge(
            base_ref, pull["head_sha"], message, (who.actor, email), squash=method == "squash"
        )
    except MergeConflict as exc:
        raise ApiError(405, f"Pull Request is not mergeable: it conflicts with {pull['base_ref']}") from exc
    merged_at = now_iso()
    pull.update(merged=True, merged_at=merged_at, merged_by=who.actor, merge_commit_sha=sha)
    issue.update(state="closed", closed_at=merged_at, updated_at=merged_at)
    forge.record_push(who, [{"ref": base_ref, "before": before, "after": sha}], via="merge")
    emit_issue_event(forge, who, number, "closed")
    return Response.json({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def pulls_for_commit(forge: Forge, req: Request) -> Response:
    sha = forge.git.rev_parse(req.params["sha"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['sha']}")
    refs = forge.git.refs()
    hits = [
        n for n, p in sorted(forge.store.pulls.items()) if sha in (p.get("merge_commit_sha"), p["head_sha"])
    ]
    return paginate(req, [pull_json(forge, n, refs) for n in hits])


def synchronize(forge: Forge, branch: str, after: str) -> list[int]:
    """Move the head of every open pull request whose head is `branch`; returns their numbers."""
    moved = []
    for number, pull in forge.store.pulls.items():
        if (
            pull["head_ref"] == branch
            and forge.store.issues[number]["state"] == "open"
            and pull["head_sha"] != after
        ):
            pull["head_sha"] = after
            forge.store.issues[number]["updated_at"] = now_iso()
            moved.append(number)
    return moved


def add_routes(router: Router) -> None:
    repo = "/repos/{owner}/{repo}"
    router.add("GET", repo, get_repo)
    router.add("GET", "/users/{login}", get_user)
    router.add("GET", "/user", get_authenticated_user)
    router.add("GET", f"{repo}/branches", list_branches)
    router.add("GET", f"{repo}/branches/{{branch:path}}", get_branch)
    router.add("GET", f"{repo}/commits/{{sha}}/pulls", pulls_for_commit)
    router.add("GET", f"{repo}/commits/{{ref}}", get_commit)
    router.add("GET", f"{repo}/git/ref/{{ref:path}}", get_git_ref)
    router.add("GET", f"{repo}/git/refs/{{ref:path}}", get_git_ref)
    router.add("POST", f"{repo}/pulls", create_pull)
    router.add("GET", f"{repo}/pulls", list_pulls)
    router.add("GET", f"{repo}/pulls/{{number:int}}", get_pull)
    router.add("PATCH", f"{repo}/pulls/{{number:int}}", update_pull)
    router.add("PUT", f"{repo}/pulls/{{number:int}}/merge", merge_pull)
