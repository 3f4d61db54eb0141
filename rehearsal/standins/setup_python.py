"""actions/setup-python stand-in: the host's python3 is the only Python; check the request, add it to PATH."""

from __future__ import annotations

import platform
import re
import sys
import tomllib
from pathlib import Path

from rehearsal.standins.core import StandinError, Step

Version = tuple[int, ...]
PLAIN = re.compile(r"^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$")
COMPARATOR = re.compile(r"^(>=|<=|>|<|=|~|\^)?\s*v?(\d+(?:\.\d+){0,2})(?:\.[x*])?$")


def parse(text: str) -> Version:
    return tuple(int(part) for part in text.split("."))


def satisfies(version: Version, spec: str) -> bool:
    """The SemVer range forms setup-python users write: 3.11, 3.11.x, 3.x, 3.11.7, >=3.10 <3.13, ~3.11, ^3."""
    spec = spec.strip()
    plain = PLAIN.match(spec)
    if plain:
        for index, part in enumerate(plain.groups()):
            if part is not None and part not in ("x", "*") and version[index] != int(part):
                return False
        return True
    for comparator in spec.replace(", ", " ").split():
        match = COMPARATOR.match(comparator)
        if match is None:
            raise StandinError(f"python-version '{spec}' is not a version range the rehearsal stand-in reads")
        op, wanted = match[1] or "=", parse(match[2])
        head = version[: len(wanted)]
        upper = (
            (wanted[0] + 1,)
            if op == "^"
            else (*wanted[:-1], wanted[-1] + 1)
            if len(wanted) > 1
            else (wanted[0] + 1,)
        )
        ok = {
            ">=": version >= wanted,
            "<=": head <= wanted,
            ">": head > wanted,
            "<": version < wanted,
            "=": head == wanted,
            "~": wanted <= version and version[: len(upper)] < upper,
            "^": wanted <= version and version[:1] < upper,
        }[op]
        if not ok:
            return False
    return True


def requested(step: Step) -> list[str]:
    versions = step.lines_input("python-version")
    if versions:
        return versions
    file_name = step.input("python-version-file") or (
        ".python-version" if (step.workspace / ".python-version").is_file() else ""
    )
    if not file_name:
        step.warning(
            "Neither 'python-version' nor 'python-version-file' inputs were supplied: "
            "using the host's python3."
        )
        return []
    path = step.resolve(file_name)
    if not path.is_file():
        raise StandinError(f"The specified python version file at: {path} doesn't exist.")
    text = path.read_text(encoding="utf-8")
    if path.name == "pyproject.toml":
        spec = tomllib.loads(text).get("project", {}).get("requires-python", "")
        return [spec] if spec else []
    if path.name == ".tool-versions":
        return [
            line.split()[1]
            for line in text.splitlines()
            if line.startswith("python ") and len(line.split()) > 1
        ]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def main(step: Step) -> None:
    for name in ("cache", "pip-version"):
        if step.input(name):
            raise StandinError(
                f"setup-python's {name} input is not emulated by the rehearsal stand-in; remove it"
            )
    if step.bool_input("freethreaded"):
        raise StandinError(
            "freethreaded: true asks for a free-threaded Python; the host's python3 is not one"
        )
    version = tuple(sys.version_info[:3])
    text = platform.python_version()
    for spec in requested(step):
        if spec.lower().startswith(("pypy", "graalpy")) or not satisfies(version, spec):
            raise StandinError(
                f"python-version '{spec}' does not match the host's Python {text}, the only one the "
                "rehearsal has (it runs jobs on this machine): install that Python or change the workflow"
            )
    prefix = Path(sys.base_prefix)
    executable = prefix / "bin" / f"python{version[0]}.{version[1]}"
    if not executable.exists():
        executable = Path(sys.executable)
    if step.bool_input("update-environment"):
        step.export_variable("pythonLocation", str(prefix))
        step.export_variable("PKG_CONFIG_PATH", str(prefix / "lib" / "pkgconfig"))
        for name in ("Python_ROOT_DIR", "Python2_ROOT_DIR", "Python3_ROOT_DIR"):
            step.export_variable(name, str(prefix))
        libraries = step.env.get("LD_LIBRARY_PATH", "")
        if str(prefix / "lib") not in libraries.split(":"):
            step.export_variable(
                "LD_LIBRARY_PATH", str(prefix / "lib") + (f":{libraries}" if libraries else "")
            )
        step.add_path(executable.parent)
    step.info(f"Successfully set up CPython ({text}) from the host: {executable}")
    step.set_output("python-version", text)
    step.set_output("python-path", str(executable))
