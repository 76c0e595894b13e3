"""The public transparency record: which published cycles have a public report, and a search of
factory names without case or diacritics.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # unaccent is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("ALTER TABLE assessment_directory ADD COLUMN public_report_on date")
    # Cycles published before this migration: from their PublicReportPublished events.
    op.execute(
        """
        UPDATE assessment_directory d
           SET public_report_on = (e.data::jsonb ->> 'published_on')::date
          FROM events e
         WHERE e.stream_id = 'assessment-' || d.id
           AND e.type = 'org.betterwork.assessment.public-report-published.v1'
        """
    )
    op.execute(
        "CREATE INDEX assessment_directory_public_idx ON assessment_directory (factory_id) "
        "WHERE public_report_on IS NOT NULL"
    )
