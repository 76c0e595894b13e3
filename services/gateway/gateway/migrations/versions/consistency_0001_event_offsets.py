"""Where each service's event (by its global position) sits on Kafka, for read-your-writes.

Revision ID: consistency_0001
Revises: 0004
"""

from alembic import op

revision = "consistency_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE event_offsets (
            topic        text NOT NULL,
            position     bigint NOT NULL,
            "partition"  integer NOT NULL,
            "offset"     bigint NOT NULL,
            PRIMARY KEY (topic, position)
        )
        """
    )
