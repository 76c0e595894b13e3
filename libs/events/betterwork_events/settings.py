"""Settings every service shares; each service's settings.py extends these."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "development-only-signing-key-change-me-0123456789"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BW_", extra="ignore")

    database_url: str = Field(description="SQLAlchemy URL of the service's own database (postgresql+asyncpg://…)")
    # The longest a request waits for a database connection (from the pool, or a new one) before
    # it answers 503: below the timeouts of clients and probes.
    database_wait_seconds: float = Field(default=5.0, gt=0)
    # Requests a process handles at once; more answer 503 with Retry-After at once (shedding.py), so
    # a burst or the retries after an outage never queue past the clients' timeouts.
    max_requests_in_flight: int = Field(default=64, gt=0)
    kafka_bootstrap: str = "127.0.0.1:29092"
    # Prepended to every topic name, so test runs (or tenants of a shared broker) stay apart.
    topic_prefix: str = ""
    # `development` (what `make run` and the tests set) verifies tokens signed with the public
    # development key unless told otherwise; elsewhere services refuse that key (see auth.py).
    environment: Literal["development", "production"] = "production"
    # Tokens signed with this shared secret (HS256); the identity provider's JWKS wins if both are set.
    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "betterwork-dev"
    jwt_audience: str = "betterwork"
    otlp_endpoint: str | None = None
    # Whether the API process runs the relay and consumers itself (what `make run` and the tests do).
    # Off where they run apart (`python -m betterwork_events.worker`, the worker Deployments in
    # deploy/k8s), so API replicas scale on requests and workers on lag; and in tests that drive
    # the relay and consumers themselves.
    run_background_tasks: bool = True

    @model_validator(mode="after")
    def _development_key_in_development(self) -> Self:
        if self.environment == "development" and not self.jwt_jwks_url and not self.jwt_secret:
            self.jwt_secret = DEVELOPMENT_JWT_SECRET
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"
