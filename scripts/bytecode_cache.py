"""Compile an environment's packages to bytecode once, inside uv's cache, for every environment made from it.

uv installs a package by hard-linking the files of its unpacked wheel (`<uv cache>/archive-v0/<id>/`)
into the environment, and a `__pycache__` folder present there is linked with them. Bytecode
compiled in the cache is therefore valid in every later environment: a `.pyc` is checked against
its source's mtime and size, which a hard link shares, and Python rewrites the code objects' file
names to the path it imported from. Without it, each fresh environment (a CI job, a clone) compiles
its imports again on first use: about 9 CPU seconds for the pipeline's libraries.

Which cache folders an environment uses is read from the links themselves: the inode of each
installed `*.dist-info/METADATA` is the inode of the same file in the package's cache folder. An
environment installed by copy (another filesystem) matches nothing and is left as it is. Each
cache folder is compiled once: a marker per folder and Python version records it.

Usage: python scripts/bytecode_cache.py UV_CACHE_DIR MARKER_DIR ENV...
"""

from __future__ import annotations

import compileall
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def installed_inodes(env: Path) -> set[tuple[int, int]]:
    """(device, inode) of every installed distribution's METADATA in the environment."""
    found = set()
    for metadata in env.glob("lib/python*/site-packages/*.dist-info/METADATA"):
        stat = metadata.stat()
        found.add((stat.st_dev, stat.st_ino))
    return found


def cache_folders(cache: Path, inodes: set[tuple[int, int]]) -> list[Path]:
    """The unpacked wheels in uv's cache that the environments' files are hard links of."""
    folders = []
    for metadata in cache.glob("archive-v0/*/*.dist-info/METADATA"):
        stat = metadata.stat()
        if (stat.st_dev, stat.st_ino) in inodes:
            folders.append(metadata.parent.parent)
    return sorted(set(folders))


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cache, markers, envs = Path(argv[0]), Path(argv[1]), [Path(a) for a in argv[2:]]
    inodes = set().union(*(installed_inodes(env) for env in envs))
    tag = sys.implementation.cache_tag
    todo = [f for f in cache_folders(cache, inodes) if not (markers / tag / f.name).exists()]
    if not todo:
        return 0
    print(f"setup: compiling the bytecode of {len(todo)} package(s) once, in uv's cache")
    (markers / tag).mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:  # one folder per task
        for folder, _ in zip(todo, pool.map(compile_folder, todo), strict=True):
            (markers / tag / folder.name).touch()
    return 0


def compile_folder(folder: Path) -> bool:
    """The folder's importable files only: `*.data` holds scripts and data files that uv moves
    elsewhere, and it refuses a wheel whose `scripts` folder holds a `__pycache__`. The result is
    ignored: some wheels ship templates or Python-2 files that do not compile; they are never
    imported, and the rest is compiled all the same."""
    ok = True
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.name.endswith((".data", ".dist-info")):
            ok = compileall.compile_dir(entry, quiet=2) and ok
        elif entry.suffix == ".py":
            ok = compileall.compile_file(entry, quiet=2) and ok
    return bool(ok)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
