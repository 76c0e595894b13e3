from betterwork_events.settings import CommonSettings


class Settings(CommonSettings):
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:25432/bw_gateway"
    # Asked, for every read of a brand, which factories share their reports with it now.
    registry_url: str = "http://127.0.0.1:8101"
    # GraphQL subscriptions (graphql/subscriptions.py): operations one websocket may carry, and
    # websockets one caller (token subject and audience) may hold open at once.
    subscriptions_per_connection: int = 10
    subscription_connections_per_principal: int = 5
