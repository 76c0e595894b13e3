"""Event data is stored as json text, exactly as appended, instead of jsonb.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
from betterwork_events.migrations import store_data_as_json

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    store_data_as_json(op)
