"""Event data is stored as json text, exactly as appended, instead of jsonb.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
from betterwork_events.migrations import store_data_as_json

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    store_data_as_json(op)
