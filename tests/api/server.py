"""A real gunicorn process running the service (scripts/gunicorn_server.py, which `make soak`
uses too)."""

from __future__ import annotations

from gunicorn_server import ADMIN_TOKEN, REPO_ROOT, Gunicorn, free_port, request

__all__ = ["ADMIN_TOKEN", "REPO_ROOT", "Gunicorn", "free_port", "request"]
