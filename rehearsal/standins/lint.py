"""A workflow checked against the stand-ins: each `uses:` has one, and its `with:` and outputs fit it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rehearsal.standins.actionyml import MISSING, ActionSpec, read_action_yml
from rehearsal.standins.catalog import STANDINS, find

HOW_TO_ADD = "see rehearsal/actions/README.md"
OUTPUT_REF = re.compile(
    r"steps\.(?P<step>[A-Za-z_][\w-]*)\.outputs"
    r"(?:\.(?P<dotted>[A-Za-z_][\w-]*)|\[\s*['\"](?P<indexed>[^'\"]+)['\"]\s*\])"
)


def strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def step_label(index: int, step: dict[str, Any]) -> str:
    return str(step.get("name") or step.get("id") or f"#{index + 1} ({step.get('uses') or 'run'})")


def missing_standin(uses: str) -> str:
    repo = uses.split("@", 1)[0]
    known = [
        s.sha
        for s in STANDINS
        if repo.lower() in (s.repo.lower(), *(f"{s.repo}/{sub}".lower() for sub in s.subactions))
    ]
    if known:
        shas = ", ".join(known)
        return f"uses {uses}: no stand-in at this SHA (stand-ins exist at {shas}); {HOW_TO_ADD}"
    return f"uses {uses}: no stand-in in rehearsal/actions for this action; {HOW_TO_ADD}"


def check_with(uses: str, spec: ActionSpec, given: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    declared = {name.lower(): name for name in spec.inputs}
    for key in given:
        if str(key).lower() not in declared:
            problems.append(
                f"input '{key}' is not an input of {uses.split('@', 1)[0]} at this pin "
                f"(valid: {', '.join(spec.inputs)})"
            )
    supplied = {str(key).lower(): value for key, value in given.items()}
    for name, input_spec in spec.inputs.items():
        if not input_spec.required or input_spec.default is not MISSING:
            continue
        value = supplied.get(name.lower())
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"required input '{name}' is not supplied")
    return problems


def check_job(job_id: str, job: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if isinstance(job.get("uses"), str) and not job["uses"].startswith("./"):
        problems.append(f"job '{job_id}': {missing_standin(job['uses'])} (a reusable workflow)")
    outputs_of: dict[str, tuple[str, ActionSpec]] = {}
    for index, step in enumerate(job.get("steps") or []):
        uses = step.get("uses")
        if not isinstance(uses, str) or uses.startswith("./"):
            continue  # run steps and the repository's own actions need no stand-in
        where = f"job '{job_id}', step '{step_label(index, step)}'"
        found = find(uses)
        if found is None:
            problems.append(f"{where}: {missing_standin(uses)}")
            continue
        standin, sub = found
        spec = read_action_yml(standin.action_dir(sub) / "action.yml")
        given = step.get("with") or {}
        problems += [f"{where}: {problem}" for problem in check_with(uses, spec, given)]
        if step.get("id"):
            outputs_of[str(step["id"])] = (uses, spec)
    for text in strings(job):
        for match in OUTPUT_REF.finditer(text):
            known = outputs_of.get(match["step"])
            name = match["dotted"] or match["indexed"]
            if known is not None and name not in known[1].outputs:
                uses, spec = known
                problems.append(
                    f"job '{job_id}': steps.{match['step']}.outputs.{name}: {uses.split('@', 1)[0]} "
                    f"has no output '{name}' (outputs: {', '.join(spec.outputs) or 'none'})"
                )
    return problems


def check_workflow(path: Path) -> list[str]:
    """What a rehearsal of this workflow would hit at a third-party action, naming file, job and step."""
    import yaml  # the harness's environment has PyYAML; the stand-ins themselves do not need it

    workflow = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    jobs = workflow.get("jobs") or {}
    problems: list[str] = []
    for job_id, job in jobs.items():
        problems += [f"{Path(path).name}: {problem}" for problem in check_job(str(job_id), job or {})]
    return problems
