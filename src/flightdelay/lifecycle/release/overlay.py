"""The image block of a kustomize overlay: read and rewrite it in place, as text.

The block is owned by the deployment manifests; only `newName`, `newTag` and an optional
`digest:` line change, so comments, order and formatting survive (no YAML re-dump).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flightdelay.core.errors import ReleaseError

IMAGE_NAME = "flightdelay"
KUSTOMIZATION = "kustomization.yaml"
_TAG_RE = re.compile(r"^model-v(\d+)-[0-9a-f]{7,40}$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_ENTRY_RE = re.compile(rf"^(?P<indent>\s*)- name:\s*{IMAGE_NAME}\s*$")
_FIELD_RE = re.compile(r"^(?P<indent>\s+)(?P<key>newName|newTag|digest):\s*(?P<value>\S+)\s*$")


@dataclass(frozen=True)
class ImageRef:
    """An image pinned by tag and, once the build reports one, by digest."""

    name: str
    tag: str
    digest: str | None = None

    def __str__(self) -> str:
        ref = f"{self.name}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref

    @property
    def model_version(self) -> int | None:
        """N for a tag `model-vN-<sha>`; None for anything else (e.g. the bootstrap tag)."""
        m = _TAG_RE.match(self.tag)
        return int(m.group(1)) if m else None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """`name:tag[@sha256:…]` back into its parts (the form version tags record)."""
        ref, _, digest = text.partition("@")
        name, sep, tag = ref.rpartition(":")
        if not sep or "/" in tag or not name:
            raise ReleaseError(f"{text!r} is not an image reference of the form name:tag[@digest]")
        return cls(name=name, tag=tag, digest=digest or None)


def image_tag(version: str | int, git_sha: str) -> str:
    """The tag that names both the model version and the code: `model-v7-1a2b3c4`."""
    return f"model-v{version}-{git_sha[:7]}"


def check_digest(digest: str) -> str:
    if not _DIGEST_RE.match(digest):
        raise ReleaseError(
            f"{digest!r} is not an image digest",
            hint="pass the digest the build reported, e.g. sha256:<64 hex digits>",
        )
    return digest


def _block(lines: list[str], path: Path) -> tuple[int, int]:
    """[start, end) line indices of the `- name: flightdelay` entry's fields."""
    for i, line in enumerate(lines):
        m = _ENTRY_RE.match(line)
        if not m:
            continue
        indent = len(m.group("indent"))
        end = i + 1
        while (
            end < len(lines) and lines[end].strip() and (len(lines[end]) - len(lines[end].lstrip()) > indent)
        ):
            end += 1
        return i + 1, end
    raise ReleaseError(
        f"{path} has no `images:` entry `- name: {IMAGE_NAME}`",
        hint="restore the managed images block at the end of the overlay (see deploy/README.md)",
    )


def read(overlay_dir: str | Path) -> ImageRef:
    """The image reference an overlay pins."""
    path = Path(overlay_dir) / KUSTOMIZATION
    if not path.is_file():
        raise ReleaseError(f"overlay {path} does not exist", hint="check release.overlays in params.yaml")
    lines = path.read_text().splitlines()
    start, end = _block(lines, path)
    fields = {
        m.group("key"): m.group("value") for m in (_FIELD_RE.match(line) for line in lines[start:end]) if m
    }
    if "newName" not in fields or "newTag" not in fields:
        raise ReleaseError(
            f"{path}: the {IMAGE_NAME} image entry lacks newName or newTag",
            hint="restore the managed images block (newName and newTag lines)",
        )
    return ImageRef(fields["newName"], fields["newTag"], fields.get("digest"))


def render(text: str, ref: ImageRef, path: Path) -> str:
    """`text` with the image entry pointing at `ref`; everything else byte-for-byte unchanged."""
    lines = text.splitlines(keepends=True)
    start, end = _block([line.rstrip("\n") for line in lines], path)
    out = lines[:start]
    indent = None
    for line in lines[start:end]:
        m = _FIELD_RE.match(line.rstrip("\n"))
        if m is None:
            out.append(line)
            continue
        indent = m.group("indent")
        if m.group("key") == "newName":
            out.append(f"{indent}newName: {ref.name}\n")
        elif m.group("key") == "newTag":
            out.append(f"{indent}newTag: {ref.tag}\n")
            if ref.digest:
                out.append(f"{indent}digest: {ref.digest}\n")
        # an old digest line is dropped; the new one (if any) follows newTag
    if indent is None:
        raise ReleaseError(f"{path}: the {IMAGE_NAME} image entry has no fields to rewrite")
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return "".join(out + lines[end:])


def write(overlay_dir: str | Path, ref: ImageRef) -> bool:
    """Point the overlay at `ref`; False (and no write) when it already does."""
    path = Path(overlay_dir) / KUSTOMIZATION
    if read(overlay_dir) == ref:
        return False
    text = path.read_text()
    new = render(text, ref, path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    tmp.replace(path)
    return True
