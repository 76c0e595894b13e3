"""The factories this service knows of, learnt from the registry's events, and what it processed.

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
