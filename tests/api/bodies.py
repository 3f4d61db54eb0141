"""The costliest request bodies under the limits (scripts/worst_bodies.py, which `make soak` uses
too)."""

from __future__ import annotations

from worst_bodies import worst_case_bodies

__all__ = ["worst_case_bodies"]
