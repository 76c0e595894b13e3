"""The ids and names a factory was known by: records merged into it, former names.

Revision ID: directory_0001
Revises: 0004
"""

from alembic import op

revision = "directory_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE factory_aliases (
            factory_id   text NOT NULL,
            alias_id     text NOT NULL,
            name         text NOT NULL,
            recorded_at  timestamptz NOT NULL,
            position     integer NOT NULL,
            PRIMARY KEY (factory_id, alias_id, name)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE factory_aliases")
