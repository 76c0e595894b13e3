"""What the assessment service knows of factories, and its own list of assessments.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from betterwork_events.factories import create_factory_reference
from betterwork_events.migrations import create_consumer_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_consumer_tables(op)
    create_factory_reference(op)
    op.execute(
        """
        CREATE TABLE assessment_directory (
            id            text PRIMARY KEY,
            factory_id    text NOT NULL,
            status        text NOT NULL,
            planned_date  date NOT NULL,
            published_on  date,
            version       integer NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX assessment_directory_factory_idx ON assessment_directory (factory_id, published_on)")
