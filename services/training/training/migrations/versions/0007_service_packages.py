"""The factories' service packages, from their enrollment, in the factory reference.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
from betterwork_events.factories import learn_service_packages

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    learn_service_packages(op)
