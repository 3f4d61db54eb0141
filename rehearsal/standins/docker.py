"""docker/setup-buildx-action, login-action and build-push-action stand-ins: no image is built.

build-push checks what a build would need before its first layer: the context folder, the Dockerfile, every
COPY/ADD source in the context after .dockerignore, hadolint (REHEARSAL_HADOLINT) at error level, and a
login to each pushed tag's registry in this job. It records each pushed tag in the forge with a digest
computed from the build inputs (context files, Dockerfile, build args, labels, target): same inputs,
same digest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from rehearsal.standins import rest
from rehearsal.standins.core import StandinError, Step
from rehearsal.standins.dockerfile import DockerIgnore, context_paths, copy_sources, source_present

DOCKER_HUB = "docker.io"
REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def job_folder(step: Step, kind: str) -> Path:
    """Builders and logins belong to one job, as ~/.docker does on a GitHub runner."""
    run = step.need_env("GITHUB_RUN_ID", "act sets it; the rehearsal harness passes each run's id")
    job = f"{run}-{step.env.get('GITHUB_RUN_ATTEMPT', '1')}-{step.env.get('GITHUB_JOB', 'job')}"
    folder = step.store / "docker" / kind / job
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def registry_name(text: str) -> str:
    host = re.sub(r"^https?://", "", text.strip()).split("/")[0]
    return DOCKER_HUB if host in ("", "docker.io", "index.docker.io", "registry-1.docker.io") else host


def split_reference(ref: str) -> tuple[str, str, str]:
    """(registry, repository, tag) of an image reference, as Docker reads it."""
    name = ref.partition("@")[0]
    head, _, rest_path = name.partition("/")
    if rest_path and ("." in head or ":" in head or head == "localhost"):
        registry, repository = head, rest_path
    else:
        registry, repository = DOCKER_HUB, name
    repository, _, tag = (
        repository.partition(":") if ":" in repository.rsplit("/", 1)[-1] else (repository, "", "")
    )
    if not REPOSITORY.match(repository):
        message = (
            "repository name must be lowercase"
            if repository.lower() != repository
            else "invalid reference format"
        )
        raise StandinError(f'ERROR: invalid tag "{ref}": {message}')
    if tag and not TAG.match(tag):
        raise StandinError(f'ERROR: invalid tag "{ref}": invalid reference format')
    return registry, repository, tag or "latest"


def input_list(step: Step, name: str, *, commas: bool) -> list[str]:
    """docker/actions-toolkit getInputList: lines (and commas unless ignoreComma), trimmed, no empties."""
    text = step.input(name)
    parts = re.split(r"[\n,]" if commas else r"\n", text)
    return [part.strip() for part in parts if part.strip()]


def setup_buildx(step: Step) -> None:
    name = step.input("name") or f"builder-{uuid.uuid4()}"
    driver = step.input("driver") or "docker-container"
    flags = (
        step.input("buildkitd-flags")
        or "--allow-insecure-entitlement security.insecure --allow-insecure-entitlement network.host"
    )
    node = {
        "name": f"{name}0",
        "endpoint": "unix:///var/run/docker.sock",
        "status": "running",
        "buildkitd-flags": flags,
        "platforms": "linux/amd64",
    }
    folder = job_folder(step, "builders")
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "driver": driver}), encoding="utf-8")
    if step.bool_input("use"):
        (folder / "current").write_text(name, encoding="utf-8")
    step.info(f"Builder {name} ({driver}) recorded for this job; the rehearsal builds no image")
    for key, value in (
        ("name", name),
        ("driver", driver),
        ("platforms", "linux/amd64"),
        ("nodes", json.dumps([node])),
        ("endpoint", node["endpoint"]),
        ("status", "running"),
        ("flags", flags),
    ):
        step.set_output(key, value)


def login(step: Step) -> None:
    registry, username, password = step.input("registry"), step.input("username"), step.input("password")
    if not username and not password:
        raise StandinError("Username and password required")
    if not username:
        raise StandinError("Username required")
    if not password:
        raise StandinError("Password required")
    step.mask(password)
    name = registry_name(registry)
    step.info(f"Logging into {registry or 'Docker Hub'}...")
    (job_folder(step, "logins") / name).write_text(
        json.dumps({"registry": name, "username": username}), encoding="utf-8"
    )
    step.save_state("registry", name)
    step.save_state("logout", str(step.bool_input("logout")).lower())
    step.info("Login Succeeded!")


def post(step: Step) -> None:
    """login-action's post step: `docker logout` unless logout: false."""
    if step.state("logout") != "true" or not step.state("registry"):
        return
    (job_folder(step, "logins") / step.state("registry")).unlink(missing_ok=True)
    step.info(f"Removing login credentials for {step.state('registry')}")


