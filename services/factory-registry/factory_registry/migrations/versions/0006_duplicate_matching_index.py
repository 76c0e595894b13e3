"""Duplicate matching through an index: each factory's normalised name and local-script name kept in
the directory, the names indexed by trigrams (pg_trgm), so a registration is compared with the
factories whose names are near its own instead of every factory of its country.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from factory_registry import matching

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both ship with PostgreSQL (contrib) and are trusted: the database's owner may create them.
    # btree_gist lets one GiST index hold the country beside the name's trigrams.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("ALTER TABLE factory_directory ADD COLUMN name_key text, ADD COLUMN local_name_key text")
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, country, name, local_name FROM factory_directory")).all()
    if rows:
        conn.execute(
            sa.text(
                "UPDATE factory_directory SET name_key = :name_key, local_name_key = :local_name_key WHERE id = :id"
            ),
            [
                {
                    "id": row.id,
                    "name_key": matching.name_key(row.name, row.country),
                    "local_name_key": matching.local_name_key(row.local_name),
                }
                for row in rows
            ],
        )
    op.execute("ALTER TABLE factory_directory ALTER COLUMN name_key SET NOT NULL")
    op.execute(
        "CREATE INDEX factory_directory_name_trgm_idx ON factory_directory "
        "USING gist (country, name_key gist_trgm_ops) WHERE merged_into IS NULL"
    )
    op.execute(
        "CREATE INDEX factory_directory_name_key_idx ON factory_directory (country, name_key) WHERE merged_into IS NULL"
    )
    op.execute(
        "CREATE INDEX factory_directory_local_name_key_idx ON factory_directory (country, local_name_key) "
        "WHERE merged_into IS NULL AND local_name_key IS NOT NULL"
    )
