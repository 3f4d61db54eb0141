"""The command line of CML 0.20.4's `comment create|update`, parsed the way its yargs setup does (strict).

Options: bin/cml.js (global: --log, --driver, --repo, --driver-token/--token) and bin/cml/comment/create.js
(--target, --pr, --commit-sha/--head-sha, --watch, --trigger-file, --publish, --publish-url,
--publish-native/--native, --update, --rm-watermark, --watermark-title); `update` has the same builder.
yargs also accepts each kebab-case name in camelCase, `--no-<flag>` for booleans, and CML_COMMENT_<NAME>
environment variables (bin/cml.js copies CML_REPO, CML_TOKEN, ... and the legacy CML_SEND_COMMENT_* there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HELP_EPILOG = "https://cml.dev/doc/ref/comment"


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # "string" | "boolean"
    aliases: tuple[str, ...] = ()
    default: object = None
    choices: tuple[str, ...] = ()


OPTIONS = (
    Option("log", "string", default="info", choices=("error", "warn", "info", "debug")),
    Option("driver", "string", choices=("github", "gitlab", "bitbucket")),
    Option("repo", "string"),
    Option("driver-token", "string", aliases=("token",)),
    Option("target", "string"),
    Option("pr", "boolean"),
    Option("commit-sha", "string", aliases=("head-sha",)),
    Option("watch", "boolean"),
    Option("trigger-file", "string"),
    Option("publish", "boolean", default=True),
    Option("publish-url", "string", default="https://asset.cml.dev"),
    Option("publish-native", "boolean", aliases=("native",)),
    Option("update", "boolean"),
    Option("rm-watermark", "boolean"),
    Option("watermark-title", "string", default=""),
    Option("help", "boolean"),
)
CONFLICTS = (
    ("pr", "target"),
    ("pr", "commit-sha"),
    ("commit-sha", "target"),
    ("rm-watermark", "watermark-title"),
)
GLOBAL_ENV = ("DRIVER", "DRIVER_TOKEN", "LOG", "REPO", "TOKEN")


class UsageError(Exception):
    """yargs' validation failure: CML prints its help and this message, and exits 1."""


def camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def lookup_table() -> dict[str, Option]:
    table: dict[str, Option] = {}
    for option in OPTIONS:
        for spelling in (option.name, *option.aliases):
            table[spelling] = option
            table[camel(spelling)] = option
    return table


@dataclass
class Parsed:
    command: str  # "create" | "update"
    markdown_file: str
    values: dict[str, object]
    given: set[str] = field(default_factory=set)  # options set on the command line or by environment

    def get(self, name: str) -> object:
        return self.values.get(name)

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return "" if value is None or value is False else str(value)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name))


def boolean(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())


def environment_values(env: Mapping[str, str]) -> dict[str, str]:
    """bin/cml.js: legacy CML_SEND_COMMENT_* and global CML_<OPTION> become CML_COMMENT_<OPTION>."""
    merged = dict(env)
    for key, value in env.items():
        if key.startswith("CML_SEND_COMMENT_"):
            merged["CML_COMMENT_" + key[len("CML_SEND_COMMENT_") :]] = value
    for name in GLOBAL_ENV:
        if f"CML_{name}" in env:
            merged[f"CML_COMMENT_{name}"] = env[f"CML_{name}"]
    table = lookup_table()
    values: dict[str, str] = {}
    for key, value in merged.items():
        if key.startswith("CML_COMMENT_"):
            spelling = key[len("CML_COMMENT_") :].lower().replace("_", "-")
            if spelling in table:
                values[table[spelling].name] = value
    return values


def read_tokens(
    argv: list[str], table: dict[str, Option]
) -> tuple[dict[str, object], set[str], list[str], list[str]]:
    """Options (values, names given), positionals and unknown option names, in yargs-parser's manner."""
    values: dict[str, object] = {o.name: o.default for o in OPTIONS if o.default is not None}
    given: set[str] = set()
    positional: list[str] = []
    unknown: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            positional += args
            break
        if not arg.startswith("--"):
            positional.append(arg)
            continue
        key, has_value, inline = arg[2:].partition("=")
        negated = key.startswith("no-") and key[3:] in table and table[key[3:]].kind == "boolean"
        option = table.get(key[3:] if negated else key)
        if option is None:
            unknown.append(key)
            continue
        given.add(option.name)
        if option.kind == "boolean":
            value: object = True
            if has_value:
                value = boolean(inline) is not False
            elif args and boolean(args[0]) is not None:
                value = boolean(args.pop(0))
            values[option.name] = (not value) if negated else value
        elif has_value:
            values[option.name] = inline
        elif args and not args[0].startswith("-"):
            values[option.name] = args.pop(0)
        else:
            values[option.name] = ""
    return values, given, positional, unknown


def parse(argv: list[str], env: Mapping[str, str]) -> Parsed:
    """`comment create|update <markdown file> [options]`; raises UsageError as yargs' strict mode would."""
    table = lookup_table()
    values, given, positional, unknown = read_tokens(argv, table)
    if positional[:1] != ["comment"]:
        raise UsageError(
            f"cml {positional[0] if positional else ''}: "
            "the rehearsal emulates only `cml comment create|update`"
        )
    if len(positional) < 2 or positional[1] not in ("create", "update"):
        raise UsageError(
            "Not enough non-option arguments: got 0, need at least 1"
            if len(positional) < 2
            else f"Unknown argument: {positional[1]}"
        )
    command, rest = positional[1], positional[2:]
    for name, text in environment_values(env).items():
        if name not in given:
            values[name] = (boolean(text) is True) if table[name].kind == "boolean" else text
            given.add(name)
    if values.get("help"):
        return Parsed(command, "", values, given)
    unknown += rest[1:]
    if unknown:
        raise UsageError(f"Unknown argument{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    if not rest:
        raise UsageError("Not enough non-option arguments: got 0, need at least 1")
    for option in OPTIONS:
        value = values.get(option.name)
        if option.choices and value is not None and value not in option.choices:
            choices = ", ".join(f'"{c}"' for c in option.choices)
            raise UsageError(
                f'Invalid values:\n  Argument: {option.name}, Given: "{value}", Choices: {choices}'
            )
    for first, second in CONFLICTS:
        if first in given and second in given:
            raise UsageError(f"Arguments {first} and {second} are mutually exclusive")
    return Parsed(command, rest[0], values, given)


def usage(command: str) -> str:
    lines = [f"cml comment {command} <markdown file>", "", "Options:"]
    for option in OPTIONS:
        spellings = ", ".join(f"--{s}" for s in (option.name, *option.aliases))
        lines.append(f"  {spellings:<34} [{option.kind}]")
    return "\n".join([*lines, "", HELP_EPILOG])
