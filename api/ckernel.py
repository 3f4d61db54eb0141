"""Build and load the C scoring kernel (api/forest.c). Standard library only.

The library is named after a hash of its source and compiler flags (`_forest-<hash>.so` beside
this file, or in FOREST_KERNEL_DIR), so a stale build is never loaded. Without a built library
serving falls back to the numpy forest; the serving image compiles it in its own build stage.

    python -m api.ckernel            build it unless this source is built (CC: compiler, default cc)
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
import tempfile
from collections.abc import Sequence
from pathlib import Path

SOURCE = Path(__file__).with_name("forest.c")
# A slot of `fd_node` in forest.c: its split's column and value, one 8-byte load.
NODE = [("column", "<i4"), ("threshold", "<f4")]
# No -ffast-math (it would reorder the float32 sum); no -march=native (the image runs elsewhere).
FLAGS = ("-O2", "-std=c11", "-shared", "-fPIC", "-ffp-contract=off", "-Wall")
ABI_VERSION = 3


class KernelBuildError(RuntimeError):
    """The compiler is missing or rejected the source; the message says which and what to do."""


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


def library_path(directory: Path | None = None) -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    where = directory or Path(os.environ.get("FOREST_KERNEL_DIR") or SOURCE.parent)
    return where / f"_forest-{digest}.so"


def build(directory: Path | None = None, cc: str | None = None, *, force: bool = False) -> Path:
    """Compile forest.c into `library_path(directory)` (atomically); a no-op when it is there."""
    target = library_path(directory)
    if target.is_file() and not force:
        return target
    compiler = cc or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise KernelBuildError(
            f"no C compiler {compiler!r} on PATH to build {SOURCE.name}; install gcc (or set CC). "
            "Serving still works without it, on the slower numpy forest."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [compiler, *FLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise KernelBuildError(f"{compiler} could not build {SOURCE.name}:\n{done.stderr.strip()}")
        Path(tmp).chmod(0o755)  # mkstemp makes it 0600; the service user must be able to load it
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m api.ckernel", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=None, help="where to write it (default: beside forest.c)")
    ap.add_argument("--force", action="store_true", help="rebuild even if this source is built")
    args = ap.parse_args(argv)
    try:
        path = build(args.dir, force=args.force)
    except KernelBuildError as e:
        sys.stderr.write(f"ckernel: {e}\n")
        return 1
    sys.stdout.write(f"ckernel: {path} is built\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
