"""The registry's own directory of factories and brands, kept in step with its events.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE factory_directory (
            id           text PRIMARY KEY,
            country      text NOT NULL,
            year         integer NOT NULL,
            number       integer NOT NULL,
            name         text NOT NULL,
            local_name   text,
            address      text NOT NULL,
            sector       text NOT NULL,
            enrollment   text,
            merged_into  text REFERENCES factory_directory (id),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            UNIQUE (country, year, number)
        )
        """
    )
    op.execute("CREATE INDEX factory_directory_country_idx ON factory_directory (country) WHERE merged_into IS NULL")
    op.execute(
        """
        CREATE TABLE brand_directory (
            id           text PRIMARY KEY,
            number       integer NOT NULL UNIQUE,
            name         text NOT NULL,
            partnership  text NOT NULL
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX brand_directory_name_idx ON brand_directory (lower(name))")
