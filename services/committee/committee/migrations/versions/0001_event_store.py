"""The event store.

Revision ID: 0001
Revises:
"""

from alembic import op
from betterwork_events.migrations import create_event_store

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_store(op)
