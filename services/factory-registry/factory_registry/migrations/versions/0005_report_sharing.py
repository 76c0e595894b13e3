"""Which brands each factory supplies, and which of them it shares its reports with, in the directory.

Filled from the events already stored: for each factory and brand, the latest of its link (or
consent) events says whether the link (or consent) stands; merged records keep none.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FACTORY = "org.betterwork.factory"
MERGED = f"SELECT data->>'factory_id' FROM events WHERE type = '{FACTORY}.merged.v1'"


def current(added: str, removed: str, absorbed: str) -> str:
    """(factory_id, brand_id) pairs whose latest event of the three kinds added them."""
    return f"""
        WITH changes AS (
            SELECT position, data->>'factory_id' AS factory_id, data->>'brand_id' AS brand_id,
                   type = '{FACTORY}.{added}.v1' AS present
            FROM events WHERE type IN ('{FACTORY}.{added}.v1', '{FACTORY}.{removed}.v1')
            UNION ALL
            SELECT position, data->>'factory_id', carried, true
            FROM events, {absorbed} AS carried
            WHERE type = '{FACTORY}.duplicate-absorbed.v1'
        )
        SELECT factory_id, brand_id FROM (
            SELECT DISTINCT ON (factory_id, brand_id) factory_id, brand_id, present
            FROM changes ORDER BY factory_id, brand_id, position DESC
        ) latest
        WHERE present AND factory_id NOT IN ({MERGED})
    """


def upgrade() -> None:
    for table in ("supplier_links", "report_consents"):
        op.execute(
            f"CREATE TABLE {table} (factory_id text NOT NULL, brand_id text NOT NULL, PRIMARY KEY (brand_id, factory_id))"
        )
    op.execute(
        "INSERT INTO supplier_links (factory_id, brand_id) "
        + current("brand-linked", "brand-unlinked", "json_object_keys(data->'brand_links')")
    )
    op.execute(
        "INSERT INTO report_consents (factory_id, brand_id) "
        + current(
            "report-sharing-consent-granted",
            "report-sharing-consent-revoked",
            "json_array_elements_text(data->'consenting_brands')",
        )
    )
