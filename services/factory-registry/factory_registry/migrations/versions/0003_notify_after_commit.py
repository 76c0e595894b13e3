"""The event store notifies the relay after committing, instead of a trigger in every append.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
from betterwork_events.migrations import notify_after_commit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    notify_after_commit(op)
