"""Registration numbers in the directory: the same number in the same country is a duplicate whatever
the name. Filled from the events (each factory's latest profile; merged records hold none).

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op
from betterwork_events.contracts.factory_registry import FactoryProfile
from factory_registry.directory import registration_number_keys

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE factory_registration_numbers (
            factory_id  text NOT NULL,
            number_key  text NOT NULL,
            country     text NOT NULL,
            number      text NOT NULL,
            PRIMARY KEY (factory_id, number_key)
        )
        """
    )
    op.execute(
        "CREATE INDEX factory_registration_numbers_key_idx ON factory_registration_numbers (country, number_key)"
    )
    conn = op.get_bind()
    latest: dict[str, FactoryProfile] = {}
    events = conn.execute(
        sa.text(
            "SELECT factory_id, type, data::text AS data FROM events WHERE type IN "
            "('org.betterwork.factory.registered.v1', 'org.betterwork.factory.profile-updated.v1') ORDER BY position"
        )
    )
    for event in events:
        latest[event.factory_id] = FactoryProfile.model_validate(json.loads(event.data)["profile"])
    merged = set(conn.execute(sa.text("SELECT id FROM factory_directory WHERE merged_into IS NOT NULL")).scalars())
    rows = [
        {"factory_id": factory_id, "number_key": key, "country": profile.country, "number": number}
        for factory_id, profile in latest.items()
        if factory_id not in merged
        for key, number in registration_number_keys(profile).items()
    ]
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO factory_registration_numbers (factory_id, number_key, country, number) "
                "VALUES (:factory_id, :number_key, :country, :number)"
            ),
            rows,
        )
