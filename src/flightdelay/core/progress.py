"""Progress and status lines on stderr, so stdout stays machine-readable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flightdelay.core import redact


def say(msg: str) -> None:
    """One status line; secrets (URL credentials, tokens) are masked whatever the caller passed."""
    sys.stderr.write(redact.text(msg) + "\n")
    sys.stderr.flush()


@contextmanager
def step(name: str) -> Iterator[None]:
    """Print `name …` then `name done in Xs` (or nothing more if it raised)."""
    t0 = time.perf_counter()
    say(f"{name} …")
    yield
    say(f"{name} done in {time.perf_counter() - t0:.1f}s")
