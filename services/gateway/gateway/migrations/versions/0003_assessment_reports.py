"""Published assessment reports and the remediation of their findings.

Only published reports reach the gateway: a scheduled assessment (and its confidential date) is
never stored here, so no query of any audience can reveal it.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE assessment_reports (
            id                 text PRIMARY KEY,
            factory_id         text NOT NULL,
            country            text NOT NULL,
            tool_version       text NOT NULL,
            published_on       date NOT NULL,
            compliance_points  jsonb NOT NULL,
            clusters           jsonb NOT NULL,
            recurring          jsonb NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX assessment_reports_factory_idx ON assessment_reports (factory_id, published_on DESC)")
    op.execute(
        """
        CREATE TABLE finding_remediation (
            assessment_id  text NOT NULL,
            question_id    text NOT NULL,
            status         text NOT NULL,
            PRIMARY KEY (assessment_id, question_id)
        )
        """
    )
