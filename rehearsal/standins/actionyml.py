"""A stand-in's action.yml read without PyYAML (stand-ins run on the bare host python3): inputs, outputs.

The stand-in files are written in one plain layout (two-space indents, one key per line), which is all this
reader understands; a test checks that it agrees with PyYAML on every stand-in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_-]+):(?: +(?P<value>.*))?$")


@dataclass(frozen=True)
class InputSpec:
    name: str
    required: bool | None  # None: the action.yml does not say
    default: object  # the parsed YAML scalar; MISSING when there is no default key


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: object = _Missing()


@dataclass(frozen=True)
class ActionSpec:
    name: str
    inputs: dict[str, InputSpec]
    outputs: tuple[str, ...]


def scalar(text: str) -> object:
    """The YAML 1.2 core-schema scalars stand-ins use: quoted text, booleans, null, integers, plain text."""
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text in ("null", "~", ""):
        return None
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text)
    return text


def parse_action_yml(text: str) -> ActionSpec:
    name = ""
    section = ""
    current: str | None = None
    fields: dict[str, dict[str, object]] = {}
    outputs: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = KEY.match(line)
        if match is None:
            continue  # a folded description's continuation line
        indent, key, value = len(match["indent"]), match["key"], match["value"]
        if indent == 0:
            section, current = key, None
            if key == "name" and value is not None:
                name = str(scalar(value))
        elif indent == 2 and section == "inputs":
            current = key
            fields[key] = {}
        elif indent == 2 and section == "outputs":
            outputs.append(key)
        elif indent == 4 and section == "inputs" and current is not None and key in ("required", "default"):
            fields[current][key] = scalar(value or "")
    inputs = {
        key: InputSpec(
            key,
            None if "required" not in spec else bool(spec["required"]),
            spec.get("default", MISSING),
        )
        for key, spec in fields.items()
    }
    return ActionSpec(name, inputs, tuple(outputs))


def read_action_yml(path: Path) -> ActionSpec:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: a stand-in folder holds the action.yml it stands in for")
    return parse_action_yml(path.read_text(encoding="utf-8"))
