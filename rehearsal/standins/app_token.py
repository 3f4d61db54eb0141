"""actions/create-github-app-token stand-in: the forge mints an installation token of the App it knows.

The forge (POST /_forge/app-token) checks the App id and private key the way GitHub's JWT exchange would
and answers {token, installation_id, app_slug, expires_at}; a wrong id or key fails the step with its message.
The post step revokes the token (DELETE /installation/token) unless skip-token-revoke.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rehearsal.standins import rest
from rehearsal.standins.core import StandinError, Step


def permissions(step: Step) -> dict[str, str] | None:
    """get-permissions-from-inputs.js: the non-empty INPUT_PERMISSION-* (None: the App's own set)."""
    found = {
        key[len("INPUT_PERMISSION-") :].lower().replace("-", "_"): value
        for key, value in step.env.items()
        if key.startswith("INPUT_PERMISSION-") and value
    }
    return found or None


def owner_and_repositories(step: Step) -> tuple[str, list[str]]:
    """main.js: default to the current repository; `owner` alone means all of that owner's repositories."""
    repository = step.env.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise StandinError("GITHUB_REPOSITORY missing, must be set to '<owner>/<repo>'")
    default_owner = step.env.get("GITHUB_REPOSITORY_OWNER", "")
    if not default_owner:
        raise StandinError("GITHUB_REPOSITORY_OWNER missing, must be set to '<owner>'")
    owner = step.input("owner")
    repositories = [s.strip() for s in re.split(r"[\n,]+", step.input("repositories")) if s.strip()]
    if not owner and not repositories:
        current_owner, name = repository.split("/", 1)
        step.info(
            "Inputs 'owner' and 'repositories' are not set. "
            f"Creating token for this repository ({repository})."
        )
        return current_owner, [name]
    if owner and not repositories:
        step.info(f"Input 'repositories' is not set. Creating token for all repositories owned by {owner}.")
        return owner, []
    return owner or default_owner, repositories


def main(step: Step) -> None:
    app_id, private_key = step.input("app-id", required=True), step.input("private-key", required=True)
    skip_revoke = step.bool_input("skip-token-revoke")
    owner, repositories = owner_and_repositories(step)
    base = api(step)
    body = {
        "app_id": app_id,
        "private_key": private_key,
        "owner": owner,
        "repositories": repositories,
        "permissions": permissions(step),
    }
    try:
        reply = rest.call("POST", f"{base}/_forge/app-token", body)
    except rest.RestError as exc:
        raise StandinError(
            f'Failed to create token for "{",".join(repositories) or owner}": {exc.message}'
        ) from exc
    data = reply.data if isinstance(reply.data, dict) else {}
    token = str(data.get("token") or "")
    if not token:
        raise StandinError(f"the forge answered no token: {data}")
    step.mask(token)
    step.set_output("token", token)
    step.set_output("installation-id", data.get("installation_id") or data.get("installation-id") or "")
    step.set_output("app-slug", data.get("app_slug") or data.get("app-slug") or "")
    if not skip_revoke:
        step.save_state("token", token)
        step.save_state("expiresAt", str(data.get("expires_at") or ""))


def api(step: Step) -> str:
    try:
        return rest.api_base(step.env, step.input("github-api-url") or rest.GITHUB_API)
    except rest.RestError as exc:
        raise StandinError(exc.message) from exc


def post(step: Step) -> None:
    if step.bool_input("skip-token-revoke"):
        step.info("Token revocation was skipped")
        return
    token = step.state("token")
    if not token:
        step.info("Token is not set")
        return
    expires = step.state("expiresAt")
    if expires and datetime.fromisoformat(expires.replace("Z", "+00:00")) < datetime.now(UTC):
        step.info("Token expired, skipping token revocation")
        return
    try:
        rest.call("DELETE", f"{api(step)}/installation/token", token=token)
        step.info("Token revoked")
    except rest.RestError as exc:
        step.warning(f"Token revocation failed: {exc.message}")
