"""Reports read their findings' remediation from the improvement plans read model.

Revision ID: reports_0001
Revises: 0004
"""

from alembic import op

revision = "reports_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TABLE finding_remediation")
