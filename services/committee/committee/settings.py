from betterwork_events.settings import CommonSettings

from committee.domain import HealthPolicy

DEFAULT = HealthPolicy()


class Settings(CommonSettings):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:25432/bw_committee"
    # What the health checks expect of a committee (BW_MEETING_EVERY_DAYS, ...).
    meeting_every_days: int = DEFAULT.meeting_every_days
    meeting_grace_days: int = DEFAULT.meeting_grace_days
    women_share_tolerance: float = DEFAULT.women_share_tolerance

    def health_policy(self) -> HealthPolicy:
        return HealthPolicy(self.meeting_every_days, self.meeting_grace_days, self.women_share_tolerance)
