"""The event store notifies the relay after committing, instead of a trigger in every append.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
from betterwork_events.migrations import notify_after_commit

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    notify_after_commit(op)
