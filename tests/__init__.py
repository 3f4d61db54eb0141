"""The tests. Their shared builders (pipeline repositories, a real gunicorn, the costliest bodies,
prediction logs) live in scripts/, which the benchmarks use too; scripts/ is not a package, so it
goes on sys.path here, before any test module imports them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
