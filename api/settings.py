"""Service settings from environment variables (deployment concerns; never params.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flightdelay.core.errors import ConfigError

# Set by gunicorn.conf.py: the file through which an admin reload reaches every worker.
CONTROL_FILE_ENV = "MODEL_CONTROL_FILE"


class Settings(BaseSettings):
    """Read once by the app factory; frozen so no request can change it."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=False)

    model_dir: Path = Field(Path("models/bundle"), description="model bundle directory")
    port: int = Field(8000, ge=1, le=65535)
    web_concurrency: int = Field(1, ge=1, le=64, description="gunicorn workers")
    max_batch_rows: int = Field(1000, ge=1, le=100_000)
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger bodies get 413")
    request_timeout_seconds: float = Field(10.0, gt=0, le=600)
    graceful_timeout: int = Field(20, ge=1, le=600, description="seconds for in-flight requests")
    prediction_log: str = Field("off", description='"off", "stdout" or a file path (JSON lines)')
    prediction_log_sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    prediction_log_queue_bytes: int = Field(
        16 * 1024 * 1024,
        ge=65_536,
        description="memory the prediction log queue may hold (≈ 1 KB a row); past it lines are dropped",
    )
    admin_token: SecretStr | None = Field(None, description="Bearer token for /admin/reload")
    prometheus_multiproc_dir: Path | None = None
    model_control_file: Path | None = Field(None, description="shared reload record")
    reload_poll_seconds: float = Field(0.2, gt=0, le=60)
    reload_timeout_seconds: float = Field(
        5.0, gt=0, le=600, description="how long a reload waits for every worker to load the bundle"
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="json lines, plain text, or auto (text on a terminal, else json)"
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    @field_validator("admin_token")
    @classmethod
    def _strong_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and 0 < len(v.get_secret_value()) < 16:
            raise ValueError("ADMIN_TOKEN must have at least 16 characters (or be unset)")
        if v is not None and not v.get_secret_value():
            return None
        return v


def load_settings() -> Settings:
    """Settings from the environment; an invalid value is a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(
            f"invalid serving settings: {problems}",
            hint="fix the environment variables named above",
        ) from e
