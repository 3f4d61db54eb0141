"""Git pre-receive/post-receive hook of the forge's bare repository: asks the forge over HTTP (stdlib only).

Run by the hook scripts the forge writes: `python forge_hook.py pre-receive|post-receive`, ref updates on
stdin as git gives them. The forge's HTTP handler puts the pusher's token in FORGE_TOKEN (and, for the
record, FORGE_ACTOR / FORGE_TOKEN_KIND / FORGE_RUN_ID); the forge resolves the actor from the token, decides,
and returns the lines to print, which git relays to the pusher as `remote: …`. Exit 1 refuses the whole push.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from urllib.parse import urlsplit


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("pre-receive", "post-receive"):
        sys.stderr.write("usage: forge_hook.py pre-receive|post-receive" + "\n")
        return 2
    name = argv[1]
    updates = []
    for line in sys.stdin:
        if line.strip():
            before, after, ref = line.split()
            updates.append({"before": before, "after": after, "ref": ref})
    url = os.environ.get("FORGE_URL", "")
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"}
    if token := os.environ.get("FORGE_TOKEN"):
        headers["Authorization"] = f"token {token}"
    if admin := os.environ.get("FORGE_ADMIN"):
        headers["X-Forge-Admin"] = admin
    body = json.dumps({"updates": updates, "actor": os.environ.get("FORGE_ACTOR")})
    try:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
        conn.request("POST", f"/_forge/hooks/{name}", body=body, headers=headers)
        resp = conn.getresponse()
        answer = json.loads(resp.read() or b"{}")
    except (OSError, ValueError) as exc:
        sys.stderr.write(
            f"error: the forge at {url or '(FORGE_URL unset)'} did not answer the {name} hook: {exc}\n"
        )
        return 1
    for message in answer.get("messages", []):
        sys.stderr.write(message + "\n")
    return 0 if resp.status == 200 and answer.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
