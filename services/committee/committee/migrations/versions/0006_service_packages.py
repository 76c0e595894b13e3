"""The factories' service packages, from their enrollment, in the factory reference.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
from betterwork_events.factories import learn_service_packages

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    learn_service_packages(op)
