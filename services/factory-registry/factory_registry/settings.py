from betterwork_events.settings import CommonSettings


class Settings(CommonSettings):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:25432/bw_factory_registry"
