from pathlib import Path
from typing import Self

from betterwork_events.settings import CommonSettings
from pydantic import Field, model_validator

# The portals' own queries, which BW_PERSISTED_QUERIES_ONLY admits (see gateway/graphql/persisted.py).
PORTAL_QUERIES = Path(__file__).resolve().parent / "graphql" / "portal-queries.json"


class Settings(CommonSettings):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:25432/bw_gateway"
    # Asked, for every read of a brand, which factories share their reports with it now; and,
    # with the other services, where mutations are forwarded (the local stack's ports by default).
    registry_url: str = "http://127.0.0.1:8101"
    # How long a finished bulk export stays downloadable (gateway/exports.py).
    bulk_export_hours: float = Field(default=24.0, gt=0)
    assessment_url: str = "http://127.0.0.1:8102"
    committee_url: str = "http://127.0.0.1:8103"
    training_url: str = "http://127.0.0.1:8104"
    # How long a query presenting a consistency token waits for the read models to show that
    # write before it answers CONSISTENCY_TIMEOUT.
    consistency_wait_seconds: float = Field(default=5.0, gt=0, le=30)
    # A pause before each event a projection applies: only for tests that prove read-your-writes
    # holds while the read models lag.
    projection_delay_seconds: float = Field(default=0.0, ge=0)

    # Query cost (gateway/graphql/cost.py): the most one query may cost, and each caller's budget,
    # which refills continuously. The README's brand portal query costs about 1,200.
    max_query_cost: int = Field(default=50_000, gt=0)
    query_budget: int = Field(default=250_000, gt=0)
    query_budget_restore_per_minute: int = Field(default=100_000, gt=0)
    max_query_depth: int = Field(default=12, gt=0)
    # Answer only the queries in this allow list (sent by hash or as text), nothing else.
    persisted_queries_only: bool = False
    persisted_queries_file: Path = PORTAL_QUERIES
    # GraphQL subscriptions (graphql/subscriptions.py): operations one websocket may carry, and
    # websockets one caller (token subject and audience) may hold open at once.
    subscriptions_per_connection: int = 10
    subscription_connections_per_principal: int = 5
    # How long an API process holds an event for the projections feeding its subscriptions to apply
    # it; past that (a projection stuck or far behind), the subscriptions to that read model in
    # the process end with FELL_BEHIND, and clients catch up with a query (gateway/notices.py).
    subscription_wait_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _a_query_fits_the_budget(self) -> Self:
        if self.max_query_cost > self.query_budget:
            raise ValueError("max_query_cost must not exceed query_budget: such a query could never run")
        return self

    def service_urls(self) -> dict[str, str]:
        """Each service's base URL, by the name its consistency tokens and topics use."""
        return {
            "factory-registry": self.registry_url,
            "assessment": self.assessment_url,
            "committee": self.committee_url,
            "training": self.training_url,
        }
