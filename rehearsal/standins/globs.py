"""Path patterns as @actions/glob reads them (upload-artifact, cache): lines, `!`, `~`, `*`, `**`, `?`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Pattern:
    negate: bool
    text: str  # absolute, normalised, no trailing slash
    regex: re.Pattern[str]
    search_path: Path  # the literal folder (or file) the pattern starts from
    unbounded: bool  # contains `**`: may match at any depth below search_path


def segment_regex(segment: str) -> str:
    out, i = "", 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[" and "]" in segment[i + 1 :]:
            end = segment.index("]", i + 1)
            body = segment[i + 1 : end]
            out += "[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]"
            i = end
        else:
            out += re.escape(char)
        i += 1
    return out


def compile_pattern(text: str, implicit_descendants: bool) -> re.Pattern[str]:
    parts = text.split("/")[1:]  # absolute: the first part is empty
    regex = ""
    for part in parts:
        regex += "(?:/.*)?" if part == "**" else "/" + segment_regex(part)
    if implicit_descendants:
        regex += "(?:/.*)?"  # a pattern that matches a folder matches everything in it
    return re.compile(f"^{regex or '/'}$")


def parse(lines: Iterable[str], cwd: Path, home: Path, implicit_descendants: bool) -> list[Pattern]:
    patterns: list[Pattern] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = False
        while line.startswith("!"):
            negate, line = not negate, line[1:].strip()
        if line.startswith("~"):
            line = str(home) + line[1:]
        text = os.path.normpath(line if Path(line).is_absolute() else str(cwd / line))
        parts = text.split("/")
        literal = parts[: next((i for i, p in enumerate(parts) if GLOB_CHARS.search(p)), len(parts))]
        search = Path("/".join(literal) or "/")
        patterns.append(
            Pattern(negate, text, compile_pattern(text, implicit_descendants), search, "**" in parts)
        )
    return patterns


def search_paths(patterns: list[Pattern]) -> list[Path]:
    """The include patterns' starting folders, minus duplicates and folders inside another (@actions/glob)."""
    roots = sorted({p.search_path for p in patterns if not p.negate}, key=lambda path: len(path.parts))
    kept: list[Path] = []
    for root in roots:
        if not any(root == k or k in root.parents for k in kept):
            kept.append(root)
    return kept


def matches(patterns: list[Pattern], path: Path) -> bool:
    text = str(path)
    result = False
    for pattern in patterns:
        if pattern.regex.match(text):
            result = not pattern.negate
    return result


def search(patterns: list[Pattern], *, implicit_descendants: bool, include_hidden: bool = True) -> list[Path]:
    """Matching paths (followed through symlinks), sorted; a matched folder stands for its whole tree unless
    implicit_descendants, where its files are listed one by one."""
    found: list[Path] = []
    max_depth = max((len(p.text.split("/")) for p in patterns if not p.negate), default=0)
    unbounded = any(p.unbounded for p in patterns if not p.negate)

    def visit(path: Path) -> None:
        if not include_hidden and path.name.startswith("."):
            return
        if not path.exists():
            return
        hit = matches(patterns, path)
        if path.is_dir():
            if hit and not implicit_descendants:
                found.append(path)
                return
            if unbounded or len(path.parts) < max_depth or implicit_descendants:
                for child in sorted(path.iterdir()):
                    visit(child)
            return
        if hit:
            found.append(path)

    for root in search_paths(patterns):
        visit(root)
    return sorted(set(found))


def least_common_ancestor(paths: list[Path]) -> Path:
    common = os.path.commonpath([str(p) for p in paths])
    return Path(common)
