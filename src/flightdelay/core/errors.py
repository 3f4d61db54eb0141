"""The exception hierarchy; each error says what is wrong and what to do, and owns its exit code."""

from __future__ import annotations


class FlightDelayError(Exception):
    """Base class: a problem the user can act on. Caught only at the CLI and API boundaries."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class ConfigError(FlightDelayError):
    """params.yaml or the environment is invalid."""

    exit_code = 2


class DataError(FlightDelayError):
    """Raw data is missing or cannot be read."""

    exit_code = 3


class DataValidationError(DataError):
    """A quality rule failed on the prepared data."""

    exit_code = 4


class ModelError(FlightDelayError):
    """A model or bundle is missing, corrupt or inconsistent."""

    exit_code = 5


class GateFailed(FlightDelayError):
    """The candidate must not ship."""

    exit_code = 6


class RegistryError(FlightDelayError):
    """The MLflow registry refused or disagrees."""

    exit_code = 7


class ReleaseError(FlightDelayError):
    """Git tag, alias, model card and manifests disagree, or a release step was refused."""

    exit_code = 8


class ToolError(FlightDelayError):
    """An external tool (git, dvc, kubectl) failed."""

    exit_code = 9


class Interrupted(FlightDelayError):
    """SIGINT or SIGTERM stopped a command at a point it can resume from; exit 128 + signal."""

    def __init__(self, signum: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = 128 + signum