def git_context(step: Step, into: Path) -> Path:
    """build-push's default context is the event's commit (Git context), not the workspace's files."""
    url = step.need_env(
        "REHEARSAL_FORGE_GIT_URL", "the default (Git) context is the forge repository at the event's SHA"
    )
    sha = step.need_env("GITHUB_SHA", "the Git context is the event's commit")
    token = step.input("github-token")
    auth = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    header = ["-c", f"http.extraHeader=AUTHORIZATION: basic {auth}"] if token else []
    for command in (
        ["init", "-q", str(into)],
        [*header, "-C", str(into), "fetch", "-q", "--depth=1", url, sha],
        ["-C", str(into), "checkout", "-q", "FETCH_HEAD"],
    ):
        proc = subprocess.run(["git", *command], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StandinError(f"unable to prepare the Git context {url}#{sha}: {proc.stderr.strip()}")
    return into


def build_digest(context: Path, present: set[str], dockerfile: str, step: Step) -> str:
    sha = hashlib.sha256()
    for rel in sorted(present):
        path = context / rel
        if path.is_file():
            sha.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for part in (
        dockerfile,
        *input_list(step, "build-args", commas=False),
        *input_list(step, "labels", commas=False),
        step.input("target"),
    ):
        sha.update(part.encode() + b"\0")
    return f"sha256:{sha.hexdigest()}"


def check_context(step: Step, context: Path, dockerfile: Path) -> tuple[set[str], str]:
    if not context.is_dir():
        raise StandinError(f'ERROR: unable to prepare context: path "{context}" not found')
    if not dockerfile.is_file():
        raise StandinError(
            "ERROR: failed to solve: failed to read dockerfile: "
            f"open {dockerfile.name}: no such file or directory"
        )
    text = dockerfile.read_text(encoding="utf-8")
    ignore_file = next(
        (
            p
            for p in (dockerfile.parent / f"{dockerfile.name}.dockerignore", context / ".dockerignore")
            if p.is_file()
        ),
        None,
    )
    ignore = DockerIgnore(ignore_file.read_text(encoding="utf-8") if ignore_file else "")
    present = context_paths(context, ignore)
    build_args = dict(arg.split("=", 1) for arg in input_list(step, "build-args", commas=False) if "=" in arg)
    missing = []
    for source in copy_sources(text, build_args):
        where = f"{dockerfile.name}:{source.instruction.line}"
        if "$" in source.path:
            step.warning(f"{where}: {source.path} has an unset variable; not checked")
        elif not source_present(source.path, present):
            why = " (excluded by .dockerignore)" if (context / source.path).exists() else ""
            missing.append(f'{where} {source.instruction}: "/{source.path}": not found{why}')
    if missing:
        raise StandinError(
            "ERROR: failed to solve: failed to compute cache key: the build context lacks COPY/ADD sources:\n"
            + "\n".join(missing)
        )
    return present, text


def hadolint(step: Step, dockerfile: Path) -> None:
    binary = step.env.get("REHEARSAL_HADOLINT", "")
    if not binary:
        return
    if not Path(binary).is_file() and shutil.which(binary) is None:
        raise StandinError(f"REHEARSAL_HADOLINT={binary} is not an executable")
    proc = subprocess.run(
        [binary, "--failure-threshold", "error", str(dockerfile)],
        cwd=step.workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (proc.stdout + proc.stderr).strip()
    if output:
        step.info(output)
    if proc.returncode != 0:
        raise StandinError(f"hadolint found errors in {dockerfile.name}:\n{output}")


def build_push(step: Step) -> None:
    push, tags = step.bool_input("push"), input_list(step, "tags", commas=True)
    references = [split_reference(tag) for tag in tags]
    builder = step.input("builder")
    if builder and not (job_folder(step, "builders") / f"{builder}.json").is_file():
        raise StandinError(f'ERROR: no builder "{builder}" found')
    if push and not tags:
        raise StandinError("ERROR: tag is needed when pushing to registry")
    context_input = step.input("context")
    if "://" in context_input or context_input.startswith("git@"):
        raise StandinError(f"context {context_input}: a remote context is not emulated; use a folder")
    with tempfile.TemporaryDirectory(prefix="rehearsal-git-context-") as scratch:
        context = step.resolve(context_input) if context_input else git_context(step, Path(scratch))
        file_input = step.input("file")
        dockerfile = (
            (step.resolve(file_input) if context_input else context / file_input)
            if file_input
            else context / "Dockerfile"
        )
        present, text = check_context(step, context, dockerfile)
        hadolint(step, dockerfile)
        digest = build_digest(context, present, text, step)
    if push:
        logins = job_folder(step, "logins")
        for tag, (registry, _, _) in zip(tags, references, strict=True):
            if not (logins / registry).is_file():
                raise StandinError(
                    f"ERROR: failed to push {tag}: unauthorized: authentication required "
                    f"(no docker/login-action for {registry} in this job)"
                )
    image_id = "sha256:" + hashlib.sha256(f"config:{digest}".encode()).hexdigest()
    metadata = {
        "containerimage.digest": digest,
        "containerimage.config.digest": image_id,
        "image.name": ",".join(tags),
        "buildx.build.ref": f"{builder or 'default'}/{uuid.uuid4().hex}",
    }
    if push:
        forge = step.need_env("REHEARSAL_FORGE_URL", "pushed images are recorded in the forge")
        for tag in tags:
            try:
                rest.call(
                    "POST",
                    f"{forge.rstrip('/')}/_forge/images",
                    {"ref": tag, "digest": digest},
                    token=step.input("github-token"),
                )
            except rest.RestError as exc:
                raise StandinError(f"the forge did not record {tag}: {exc}") from exc
            step.info(f"pushed {tag}@{digest} (recorded in the forge; no image was built)")
    step.set_output("imageid", image_id)
    step.set_output("digest", digest)
    step.set_output("metadata", json.dumps(metadata, indent=2))
