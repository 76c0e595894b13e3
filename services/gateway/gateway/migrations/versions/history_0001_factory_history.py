"""Every factory's timeline across the services, one row per event and factory it names.

Revision ID: history_0001
Revises: 0004
"""

from alembic import op

revision = "history_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE factory_history (
            event_id    text NOT NULL,
            factory_id  text NOT NULL,
            time        timestamptz NOT NULL,
            service     text NOT NULL,
            type        text NOT NULL,
            summary     text NOT NULL,
            visibility  text NOT NULL CHECK (visibility IN ('programme', 'factory', 'brand')),
            PRIMARY KEY (event_id, factory_id)
        )
        """
    )
    op.execute("CREATE INDEX factory_history_timeline_idx ON factory_history (factory_id, time DESC, event_id DESC)")
    # The latest published report of each factory, per country, for the compliance aggregates.
    op.execute(
        "CREATE INDEX assessment_reports_country_idx ON assessment_reports (country, factory_id, published_on DESC)"
    )
