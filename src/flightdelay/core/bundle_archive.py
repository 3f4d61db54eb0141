"""The champion archive: a released bundle (with its release.json) as one `.tar.gz` file.

The release writes it next to the image bundle; the release workflow attaches it to the `model-vN`
GitHub release, where pull-request checks read the champion without any registry credential.
The files sit at the archive's root, so `tar -xzf champion.tar.gz -C DIR` gives a bundle in DIR.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
from pathlib import Path

from flightdelay.core.errors import ModelError

ARCHIVE_NAME = "champion.tar.gz"


def pack(bundle_dir: str | Path, archive: str | Path) -> Path:
    """Write `bundle_dir`'s files into `archive`, byte-for-byte reproducible (sorted names, no
    owners, no timestamps), atomically."""
    src, dest = Path(bundle_dir), Path(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(f.relative_to(src).as_posix())
            info.size, info.mode, info.mtime = f.stat().st_size, 0o644, 0
            with f.open("rb") as fh:
                tar.addfile(info, fh)
    tmp.replace(dest)
    return dest


def unpack(archive: str | Path, dest: str | Path) -> Path:
    """Extract a champion archive into `dest` (replaced); refuses links and paths that leave it."""
    src, out = Path(archive), Path(dest)
    if not src.is_file():
        raise ModelError(
            f"champion archive {src} does not exist",
            hint="download the champion.tar.gz asset of the latest model-vN release, "
            "or pass a bundle directory",
        )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    try:
        with tarfile.open(src, "r:gz") as tar:
            tar.extractall(out, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ModelError(
            f"champion archive {src} cannot be extracted: {e}",
            hint="download it again (the release workflow publishes it with the model-vN release)",
        ) from e
    return out
