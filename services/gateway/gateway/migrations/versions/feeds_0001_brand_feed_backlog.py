"""Brand feeds: the events a brand may come to see, and what each brand's topic has been sent.

Revision ID: feeds_0001
Revises: 0004
"""

from alembic import op

revision = "feeds_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE brand_feed_backlog (
            seq         bigserial PRIMARY KEY,
            event_id    uuid NOT NULL UNIQUE,
            factory_id  text NOT NULL,
            value       bytea NOT NULL,
            headers     json NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX brand_feed_backlog_factory_idx ON brand_feed_backlog (factory_id, seq)")
    op.execute(
        """
        CREATE TABLE brand_feed_sent (
            brand_id    text NOT NULL,
            event_id    uuid NOT NULL,
            PRIMARY KEY (brand_id, event_id)
        )
        """
    )
