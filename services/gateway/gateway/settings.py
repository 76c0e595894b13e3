from betterwork_events.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:25432/bw_gateway"
    # Asked, for every read of a brand, which factories share their reports with it now.
    registry_url: str = "http://127.0.0.1:8101"
    # How long a finished bulk export stays downloadable (gateway/exports.py).
    bulk_export_hours: float = Field(default=24.0, gt=0)
