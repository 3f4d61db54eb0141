"""What a workflow's GITHUB_TOKEN may do: the scopes its `permissions:` grant, and the scope GitHub
requires of a token for each REST endpoint and git operation the workflows use.

GitHub's rules (docs.github.com, "Controlling permissions for GITHUB_TOKEN" and "Permissions
required for GitHub Apps"): a job's `permissions:` replace the workflow's; once either is set,
every scope it leaves out is `none`; `read-all` / `write-all` set every scope; with neither, the
repository's default applies (the restricted default of repositories created since February 2023:
contents and packages read). A GET needs read, any other method write; an issue endpoint (comments,
labels, state) also serves pull requests, so there either scope will do. A token without the scope
gets 403 "Resource not accessible by integration" — for reads too in a private repository, which a
fork may be, so the forge refuses reads as well. Metadata (the repository itself, users) needs none.
An App token minted for some `permission-*` inputs holds exactly those scopes.

act gives every job of a run one token, so the forge grants a run the union of its jobs' scopes;
a job that lacks a scope another job of its file holds is caught by the static test
(tests/workflows/test_first_use.py), which checks each job against the same table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

LEVEL = {"none": 0, "read": 1, "write": 2}
SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
DEFAULT = {"contents": "read", "packages": "read"}

_REPO = r"^(?:https://(?:api|uploads)\.github\.com/)?/?repos/[^/]+/[^/]+"
# An issue endpoint also serves pull requests (their comments, labels, state), so GitHub accepts
# either scope there; listing and creating issues needs `issues` itself.
_EITHER = ("issues", "pull-requests")
ENDPOINT_SCOPES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(_REPO + r"/commits/[^/]+/pulls\b"), ("pull-requests",)),
    (re.compile(_REPO + r"/pulls\b"), ("pull-requests",)),
    (re.compile(_REPO + r"/issues/?(\?.*)?$"), ("issues",)),
    (re.compile(_REPO + r"/(issues|labels)\b"), _EITHER),
    (re.compile(_REPO + r"/check-runs\b"), ("checks",)),
    (re.compile(_REPO + r"/(releases|branches|git|contents|commits)\b"), ("contents",)),
    (re.compile(_REPO + r"/actions/"), ("actions",)),
    # a release asset by its download URL (github.com/OWNER/REPO/releases/download/TAG/NAME)
    (re.compile(r"^(?:https://github\.com)?/?[^/]+/[^/]+/releases/download/"), ("contents",)),
)
Need = tuple[tuple[str, ...], str]  # any of these scopes, at this level


def required(method: str, path: str) -> Need | None:
    """(scopes, level) GitHub requires of a token for this request (any one of the scopes at the
    level); None: metadata, or no scope at all."""
    for pattern, names in ENDPOINT_SCOPES:
        if pattern.search(path):
            return names, "read" if method.upper() in ("GET", "HEAD") else "write"
    return None


def granted(permissions: Any) -> dict[str, str]:
    """The scopes a `permissions:` value grants (None: the key is absent, the default applies)."""
    if permissions is None:
        return dict(DEFAULT)
    if permissions == "read-all":
        return {s: "read" for s in SCOPES if s != "id-token"}  # id-token is write or none
    if permissions == "write-all":
        return dict.fromkeys(SCOPES, "write")
    if not isinstance(permissions, Mapping):
        raise ValueError(f"permissions: {permissions!r} is neither read-all, write-all nor a mapping")
    unknown = sorted(str(k) for k in permissions if k not in SCOPES)
    if unknown:
        raise ValueError(f"permissions: unknown scope(s) {unknown}; GitHub knows {list(SCOPES)}")
    bad = {k: v for k, v in permissions.items() if v not in LEVEL}
    if bad:
        raise ValueError(f"permissions: {bad} are not one of read, write, none")
    return {str(k): str(v) for k, v in permissions.items()}


def run_token(workflow_permissions: Any, jobs: Mapping[str, Any]) -> dict[str, str]:
    """The scopes of the one token act gives a run: each scope at the highest level any of its
    jobs holds (a job's own `permissions:`, else the workflow's)."""
    return union(
        granted(job.get("permissions", workflow_permissions))
        for job in jobs.values()
        if isinstance(job, Mapping) and "uses" not in job  # a called workflow has its own token
    )


def union(grants: Iterable[Mapping[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for g in grants:
        for scope, level in g.items():
            if LEVEL[level] > LEVEL[out.get(scope, "none")]:
                out[scope] = level
    return out


def allows(granted_scopes: Mapping[str, str], need: Need) -> bool:
    names, level = need
    return any(LEVEL[granted_scopes.get(n, "none")] >= LEVEL[level] for n in names)


def describe(need: Need) -> str:
    """`issues or pull-requests: write`"""
    return f"{' or '.join(need[0])}: {need[1]}"
