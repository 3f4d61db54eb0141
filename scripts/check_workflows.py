"""Security policy for GitHub Actions workflows, checked in pure Python (no network, no runner).

Rules (ids appear in every message):
- `trigger`       no `pull_request_target` (it runs with a write token and secrets on fork PRs).
- `permissions`   top-level `permissions` present and read-only; write scopes only per job.
- `injection`     untrusted `${{ github.event… }}` / `github.head_ref` / `inputs.*` never expanded
                  inside `run:` (or an `actions/github-script` script): pass them through `env:`.
- `pin`           every `uses:` pinned to a full 40-hex commit SHA with a `# vX.Y.Z` comment
                  (local `./…` actions and `docker://…@sha256:` images are allowed).
- `credentials`   `persist-credentials: false` on every `actions/checkout`, except in a job that
                  pushes: a `git push` in a run step, a checkout given an explicit `token:`, an
                  explicit `persist-credentials: true  # <reason>`, or the marker
                  `# policy: persist-credentials <reason>` on the `uses:` line.
- `timeout`       `timeout-minutes` on every job (jobs calling a reusable workflow are exempt: the
                  called workflow's jobs carry it).
- `concurrency`   release workflows (name or file name contains "release" or "promot") have a
                  concurrency group that does not cancel a release in progress, keyed per commit
                  or run: GitHub keeps one running and one pending run per group and cancels the
                  older pending one, so a group shared by successive runs drops queued releases.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\S*")
DOCKER_DIGEST = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
# `git push`, `git -C dir push`, `git -c key=value push`.
GIT_PUSH = re.compile(r"\bgit\s+(?:-[Cc]\s+\S+\s+)*push\b")
CREDENTIALS_MARKER = re.compile(r"#\s*policy:\s*persist-credentials\s+\S")
REASON_COMMENT = re.compile(r"#\s*\S+\s+\S+")  # a reason: at least two words
RELEASE_NAME = re.compile(r"release|promot", re.IGNORECASE)

# Jobs allowed to keep checkout credentials without a visible push: {(file name, job id): reason}.
CREDENTIALS_ALLOWLIST: dict[tuple[str, str], str] = {}

# Event fields GitHub fills with numbers, ids, SHAs or fixed enums: safe to expand in a script.
SAFE_EVENT_LEAVES = frozenset(
    {
        "number",
        "id",
        "sha",
        "head_sha",
        "base_sha",
        "run_id",
        "run_number",
        "run_attempt",
        "merged",
        "draft",
        "fork",
        "action",
        "conclusion",
    }
)
# Payload parts that are free text even when a leaf is called `id` or `number`.
FREE_TEXT_EVENT_PARTS = frozenset({"inputs", "client_payload"})
# Branch names are chosen by whoever pushes (a fork, for pull requests).
BRANCH_CONTEXTS = frozenset({"github.head_ref", "github.ref_name", "github.ref"})
SAFE_INPUT_TYPES = frozenset({"boolean", "number"})


@dataclass(frozen=True)
class Violation:
    """One broken rule, located precisely enough to fix without reading the checker."""

    file: str
    line: int
    rule: str
    where: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: [{self.rule}] {self.problem} -> fix: {self.fix}"


class LineMap(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


def _mapping(value: Any) -> LineMap:
    """`value` when it is a mapping, else an empty one (absent or mistyped keys read as empty)."""
    return value if isinstance(value, LineMap) else LineMap()


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    mapping = LineMap()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_workflow(text: str) -> LineMap:
    """Parse a workflow, keeping key line numbers. YAML 1.1 reads the `on:` key as True."""
    doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 -- SafeLoader subclass, mappings only
    if not isinstance(doc, LineMap):
        raise ValueError("a workflow must be a YAML mapping")
    if True in doc:
        doc["on"] = doc.pop(True)
        doc.key_lines["on"] = doc.key_lines.pop(True)
    return doc


def _step_label(index: int, step: LineMap) -> str:
    label = step.get("name") or step.get("uses")
    if not label:
        label = (str(step.get("run", "")).strip().splitlines() or ["?"])[0][:60]
    return f"step {index + 1} '{label}'"


def _triggers(on: Any) -> set[str]:
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return {str(x) for x in on}
    if isinstance(on, dict):
        return {str(x) for x in on}
    return set()


def _input_types(on: Any) -> dict[str, str]:
    types: dict[str, str] = {}
    if isinstance(on, dict):
        for trigger in ("workflow_dispatch", "workflow_call"):
            spec = on.get(trigger)
            if isinstance(spec, dict) and isinstance(spec.get("inputs"), dict):
                for name, inp in spec["inputs"].items():
                    types[str(name)] = str(inp.get("type", "string")) if isinstance(inp, dict) else "string"
    return types


def _normalise(expr: str) -> str:
    """`a['b']` -> `a.b`, `a[0]` / `a[*]` -> `a.*`, so one regex sees every context path."""
    expr = re.sub(r"\[\s*'([^']*)'\s*\]", r".\1", expr)
    expr = re.sub(r'\[\s*"([^"]*)"\s*\]', r".\1", expr)
    return re.sub(r"\[[^\]]*\]", ".*", expr)


CONTEXT_PATH = re.compile(r"(?<![\w.])(github|inputs)((?:\.[A-Za-z0-9_*-]+)*)")


def untrusted_references(expr: str, input_types: dict[str, str]) -> list[str]:
    """Context paths in one `${{ }}` expression whose value an outsider (or a free-text input) controls."""
    found: list[str] = []
    for match in CONTEXT_PATH.finditer(_normalise(expr)):
        root, rest = match.group(1), match.group(2)
        parts = [p for p in rest.split(".") if p]
        path = ".".join([root, *parts])
        if root == "inputs":
            if not parts or input_types.get(parts[0], "string") not in SAFE_INPUT_TYPES:
                found.append(path)
        elif parts and parts[0] == "event":
            event_parts = parts[1:]
            free_text = any(p in FREE_TEXT_EVENT_PARTS for p in event_parts)
            if free_text or not event_parts or event_parts[-1] not in SAFE_EVENT_LEAVES:
                found.append(path)
        elif path in BRANCH_CONTEXTS:
            found.append(path)
    return found


def _env_name(ref: str) -> str:
    """`github.event.pull_request.labels.*.name` -> `LABELS_NAME`: a readable variable name."""
    parts = [p for p in ref.split(".") if p not in ("github", "event", "inputs", "*")] or ["event"]
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts[-2:])).upper().strip("_")


def _scripts(step: LineMap) -> list[tuple[str, str]]:
    """(key, script text) for code the runner executes: `run:` and github-script's `script:`."""
    scripts: list[tuple[str, str]] = []
    if isinstance(step.get("run"), str):
        scripts.append(("run", step["run"]))
    uses = str(step.get("uses", ""))
    script = _mapping(step.get("with")).get("script")
    if uses.startswith("actions/github-script@") and isinstance(script, str):
        scripts.append(("with.script", script))
    return scripts


