"""Bulk exports and their lines (gateway.exports): the gateway's own record, not a read model.

Revision ID: exports_0001
Revises: 0004
"""

from alembic import op

revision = "exports_0001"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE bulk_exports (
            id              uuid PRIMARY KEY,
            kind            text NOT NULL,
            owner_audience  text NOT NULL,
            owner_scope     text,
            owner_subject   text NOT NULL,
            sharing_now     text[] NOT NULL,
            status          text NOT NULL,
            row_count       integer NOT NULL,
            created_at      timestamptz NOT NULL,
            claimed_at      timestamptz,
            completed_at    timestamptz,
            expires_at      timestamptz
        )
        """
    )
    op.execute("CREATE INDEX bulk_exports_waiting_idx ON bulk_exports (status, created_at)")
    op.execute("CREATE INDEX bulk_exports_owner_idx ON bulk_exports (owner_subject, owner_audience, owner_scope)")
    op.execute("CREATE INDEX bulk_exports_expiry_idx ON bulk_exports (expires_at)")
    op.execute(
        """
        CREATE TABLE bulk_export_lines (
            export_id   uuid NOT NULL REFERENCES bulk_exports (id) ON DELETE CASCADE,
            line        integer NOT NULL,
            factory_id  text NOT NULL,
            body        text NOT NULL,
            PRIMARY KEY (export_id, line)
        )
        """
    )
