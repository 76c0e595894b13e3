"""The event store notifies the relay after committing, instead of a trigger in every append.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
from betterwork_events.migrations import notify_after_commit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    notify_after_commit(op)
