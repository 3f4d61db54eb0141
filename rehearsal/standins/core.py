"""What @actions/core gives a JavaScript action, for Python stand-ins: inputs, outputs, env, state, log."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rehearsal.standins.actionyml import ActionSpec, read_action_yml

BOOLEAN_TRUE = ("true", "True", "TRUE")
BOOLEAN_FALSE = ("false", "False", "FALSE")


class StandinError(Exception):
    """The step fails: the message becomes the step's `::error::` line (core.setFailed)."""


def env_key(name: str) -> str:
    """The variable an input arrives in: act and the GitHub runner keep dashes and map the rest to `_`."""
    return "INPUT_" + re.sub(r"[^A-Z0-9-]", "_", name.upper())


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@dataclass
class Step:
    """One run of a stand-in: its action.yml, the environment act gave it, and the runner files it writes."""

    action_dir: Path
    env: Mapping[str, str]
    spec: ActionSpec

    @classmethod
    def load(cls, action_dir: Path, env: Mapping[str, str] | None = None) -> Step:
        return cls(
            action_dir, dict(os.environ if env is None else env), read_action_yml(action_dir / "action.yml")
        )

    # -- inputs -----------------------------------------------------------------------------------------
    def validate_inputs(self) -> None:
        """Fail on an input the real action does not declare, and on a required one that is missing or empty.

        GitHub only warns about an unexpected input ("Unexpected input(s) ..."); the rehearsal fails the step
        so that the workflow gets fixed before it reaches GitHub.
        """
        declared = {env_key(name): name for name in self.spec.inputs}
        unknown = sorted(
            key[len("INPUT_") :].lower()
            for key in self.env
            if key.startswith("INPUT_") and key not in declared
        )
        if unknown:
            names = ", ".join(f"'{name}'" for name in unknown)
            valid = ", ".join(f"'{name}'" for name in self.spec.inputs)
            raise StandinError(
                f"Unexpected input(s) {names}, valid inputs are [{valid}]: the real action has no such input "
                "(GitHub only warns; the rehearsal fails the step so that the workflow gets fixed)"
            )
        for name, spec in self.spec.inputs.items():
            if spec.required and not self.env.get(env_key(name), "").strip():
                raise StandinError(f"Input required and not supplied: {name}")

    def input(self, name: str, *, required: bool = False) -> str:
        """core.getInput: trimmed; `required` fails like the toolkit does."""
        if name not in self.spec.inputs:
            raise KeyError(
                f"{self.spec.name} declares no input {name!r}: the stand-in reads an input the action lacks"
            )
        value = self.env.get(env_key(name), "").strip()
        if required and not value:
            raise StandinError(f"Input required and not supplied: {name}")
        return value

    def bool_input(self, name: str) -> bool:
        """core.getBooleanInput: only the YAML 1.2 core-schema spellings are accepted."""
        value = self.input(name)
        if value in BOOLEAN_TRUE:
            return True
        if value in BOOLEAN_FALSE:
            return False
        raise StandinError(
            f'Input does not meet YAML 1.2 "Core Schema" specification: {name}\n'
            "Support boolean input list: `true | True | TRUE | false | False | FALSE`"
        )

    def lines_input(self, name: str) -> list[str]:
        """core.getMultilineInput: one value per non-empty line, trimmed."""
        return [line.strip() for line in self.input(name).splitlines() if line.strip()]

    # -- environment ------------------------------------------------------------------------------------
    def need_env(self, name: str, why: str) -> str:
        value = self.env.get(name, "")
        if not value:
            raise StandinError(f"{name} is not set: {why}")
        return value

    @property
    def workspace(self) -> Path:
        return Path(self.env.get("GITHUB_WORKSPACE") or Path.cwd())

    @property
    def home(self) -> Path:
        return Path(self.env.get("HOME") or Path.home())

    @property
    def store(self) -> Path:
        """The folder stand-ins share across jobs and runs (artifacts, caches, logins, published files)."""
        store = Path(
            self.need_env(
                "REHEARSAL_STORE",
                "the rehearsal harness passes it to act with --env; "
                "to run a stand-in by hand, point it at a scratch folder",
            )
        )
        store.mkdir(parents=True, exist_ok=True)
        return store

    def expand_home(self, text: str) -> str:
        return str(self.home) + text[1:] if text.startswith("~") else text

    def resolve(self, text: str) -> Path:
        """A path input as the toolkit resolves it: `~` is HOME, relative paths start at the workspace."""
        return (self.workspace / self.expand_home(text)).resolve()

    # -- runner files -----------------------------------------------------------------------------------
    def _append(self, variable: str, name: str, value: str) -> None:
        target = self.need_env(variable, "act (and the GitHub runner) set it for every step")
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def set_output(self, name: str, value: object) -> None:
        if name not in self.spec.outputs:
            raise KeyError(
                f"{self.spec.name} declares no output {name!r}: the stand-in sets an output the action lacks"
            )
        self._append("GITHUB_OUTPUT", name, str(value))

    def export_variable(self, name: str, value: str) -> None:
        self._append("GITHUB_ENV", name, value)

    def add_path(self, folder: Path) -> None:
        target = self.need_env("GITHUB_PATH", "act (and the GitHub runner) set it for every step")
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(f"{folder}\n")

    def save_state(self, name: str, value: str) -> None:
        """core.saveState: the post step reads it back as STATE_<name>."""
        target = self.need_env("GITHUB_STATE", "act (and the GitHub runner) set it for every step")
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(f"{name}={value}\n")

    def state(self, name: str) -> str:
        return self.env.get(f"STATE_{name}", "")

    # -- log --------------------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        sys.stdout.write(f"{message}\n")
        sys.stdout.flush()

    def debug(self, message: str) -> None:
        self.info(f"::debug::{escape_data(message)}")

    def warning(self, message: str) -> None:
        self.info(f"::warning::{escape_data(message)}")

    def error(self, message: str) -> None:
        self.info(f"::error::{escape_data(message)}")

    def mask(self, secret: str) -> None:
        if secret:
            self.info(f"::add-mask::{escape_data(secret)}")
