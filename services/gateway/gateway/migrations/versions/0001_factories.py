"""Read model of factories, and what the projections have processed.

Revision ID: 0001
Revises:
"""

from alembic import op
from betterwork_events.migrations import create_consumer_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_consumer_tables(op)
    op.execute(
        """
        CREATE TABLE factories (
            id          text PRIMARY KEY,
            name        text NOT NULL,
            country     text NOT NULL,
            address     text NOT NULL,
            version     integer NOT NULL,
            updated_at  timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX factories_country_idx ON factories (country)")
