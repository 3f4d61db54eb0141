"""`flightdelay lock check`: does the dvc.lock that `dvc repro` wrote record what the committed one does?

The release ships the model that the committed dvc.lock names, so a pull request whose lock is not
what its own pipeline reproduces must not merge. The comparison is semantic (per stage: command,
each dep's and out's hash, each param's value), so key order and YAML layout are no difference.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flightdelay.adapters.gitio import git
from flightdelay.core.errors import ConfigError, ModelError, ToolError
from flightdelay.core.params import Params
from flightdelay.core.progress import say

LOCK = "dvc.lock"
FIX = "run `make repro` (or `dvc repro`), then `git add dvc.lock && git commit` and push"


@dataclass(frozen=True)
class Difference:
    stage: str
    what: str  # "out <path>", "dep <path>", "param <file>:<key>", "cmd", "stage"
    committed: str | None
    reproduced: str | None

    def line(self) -> str:
        def short(v: str | None) -> str:
            return "absent" if v is None else (v[:12] if len(v) > 12 and " " not in v else v)

        if self.what == "stage":
            where = "only in the committed lock" if self.reproduced is None else "not in the committed lock"
            return f"stage {self.stage}: {where}"
        return (
            f"stage {self.stage}: {self.what}: committed {short(self.committed)}, "
            f"reproduced {short(self.reproduced)}"
        )


def _hash(entry: dict[str, Any]) -> str:
    """The content hash DVC recorded for one dep/out (md5 by default; `hash:` names the field)."""
    key = str(entry.get("hash") or "md5")
    for k in (key, "md5", "etag", "checksum"):
        if entry.get(k) is not None:
            return str(entry[k])
    return json.dumps({k: v for k, v in entry.items() if k != "path"}, sort_keys=True)


def stage_facts(lock_text: str) -> dict[str, dict[str, str]]:
    """stage → {"out <path>": hash, "dep <path>": hash, "param <file>:<key>": value, "cmd": …}."""
    try:
        data = yaml.safe_load(lock_text) or {}
    except yaml.YAMLError as e:
        raise ModelError(f"{LOCK} is not valid YAML: {e}", hint=f"restore it from git, then {FIX}") from e
    out: dict[str, dict[str, str]] = {}
    for stage, body in ((data.get("stages") if isinstance(data, dict) else None) or {}).items():
        facts: dict[str, str] = {"cmd": json.dumps(body.get("cmd"))}
        for kind in ("deps", "outs"):
            for entry in body.get(kind) or []:
                facts[f"{kind[:-1]} {entry['path']}"] = _hash(entry)
        for file, values in (body.get("params") or {}).items():
            for key, value in _leaves(values or {}):
                facts[f"param {file}:{key}"] = json.dumps(value, sort_keys=True, default=str)
        out[str(stage)] = facts
    return out


def _leaves(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested params as dotted keys (`train.n_estimators`), so a difference names one value."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out += _leaves(value, name + ".")
        else:
            out.append((name, value))
    return out


def compare(committed: str, reproduced: str) -> list[Difference]:
    """Every stage fact that differs (pure); outs first within a stage, they name the model."""
    a, b = stage_facts(committed), stage_facts(reproduced)
    diffs: list[Difference] = []
    for stage in [*b, *(s for s in a if s not in b)]:  # pipeline order, as DVC writes it
        if stage not in b or stage not in a:
            present = ("present" if stage in a else None, "present" if stage in b else None)
            diffs.append(Difference(stage, "stage", *present))
            continue
        keys = sorted(a[stage].keys() | b[stage].keys(), key=lambda k: (not k.startswith("out "), k))
        diffs += [
            Difference(stage, k, a[stage].get(k), b[stage].get(k))
            for k in keys
            if a[stage].get(k) != b[stage].get(k)
        ]
    return diffs


def committed_lock(ref: str = "HEAD", path: str = LOCK) -> str:
    """The text of dvc.lock as committed on `ref`."""
    try:
        git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ToolError as e:
        raise ConfigError(
            f"{ref!r} is not a commit in this repository", hint="pass --against with a branch, tag or SHA"
        ) from e
    try:
        return git("show", f"{ref}:{path}")
    except ToolError as e:
        raise ModelError(f"{ref} has no committed {path}", hint=FIX) from e


def check(against: str = "HEAD", lock: Path = Path(LOCK)) -> list[Difference]:
    """Raise ModelError, one line per difference, when the workspace lock differs from `against`'s."""
    if not lock.is_file():
        raise ModelError(f"{lock} is missing: nothing was reproduced", hint="run `make repro` first")
    diffs = compare(committed_lock(against, lock.as_posix()), lock.read_text())
    if diffs:
        lines = "\n".join(f"  {d.line()}" for d in diffs)
        raise ModelError(
            f"the reproduced {lock} differs from the one committed on {against} "
            f"({len(diffs)} difference(s)); the committed lock does not name the model this "
            f"commit builds:\n{lines}",
            hint=FIX,
        )
    return diffs


def _handler(args: argparse.Namespace, p: Params) -> int:
    check(args.against, Path(args.lock))
    say(f"lock: {args.lock} matches the one committed on {args.against}")
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("lock", help="check that the reproduced dvc.lock is the committed one")
    rsub = r.add_subparsers(dest="lock_cmd", required=True)
    c = rsub.add_parser(
        "check",
        help="after `dvc repro`: compare dvc.lock with the committed one (exit 5 on a difference)",
    )
    c.add_argument("--against", default="HEAD", help="git ref whose dvc.lock was committed (default HEAD)")
    c.add_argument("--lock", default=LOCK, help="the reproduced lock file (default dvc.lock)")
    handlers["lock"] = _handler
