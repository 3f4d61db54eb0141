"""The pinned third-party actions, the stand-in folder that replaces each under act, and act's flags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ACTIONS_DIR = Path(__file__).resolve().parent.parent / "actions"
PROJECT_ROOT = ACTIONS_DIR.parent.parent
USES = re.compile(r"^(?P<repo>[^/@\s]+/[^/@\s]+)(?:/(?P<sub>[^@\s]+))?@(?P<ref>\S+)$")

# The environment the stand-ins read; the harness passes each to act with `--env NAME=VALUE`.
ENVIRONMENT = {
    "REHEARSAL_HOME": "the project root (holding rehearsal/): each main.js runs its Python from there",
    "REHEARSAL_STORE": "a folder all runs share: artifacts, caches, docker logins, published report images",
    "REHEARSAL_FORGE_URL": "the forge's base URL (REST API, /_forge/ endpoints): http://127.0.0.1:PORT",
    "REHEARSAL_FORGE_GIT_URL": "the forge repository's git URL: http://127.0.0.1:PORT/acme/flightdelay.git",
    "REHEARSAL_AWS_ACCESS_KEY_ID": "the S3 server's key, handed out by configure-aws-credentials",
    "REHEARSAL_AWS_SECRET_ACCESS_KEY": "the S3 server's secret",
    "REHEARSAL_AWS_ENDPOINT_URL": "the S3 server's URL, exported as AWS_ENDPOINT_URL",
    "REHEARSAL_HADOLINT": "optional: path of a hadolint binary that build-push-action runs on the Dockerfile",
}


@dataclass(frozen=True)
class Standin:
    """One pinned action (`repo@sha`, the tag its pin comment names) and its stand-in folder."""

    repo: str
    sha: str
    version: str
    subactions: tuple[str, ...] = ()  # `uses: actions/cache/restore@sha` reads <folder>/restore/action.yml

    @classmethod
    def pin(cls, uses: str, version: str, subactions: tuple[str, ...] = ()) -> Standin:
        """A row written as the workflows write the pin: `owner/name@sha`."""
        repo, _, sha = uses.partition("@")
        return cls(repo, sha, version, subactions)

    @property
    def folder(self) -> Path:
        return ACTIONS_DIR / self.repo / self.sha

    def action_dir(self, sub: str = "") -> Path:
        return self.folder / sub if sub else self.folder

    def uses(self, sub: str = "") -> str:
        return f"{self.repo}/{sub}@{self.sha}" if sub else f"{self.repo}@{self.sha}"


STANDINS: tuple[Standin, ...] = (
    Standin.pin("actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8", "v5.0.0"),
    Standin.pin("actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c", "v6.0.0"),
    Standin.pin("actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830", "v4.3.0", ("restore", "save")),
    Standin.pin("actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    Standin.pin("actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    Standin.pin("actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020", "v4.4.0"),
    Standin.pin("actions/create-github-app-token@fee1f7d63c2ff003460e3d139729b119787bc349", "v2.2.2"),
    Standin.pin("aws-actions/configure-aws-credentials@b47578312673ae6fa5b5096b330d9fbac3d116df", "v4.2.1"),
    Standin.pin("docker/setup-buildx-action@e468171a9de216ec08956ac3ada2f0791b6bd435", "v3.11.1"),
    Standin.pin("docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772", "v3.4.0"),
    Standin.pin("docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83", "v6.18.0"),
)


def find(uses: str) -> tuple[Standin, str] | None:
    """The stand-in and sub-action for a step's `uses:` (`owner/name[/sub]@sha`); None when there is none."""
    match = USES.match(uses.strip())
    if match is None:
        return None
    for standin in STANDINS:
        if standin.repo.lower() == match["repo"].lower() and standin.sha == match["ref"]:
            sub = match["sub"] or ""
            if sub and sub not in standin.subactions:
                return None
            return standin, sub
    return None


def local_repository_flags() -> list[str]:
    """act's flags that put the stand-ins in place: `--local-repository OWNER/NAME@SHA=DIR` for every pin (act
    matches `owner/name@sha` and reads a sub-action such as actions/cache/restore from DIR/restore), and
    `--env REHEARSAL_HOME=<this project>`, without which no stand-in can start its Python."""
    flags: list[str] = []
    for standin in STANDINS:
        flags += ["--local-repository", f"{standin.repo}@{standin.sha}={standin.folder}"]
    for name, value in runtime_env().items():
        flags += ["--env", f"{name}={value}"]
    return flags


def runtime_env() -> dict[str, str]:
    """The variable every stand-in needs besides the services': where its Python code is (this project)."""
    return {"REHEARSAL_HOME": str(PROJECT_ROOT)}


def act_env_flags(env: dict[str, str]) -> list[str]:
    """`--env NAME=VALUE` for the stand-ins' services (REHEARSAL_HOME comes with local_repository_flags)."""
    values = dict(env)
    unknown = sorted(set(values) - set(ENVIRONMENT))
    if unknown:
        raise ValueError(f"not a stand-in variable: {', '.join(unknown)} (known: {', '.join(ENVIRONMENT)})")
    flags: list[str] = []
    for name, value in values.items():
        flags += ["--env", f"{name}={value}"]
    return flags