def _job_pushes(job: LineMap) -> bool:
    for step in job.get("steps") or []:
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("run"), str) and GIT_PUSH.search(step["run"]):
            return True
        with_ = step.get("with")
        is_checkout = str(step.get("uses", "")).startswith("actions/checkout@")
        if is_checkout and isinstance(with_, dict) and with_.get("token"):
            return True
    return False


class _Checker:
    def __init__(self, path: Path, text: str) -> None:
        self.file = path.name
        self.lines = text.splitlines()
        self.violations: list[Violation] = []

    def add(self, line: int, rule: str, where: str, problem: str, fix: str) -> None:
        self.violations.append(Violation(self.file, line, rule, where, problem, fix))

    def raw(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def check(self, doc: LineMap) -> None:
        on = doc.get("on")
        if "pull_request_target" in _triggers(on):
            self.add(
                doc.line_of("on"),
                "trigger",
                "workflow",
                "`pull_request_target` runs with a write token and secrets on fork pull requests",
                "trigger on `pull_request` (read-only) and post results from a separate "
                "`workflow_run` workflow that never checks out PR code",
            )
        self.check_top_permissions(doc)
        self.check_release_concurrency(doc)
        input_types = _input_types(on)
        jobs = _mapping(doc.get("jobs"))
        if not jobs:
            self.add(doc.line, "jobs", "workflow", "no `jobs:` mapping", "define at least one job")
            return
        for job_id, job in jobs.items():
            if isinstance(job, LineMap):
                self.check_job(str(job_id), job, jobs.line_of(job_id), input_types)

    def check_top_permissions(self, doc: LineMap) -> None:
        fix = (
            "set `permissions: {}` (or `contents: read`) at the top "
            "and grant writes in the job that needs them"
        )
        if "permissions" not in doc:
            self.add(
                1, "permissions", "workflow", "no top-level `permissions:` (defaults may be write-all)", fix
            )
            return
        perms = doc["permissions"]
        line = doc.line_of("permissions")
        if isinstance(perms, dict):
            for scope, level in perms.items():
                if level not in ("read", "none"):
                    self.add(
                        perms.line_of(scope) if isinstance(perms, LineMap) else line,
                        "permissions",
                        "workflow",
                        f"top-level `{scope}: {level}` grants {level} to every job",
                        f"move `{scope}: {level}` into the `permissions:` of the job that needs it",
                    )
        else:
            self.add(line, "permissions", "workflow", f"top-level `permissions: {perms}`", fix)

    def check_release_concurrency(self, doc: LineMap) -> None:
        name = f"{self.file} {doc.get('name', '')}"
        if not RELEASE_NAME.search(name):
            return
        fix = (
            "add a top-level `concurrency: {group: <workflow>-${{ github.sha }}, cancel-in-progress: false}`"
        )
        concurrency = doc.get("concurrency")
        if concurrency is None:
            jobs = doc.get("jobs") if isinstance(doc.get("jobs"), dict) else {}
            if jobs and all(isinstance(j, dict) and j.get("concurrency") for j in jobs.values()):
                return
            self.add(
                doc.line,
                "concurrency",
                "workflow",
                "release workflow without a concurrency group: two runs can release at once",
                fix,
            )
            return
        if isinstance(concurrency, str):
            concurrency = {"group": concurrency}
        if isinstance(concurrency, dict):
            if not concurrency.get("group"):
                self.add(
                    doc.line_of("concurrency"), "concurrency", "workflow", "`concurrency` has no `group`", fix
                )
            group = str(concurrency.get("group") or "")
            if group and not re.search(r"github\.(sha|run_id)\b", group):
                self.add(
                    doc.line_of("concurrency"),
                    "concurrency",
                    "workflow",
                    f"group `{group}` is shared by successive runs: GitHub keeps one pending run per "
                    "group and cancels the older one, so a queued release would be dropped",
                    "key the group per commit or run, e.g. `group: <workflow>-${{ github.sha }}`",
                )
            if concurrency.get("cancel-in-progress") is True:
                self.add(
                    doc.line_of("concurrency"),
                    "concurrency",
                    "workflow",
                    "`cancel-in-progress: true` can stop a release halfway (tag pushed, image not bumped)",
                    "set `cancel-in-progress: false` so a later run waits for the running one",
                )

    def check_job(self, job_id: str, job: LineMap, line: int, input_types: dict[str, str]) -> None:
        where = f"job '{job_id}'"
        if job.get("permissions") == "write-all":
            self.add(
                job.line_of("permissions"),
                "permissions",
                where,
                "`permissions: write-all`",
                "list only the scopes this job writes, e.g. `contents: write`",
            )
        if "uses" in job:  # a reusable-workflow call: no steps, no timeout-minutes allowed
            self.check_pin(str(job["uses"]), job.line_of("uses"), where)
            return
        if "timeout-minutes" not in job:
            self.add(
                line,
                "timeout",
                where,
                "no `timeout-minutes` (the default is 360 minutes of runner time)",
                "add `timeout-minutes: <expected minutes x 2>` to the job",
            )
        pushes = _job_pushes(job) or (self.file, job_id) in CREDENTIALS_ALLOWLIST
        steps = job.get("steps") or []
        for index, step in enumerate(steps):
            if not isinstance(step, LineMap):
                continue
            step_where = f"{where}, {_step_label(index, step)}"
            if "uses" in step:
                self.check_pin(str(step["uses"]), step.line_of("uses"), step_where)
                if str(step["uses"]).startswith("actions/checkout@"):
                    self.check_checkout(step, step_where, pushes)
            for key, script in _scripts(step):
                self.check_script(step, key, script, step_where, input_types)

    def check_pin(self, uses: str, line: int, where: str) -> None:
        if uses.startswith("./") or DOCKER_DIGEST.match(uses):
            return
        if uses.startswith("docker://"):
            self.add(
                line,
                "pin",
                where,
                f"`{uses}` is a mutable image tag",
                "pin the image by digest: `docker://<image>@sha256:<64 hex>`",
            )
            return
        if not SHA_PIN.match(uses):
            self.add(
                line,
                "pin",
                where,
                f"`{uses}` is not pinned to a full commit SHA (tags and branches can be moved)",
                f"use `{uses.split('@', maxsplit=1)[0]}@<40-hex commit SHA> # vX.Y.Z`",
            )
            return
        if not VERSION_COMMENT.search(self.raw(line)):
            self.add(
                line,
                "pin",
                where,
                f"`{uses}` has no version comment",
                "append `# vX.Y.Z` (the tag that SHA belongs to) so reviewers and Dependabot can read it",
            )

    def check_checkout(self, step: LineMap, where: str, pushes: bool) -> None:
        with_ = _mapping(step.get("with"))
        value = with_.get("persist-credentials")
        if value is False or str(value).lower() == "false" or pushes:
            return
        declared = value is True and REASON_COMMENT.search(self.raw(with_.line_of("persist-credentials")))
        if declared or CREDENTIALS_MARKER.search(self.raw(step.line_of("uses"))):
            return
        self.add(
            step.line_of("uses"),
            "credentials",
            where,
            "checkout leaves the job token in .git/config for every later step",
            "add `persist-credentials: false` under `with:`; a job that pushes says so: "
            "`persist-credentials: true # <why this job pushes>`, a `git push` in a run step, "
            "or `# policy: persist-credentials <reason>` on the `uses:` line",
        )

    def check_script(
        self, step: LineMap, key: str, script: str, where: str, input_types: dict[str, str]
    ) -> None:
        line = step.line_of("run") if key == "run" else step.line_of("with")
        for expr in EXPRESSION.findall(script):
            for ref in untrusted_references(expr, input_types):
                var = _env_name(ref)
                use = f'`"${var}"`' if key == "run" else f"`process.env.{var}`"
                self.add(
                    line,
                    "injection",
                    where,
                    f"`${{{{ {expr.strip()} }}}}` expands `{ref}` into the `{key}` script (code injection)",
                    f"add `env: {{{var}: ${{{{ {ref} }}}}}}` to the step and use {use} in the script",
                )


def check_workflow(path: Path) -> list[Violation]:
    """Every policy violation in one workflow file (an unparsable file is one violation)."""
    text = path.read_text(encoding="utf-8")
    checker = _Checker(path, text)
    try:
        doc = load_workflow(text)
    except (yaml.YAMLError, ValueError) as exc:
        checker.add(1, "yaml", "workflow", f"cannot parse: {exc}", "fix the YAML syntax")
        return checker.violations
    checker.check(doc)
    return checker.violations


def workflow_files(root: Path) -> list[Path]:
    """The workflows GitHub runs: `.github/workflows/*.yml` and `*.yaml`."""
    folder = root / ".github" / "workflows"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def main(argv: list[str]) -> int:
    """`python scripts/check_workflows.py [ROOT]`: every violation in ROOT's workflows, one a line."""
    root = Path(argv[0] if argv else ".")
    violations = [v for path in workflow_files(root) for v in check_workflow(path)]
    for v in violations:
        print(v)
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
