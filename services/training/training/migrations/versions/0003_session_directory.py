"""The directory of training sessions, kept in step with their events, for listing them.

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
        CREATE TABLE session_directory (
            id           text PRIMARY KEY,
            course       text NOT NULL,
            country      text NOT NULL,
            factory_ids  text[] NOT NULL,
            first_day    date NOT NULL,
            last_day     date NOT NULL,
            status       text NOT NULL,
            version      integer NOT NULL
        )
        """
    )
    # Who may read a session is decided by its factories: `factory_ids && :readable`.
    op.execute("CREATE INDEX session_directory_factories_idx ON session_directory USING gin (factory_ids)")
    op.execute("CREATE INDEX session_directory_first_day_idx ON session_directory (first_day)")
