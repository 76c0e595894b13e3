"""Consumers resume from offsets kept with the read model.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
from betterwork_events.migrations import create_consumer_offsets

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_consumer_offsets(op)
