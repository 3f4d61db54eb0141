"""What a build context check needs of Docker: Dockerfile instructions, COPY/ADD sources, .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

HEREDOC = re.compile(r"<<-?([\"']?)(?P<word>\w+)\1")
VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::?[-+][^}]*)?\}|\$(?P<plain>\w+)")


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str

    def __str__(self) -> str:
        return f"{self.keyword} {' '.join(self.args.split())}"


def instructions(text: str) -> list[Instruction]:
    """Logical lines (backslash continuations joined, comments dropped, heredoc bodies skipped)."""
    found: list[Instruction] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start, current = index + 1, ""
        while index < len(lines):
            raw = lines[index]
            index += 1
            if raw.lstrip().startswith("#") and current:
                continue  # a comment inside a continued instruction
            if raw.rstrip().endswith("\\"):
                current += raw.rstrip()[:-1] + " "
                continue
            current += raw
            break
        if not current.strip() or current.lstrip().startswith("#"):
            continue
        keyword, _, args = current.strip().partition(" ")
        heredoc = HEREDOC.search(args)
        if heredoc:
            while index < len(lines) and lines[index].strip() != heredoc["word"]:
                index += 1
            index += 1
        found.append(Instruction(start, keyword.upper(), args.strip()))
    return found


def substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        return variables.get(name, match[0])

    return VARIABLE.sub(value, text)


def assignments(args: str) -> dict[str, str]:
    """`ARG NAME[=default]` and `ENV NAME=value ...` / `ENV NAME value`."""
    parts = args.split()
    if parts and "=" not in parts[0] and len(parts) > 1:
        return {parts[0]: " ".join(parts[1:])}
    out: dict[str, str] = {}
    for part in parts:
        name, _, value = part.partition("=")
        out[name] = value.strip("\"'")
    return out


@dataclass(frozen=True)
class Source:
    instruction: Instruction
    path: str  # relative to the context root, variables substituted


def copy_sources(text: str, build_args: dict[str, str]) -> list[Source]:
    """COPY/ADD sources read from the build context (not --from=<stage>, URLs or heredocs)."""
    sources: list[Source] = []
    variables: dict[str, str] = {}
    global_args: dict[str, str] = {}
    in_stage = False
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            in_stage, variables = True, {}
            continue
        if instruction.keyword in ("ARG", "ENV"):
            for name, default in assignments(instruction.args).items():
                if instruction.keyword == "ENV":
                    variables[name] = substitute(default, variables)
                    continue
                # ARG: --build-arg wins; a bare ARG in a stage takes the global ARG's value
                value = build_args.get(
                    name, substitute(default, variables) if default else global_args.get(name, "")
                )
                (variables if in_stage else global_args)[name] = value
            continue
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        args = instruction.args
        tokens = [str(t) for t in json.loads(args)] if args.startswith("[") else args.split()
        flags = [t for t in tokens if t.startswith("--")]
        tokens = [t for t in tokens if not t.startswith("--")]
        if any(f.startswith("--from=") for f in flags) or HEREDOC.search(args) or len(tokens) < 2:
            continue
        for token in tokens[:-1]:
            if re.match(r"^(https?|git)://|^git@", token):
                continue
            path = os.path.normpath(substitute(token, variables)).lstrip("/")
            sources.append(Source(instruction, "." if path in ("", ".") else path))
    return sources


class DockerIgnore:
    """moby's patternmatcher: last matching rule wins; a rule matches a path or any of its parent folders."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
            self.rules.append((negate, re.compile(f"^{self.regex(pattern)}$")))

    @staticmethod
    def regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return out

    def excluded(self, rel: str) -> bool:
        parents = [str(p) for p in Path(rel).parents if str(p) != "."]
        result = False
        for negate, rule in self.rules:
            if rule.match(rel) or any(rule.match(parent) for parent in parents):
                result = not negate
        return result


def context_paths(context: Path, ignore: DockerIgnore) -> set[str]:
    """Files and folders the build context sends (relative paths), after .dockerignore."""
    present: set[str] = {"."}
    for folder, dirs, files in os.walk(context):
        rel_folder = os.path.relpath(folder, context)
        for name in dirs + files:
            rel = os.path.normpath(f"{rel_folder}/{name}")
            if not ignore.excluded(rel):
                present.add(rel)
                present.update(str(p) for p in Path(rel).parents if str(p) != ".")
    return present


def source_present(source: str, present: set[str]) -> bool:
    if any(ch in source for ch in "*?["):
        depth = source.count("/")
        return any(p.count("/") == depth and fnmatch.fnmatchcase(p, source) for p in present)
    return source in present
