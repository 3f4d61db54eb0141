"""scripts/bytecode_cache.py: bytecode compiled once in uv's cache is what later environments start with."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "bytecode_cache.py"
TAG = sys.implementation.cache_tag


def uv() -> str:
    """The uv `make setup` installed (the Makefile exports it; else its default place)."""
    if os.environ.get("FLIGHTDELAY_UV"):
        return os.environ["FLIGHTDELAY_UV"]
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flightdelay"
    found = sorted(home.glob("uv-*/bin/uv"))
    assert found, f"no uv under {home}: run `make setup`"
    return str(found[-1])


def a_wheel(folder: Path) -> Path:
    files = {
        "tinypkg/__init__.py": "def where():\n    return where.__code__.co_filename\n",
        # A script: uv refuses a wheel whose `*.data/scripts` holds a `__pycache__`.
        "tinypkg-1.0.data/scripts/tinytool.py": "#!python\nprint('tiny')\n",
        "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files["tinypkg-1.0.dist-info/RECORD"] = "\n".join([*record, "tinypkg-1.0.dist-info/RECORD,,"]) + "\n"
    path = folder / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in files.items():
            whl.writestr(name, text)
    return path


def environment(tmp_path: Path, name: str, wheel: Path, cache: Path) -> Path:
    env = tmp_path / name
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(env)], check=True)
    install = [uv(), "pip", "install", "--quiet", "--offline", "--cache-dir", str(cache)]
    subprocess.run(
        [*install, "--link-mode", "hardlink", str(wheel)],
        env={**os.environ, "VIRTUAL_ENV": str(env)},
        check=True,
    )
    return env


def compile_cache(cache: Path, markers: Path, env: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(cache), str(markers), str(env)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def test_an_environment_made_after_the_compile_starts_with_the_bytecode(tmp_path: Path) -> None:
    wheel, cache, markers = a_wheel(tmp_path), tmp_path / "uv-cache", tmp_path / "markers"
    first = environment(tmp_path, "first", wheel, cache)
    assert "compiling the bytecode of 1 package(s)" in compile_cache(cache, markers, first)
    assert compile_cache(cache, markers, first) == ""  # once per cache folder

    second = environment(tmp_path, "second", wheel, cache)
    package = next(second.glob("lib/python*/site-packages/tinypkg"))
    pyc = package / "__pycache__" / f"__init__.{TAG}.pyc"
    assert pyc.is_file(), "uv did not link the cache's __pycache__ into the new environment"
    before = pyc.stat().st_mtime_ns
    where = subprocess.run(
        [str(second / "bin" / "python"), "-c", "import tinypkg; print(tinypkg.where())"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    ).stdout.strip()
    assert pyc.stat().st_mtime_ns == before, "the linked bytecode was stale and compiled again"
    assert where == str(package / "__init__.py")  # tracebacks name the environment's file


def test_an_environment_installed_by_copy_is_left_alone(tmp_path: Path) -> None:
    wheel, cache, markers = a_wheel(tmp_path), tmp_path / "uv-cache", tmp_path / "markers"
    env = environment(tmp_path, "env", wheel, cache)
    for metadata in env.glob("lib/python*/site-packages/*.dist-info/METADATA"):
        text = metadata.read_bytes()
        metadata.unlink()
        metadata.write_bytes(text)  # no longer a link to the cache
    assert compile_cache(cache, markers, env) == ""
    assert not list(cache.glob("archive-v0/*/__pycache__"))
