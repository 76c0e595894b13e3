"""Zero-tolerance alerts follow the protocol: acknowledged by whom and when, escalated to whom, what was done.

Revision ID: assessments_0002
Revises: assessments_0001
"""

from alembic import op

revision = "assessments_0002"
down_revision = "assessments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE zero_tolerance_alerts
            ADD COLUMN acknowledged_by text,
            ADD COLUMN acknowledged_at timestamptz,
            ADD COLUMN escalated_by    text,
            ADD COLUMN escalated_to    text,
            ADD COLUMN action_taken    text,
            ADD COLUMN escalated_on    date
        """
    )
