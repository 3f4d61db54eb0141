"""Build and load the C libraries of the serving path. Standard library only.

- api/forest.c, the scoring kernel: plain C, loaded with ctypes.CDLL (`build`, `load`).
- api/rows.c, the lean batch path's numeric check and column encoder: built against this
  interpreter's headers and loaded with ctypes.PyDLL (`build_rows`, `load_rows`).

A library is named after a hash of its source and compiler flags (and, for rows.c, the
interpreter's ABI tag): `_forest-<hash>.so` and `_rows-<hash>.so` beside this file, or in
FOREST_KERNEL_DIR, so a stale build is never loaded (and building one removes the library's
earlier builds there). Without a built library serving falls back (the numpy forest; the Python
check of api/batch.py); the serving image compiles both in its own build stage.

    python -m api.ckernel            build them unless these sources are built (CC: compiler, default cc)
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("forest.c")
ROWS_SOURCE = Path(__file__).with_name("rows.c")
# A slot of `fd_node` in forest.c: its split's column and value, one 8-byte load.
NODE = [("column", "<i4"), ("threshold", "<f4")]
# No -ffast-math (it would reorder the float32 sum); no -march=native (the image runs elsewhere).
FLAGS = ("-O2", "-std=c11", "-shared", "-fPIC", "-ffp-contract=off", "-Wall")
ABI_VERSION = 3
ROWS_ABI_VERSION = 2


class KernelBuildError(RuntimeError):
    """The compiler is missing or rejected the source; the message says which and what to do."""


class HeadersMissingError(KernelBuildError):
    """rows.c cannot be built: this interpreter's headers (Python.h) are not installed."""


class Forest(ctypes.Structure):
    """Mirror of `fd_forest` in forest.c."""

    _fields_ = [
        ("node", ctypes.c_void_p),
        ("leaf", ctypes.c_void_p),
        ("n_trees", ctypes.c_int32),
        ("depth", ctypes.c_int32),
        ("n_features", ctypes.c_int32),
        ("base_margin", ctypes.c_float),
    ]


def _named(stem: str, source: Path, key: str, directory: Path | None) -> Path:
    digest = hashlib.sha256(source.read_bytes() + key.encode()).hexdigest()[:16]
    where = directory or Path(os.environ.get("FOREST_KERNEL_DIR") or source.parent)
    return where / f"{stem}-{digest}.so"


def library_path(directory: Path | None = None) -> Path:
    return _named("_forest", SOURCE, " ".join(FLAGS), directory)


def rows_library_path(directory: Path | None = None) -> Path:
    # the headers' location is left out of the name: the image builds where it does not run
    return _named("_rows", ROWS_SOURCE, " ".join(FLAGS) + f" {sysconfig.get_config_var('SOABI')}", directory)


def build(directory: Path | None = None, cc: str | None = None, *, force: bool = False) -> Path:
    """Compile forest.c into `library_path(directory)` (atomically); a no-op when it is there."""
    target = library_path(directory)
    return _compile(SOURCE, target, FLAGS, cc, force=force, without="the slower numpy forest")


def build_rows(directory: Path | None = None, cc: str | None = None, *, force: bool = False) -> Path:
    """Compile rows.c into `rows_library_path(directory)`; it needs this interpreter's headers."""
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").is_file():
        raise HeadersMissingError(
            f"no Python.h in {include} to build {ROWS_SOURCE.name}; install the interpreter's headers "
            "(e.g. python3.11-dev). Serving still works without it, on the Python check of batches."
        )
    flags = (*FLAGS, f"-I{include}")
    target = rows_library_path(directory)
    return _compile(ROWS_SOURCE, target, flags, cc, force=force, without="the Python check of batches")


def _compile(
    source: Path, target: Path, flags: Sequence[str], cc: str | None, *, force: bool, without: str
) -> Path:
    """Compile `source` into `target` atomically; a no-op when it is there."""
    if target.is_file() and not force:
        return target
    compiler = cc or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise KernelBuildError(
            f"no C compiler {compiler!r} on PATH to build {source.name}; install gcc (or set CC). "
            f"Serving still works without it, on {without}."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [compiler, *flags, "-o", tmp, str(source), "-lm"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise KernelBuildError(f"{compiler} could not build {source.name}:\n{done.stderr.strip()}")
        Path(tmp).chmod(0o755)  # mkstemp makes it 0600; the service user must be able to load it
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    stem = target.name.split("-", 1)[0]
    for stale in target.parent.glob(f"{stem}-*.so"):  # builds of earlier sources: never loaded again
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def load(directory: Path | None = None) -> ctypes.CDLL | None:
    """The built kernel with its signatures set; None (serving falls back) when this source has not
    been built or the file cannot be loaded here."""
    path = library_path(directory)
    if not path.is_file():
        return None
    try:
        lib = ctypes.CDLL(str(path))
        fits = (
            lib.fd_abi_version() == ABI_VERSION
            and lib.fd_forest_size() == ctypes.sizeof(Forest)
            and lib.fd_node_size() == 8
        )
    except (OSError, AttributeError) as e:  # not a library for this machine, or not ours
        logging.getLogger("flightdelay.api").warning("ignoring the C kernel %s: %s", path, e)
        return None
    if not fits:
        return None
    for predict in (lib.fd_predict, lib.fd_predict_portable):
        predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        predict.restype = None
    lib.fd_simd_width.argtypes = [ctypes.c_int32]
    lib.fd_simd_width.restype = ctypes.c_int32
    return lib


def address(array: Any) -> int:
    """Where a numpy array's data starts: what the libraries take for a pointer."""
    return int(array.__array_interface__["data"][0])


def load_rows(directory: Path | None = None) -> ctypes.PyDLL | None:
    """The built row check with its signature set (called with the GIL held); None (batches are
    checked in Python) when this source has not been built for this interpreter or cannot load."""
    path = rows_library_path(directory)
    if not path.is_file():
        return None
    try:
        lib = ctypes.PyDLL(str(path))
        fits = lib.fr_abi_version() == ROWS_ABI_VERSION
    except (OSError, AttributeError) as e:
        logging.getLogger("flightdelay.api").warning("ignoring the C row check %s: %s", path, e)
        return None
    if not fits:
        return None
    p = ctypes.c_void_p
    lib.fr_numbers.argtypes = [ctypes.py_object, ctypes.py_object, ctypes.c_int64, p, p, p, p]
    lib.fr_numbers.restype = ctypes.c_int32
    lib.fr_encode.argtypes = [p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, p, p, ctypes.py_object, p]
    lib.fr_encode.restype = ctypes.c_int32
    return lib


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m api.ckernel", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=None, help="where to write it (default: beside forest.c)")
    ap.add_argument("--force", action="store_true", help="rebuild even if this source is built")
    args = ap.parse_args(argv)
    try:
        path = build(args.dir, force=args.force)
        rows = build_rows(args.dir, force=args.force)
    except HeadersMissingError as e:  # the kernel is built; batches are then checked in Python
        sys.stderr.write(f"ckernel: warning: {e}\n")
        sys.stdout.write(f"ckernel: {path} is built\n")
        return 0
    except KernelBuildError as e:
        sys.stderr.write(f"ckernel: {e}\n")
        return 1
    sys.stdout.write(f"ckernel: {path} and {rows} are built\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
