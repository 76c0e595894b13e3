from betterwork_events.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:25432/bw_gateway"
    # Asked, for every read of a brand, which factories share their reports with it now; and,
    # with the other services, where mutations are forwarded (the local stack's ports by default).
    registry_url: str = "http://127.0.0.1:8101"
    assessment_url: str = "http://127.0.0.1:8102"
    committee_url: str = "http://127.0.0.1:8103"
    training_url: str = "http://127.0.0.1:8104"
    # How long a query presenting a consistency token waits for the read models to show that
    # write before it answers CONSISTENCY_TIMEOUT.
    consistency_wait_seconds: float = Field(default=5.0, gt=0, le=30)
    # A pause before each event a projection applies: only for tests that prove read-your-writes
    # holds while the read models lag.
    projection_delay_seconds: float = Field(default=0.0, ge=0)

    def service_urls(self) -> dict[str, str]:
        """Each service's base URL, by the name its consistency tokens and topics use."""
        return {
            "factory-registry": self.registry_url,
            "assessment": self.assessment_url,
            "committee": self.committee_url,
            "training": self.training_url,
        }
