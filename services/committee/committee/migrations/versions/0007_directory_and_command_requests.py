"""The committee directory (each factory's committees and advisory plans), filled from the events
already stored, and the requests the command runner remembers under their Idempotency-Keys.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
from betterwork_events.migrations import create_command_requests

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE committee_directory (
            id            text PRIMARY KEY,
            kind          text NOT NULL,
            factory_id    text NOT NULL,
            country       text NOT NULL,
            number        integer NOT NULL,
            dissolved_on  date
        )
        """
    )
    op.execute("CREATE INDEX committee_directory_factory_idx ON committee_directory (factory_id, kind, number)")
    # What directory.changes makes of the events, for the committees and plans made before it.
    op.execute(
        """
        INSERT INTO committee_directory (id, kind, factory_id, country, number)
        SELECT data::jsonb->>'committee_id', 'committee', data::jsonb->>'factory_id', data::jsonb->>'country',
               substring(data::jsonb->>'committee_id' from '-C([0-9]+)$')::integer
        FROM events WHERE type = 'org.betterwork.committee.established.v1'
        UNION ALL
        SELECT data::jsonb->>'plan_id', 'advisory-plan', data::jsonb->>'factory_id', data::jsonb->>'country',
               (data::jsonb->>'cycle')::integer
        FROM events WHERE type = 'org.betterwork.advisory.plan-agreed.v1'
        """
    )
    op.execute(
        """
        UPDATE committee_directory d SET dissolved_on = (e.data::jsonb->>'dissolved_on')::date
        FROM events e
        WHERE e.type = 'org.betterwork.committee.dissolved.v1' AND e.data::jsonb->>'committee_id' = d.id
        """
    )
    create_command_requests(op)
