"""Settings every service shares; each service's settings.py extends these."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "development-only-signing-key-change-me-0123456789"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BW_", extra="ignore")

    database_url: str = Field(description="SQLAlchemy URL of the service's own database (postgresql+asyncpg://…)")
    kafka_bootstrap: str = "127.0.0.1:29092"
    # Prepended to every topic name, so test runs (or tenants of a shared broker) stay apart.
    topic_prefix: str = ""
    # Development: tokens signed with this shared secret (HS256). Production: set jwks_url instead.
    jwt_secret: str | None = DEVELOPMENT_JWT_SECRET
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "betterwork-dev"
    jwt_audience: str = "betterwork"
    otlp_endpoint: str | None = None
    # Off only in tests that drive the relay and consumers themselves.
    run_background_tasks: bool = True

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"
