"""Which workflow files an event starts, and their concurrency group, as GitHub decides (pure).

Covers what this repository's workflows use: `push` (branches, tags, paths, paths-ignore),
`pull_request` (types, branches), `workflow_run` (workflows, types), `schedule` and
`workflow_dispatch`, and `${{ }}` expressions of the small grammar concurrency groups use
(contexts, string literals, `==`, `!=`, `&&`, `||`, `!`, parentheses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

DEFAULT_PR_TYPES = ("opened", "synchronize", "reopened")


@dataclass(frozen=True)
class Workflow:
    """One workflow file as read at a given commit."""

    file: str
    name: str
    on: dict[str, Any]
    concurrency: dict[str, Any] | None
    jobs: dict[str, Any]
    permissions: Any = None  # the workflow's `permissions:` (None: absent, the default applies)

    @classmethod
    def parse(cls, file: str, text: str) -> Workflow:
        doc = yaml.safe_load(text) or {}
        on = doc.get(True, doc.get("on", {}))  # YAML 1.1 reads a bare `on` key as True
        if isinstance(on, str):
            on = {on: None}
        elif isinstance(on, list):
            on = dict.fromkeys(on)
        conc = doc.get("concurrency")
        if isinstance(conc, str):
            conc = {"group": conc, "cancel-in-progress": False}
        jobs = dict(doc.get("jobs") or {})
        return cls(file, str(doc.get("name") or file), dict(on or {}), conc, jobs, doc.get("permissions"))


def glob_match(pattern: str, value: str) -> bool:
    """GitHub filter patterns: `*` stops at `/`, `**` crosses it."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"  # zero or more directories
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        else:
            regex += re.escape(pattern[i]) if pattern[i] not in "?[]" else pattern[i]
            i += 1
    return re.fullmatch(regex, value) is not None


def _filtered(patterns: Sequence[str] | None, ignore: Sequence[str] | None, values: Iterable[str]) -> bool:
    """True when the include/ignore filters let at least one of `values` through."""
    values = list(values)
    if patterns is not None:
        return any(_last_match(patterns, v) for v in values)
    if ignore is not None:
        return any(not any(glob_match(p, v) for p in ignore) for v in values)
    return True


def _last_match(patterns: Sequence[str], value: str) -> bool:
    """Include patterns with `!negations`: the last matching pattern decides."""
    verdict = False
    for p in patterns:
        if p.startswith("!"):
            if glob_match(p[1:], value):
                verdict = False
        elif glob_match(p, value):
            verdict = True
    return verdict


def starts(wf: Workflow, event: str, payload: Mapping[str, Any], changed: Sequence[str] = ()) -> bool:
    """Does `event` with `payload` start workflow `wf`? `changed`: files a push changed."""
    if event not in wf.on:
        return False
    spec = wf.on[event] or {}
    if event == "push":
        ref = str(payload["ref"])
        if ref.startswith("refs/tags/"):
            tags = spec.get("tags")
            if tags is None and (spec.get("branches") is not None or spec.get("branches-ignore")):
                return False
            if tags is not None and not _last_match(tags, ref[len("refs/tags/") :]):
                return False
        else:
            branch = ref[len("refs/heads/") :]
            if spec.get("tags") is not None and spec.get("branches") is None:
                return False
            if not _filtered(spec.get("branches"), spec.get("branches-ignore"), [branch]):
                return False
        if ("paths" in spec or "paths-ignore" in spec) and changed:
            return _filtered(spec.get("paths"), spec.get("paths-ignore"), changed)
        return True
    if event == "pull_request":
        if payload["action"] not in spec.get("types", DEFAULT_PR_TYPES):
            return False
        base = str(payload["pull_request"]["base"]["ref"])
        return _filtered(spec.get("branches"), spec.get("branches-ignore"), [base])
    if event == "workflow_run":
        run = payload["workflow_run"]
        if run["name"] not in spec.get("workflows", []):
            return False
        return payload["action"] in spec.get("types", ["completed", "requested"])
    return True  # schedule, workflow_dispatch


# --- expressions (concurrency groups) ------------------------------------------------------
TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<word>[\w.\-\[\]]+))")


def lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one `${{ }}` body with GitHub's truthiness and short-circuit `&&`/`||`."""
    tokens = [m for m in TOKEN.finditer(expression) if m.group(0).strip()]
    pos = 0

    def peek() -> str | None:
        return tokens[pos].group(0).strip() if pos < len(tokens) else None

    def take() -> re.Match[str]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> Any:
        tok = take()
        if tok.group("str") is not None:
            return tok.group("str")[1:-1].replace("''", "'")
        if tok.group("op") == "(":
            value = disjunction()
            take()
            return value
        if tok.group("op") == "!":
            return not atom()
        word = tok.group("word")
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", word):
            return float(word)
        return lookup(context, word)

    def comparison() -> Any:
        left = atom()
        while peek() in ("==", "!="):
            op = take().group(0).strip()
            right = atom()
            same = str(left).lower() == str(right).lower() if left is not None else right is None
            left = same if op == "==" else not same
        return left

    def conjunction() -> Any:
        left = comparison()
        while peek() == "&&":
            take()
            right = comparison()
            left = right if left else left
        return left

    def disjunction() -> Any:
        left = conjunction()
        while peek() == "||":
            take()
            right = conjunction()
            left = left if left else right
        return left

    return disjunction()


def render(template: str, context: Mapping[str, Any]) -> str:
    """Substitute every `${{ … }}` in `template` (GitHub formats null as '')."""

    def one(m: re.Match[str]) -> str:
        value = evaluate(m.group(1), context)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).lower() if isinstance(value, bool) else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, template)


def concurrency(wf: Workflow, context: Mapping[str, Any]) -> tuple[str, bool] | None:
    """(group, cancel-in-progress) of a run, or None when the workflow declares none."""
    if not wf.concurrency:
        return None
    group = render(str(wf.concurrency["group"]), context)
    cancel = wf.concurrency.get("cancel-in-progress", False)
    if isinstance(cancel, str):
        cancel = str(render(cancel, context)).lower() == "true"
    return group, bool(cancel)
