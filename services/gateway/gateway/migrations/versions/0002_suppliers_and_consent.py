"""Factory profiles in more detail, supplier links and report-sharing consent.

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
        ALTER TABLE factories
            ADD COLUMN local_name text,
            ADD COLUMN sector text NOT NULL DEFAULT 'garment',
            ADD COLUMN enrollment text,
            ADD COLUMN workers_total integer,
            ADD COLUMN workers_women integer,
            ADD COLUMN workers_men integer,
            ADD COLUMN merged_into text
        """
    )
    op.execute(
        """
        CREATE TABLE brands (
            id           text PRIMARY KEY,
            name         text NOT NULL,
            partnership  text NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE supplier_links (
            factory_id  text NOT NULL,
            brand_id    text NOT NULL,
            since       date NOT NULL,
            PRIMARY KEY (factory_id, brand_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE report_sharing_consents (
            factory_id  text NOT NULL,
            brand_id    text NOT NULL,
            PRIMARY KEY (factory_id, brand_id)
        )
        """
    )
    op.execute("CREATE INDEX supplier_links_brand_idx ON supplier_links (brand_id)")
    op.execute("CREATE INDEX consents_brand_idx ON report_sharing_consents (brand_id)")
