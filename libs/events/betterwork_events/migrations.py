"""Alembic, the same way in every service.

Each service keeps its revisions in `<package>/migrations/versions/`; the DDL of the shared
tables lives here as functions that a revision calls, so it is written once. Revisions are
frozen once released: a later change to these tables is a new function and a new revision.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

NOTIFY_CHANNEL = "events_appended"


def create_event_store(op: Operations) -> None:
    """The append-only event table (see store.py) and the relay's checkpoints."""
    op.execute(
        """
        CREATE TABLE events (
            position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id        uuid NOT NULL UNIQUE,
            stream_id       text NOT NULL,
            version         integer NOT NULL CHECK (version > 0),
            type            text NOT NULL,
            data            jsonb NOT NULL,
            factory_id      text,
            actor           text,
            correlation_id  uuid,
            causation_id    uuid,
            traceparent     text,
            recorded_at     timestamptz NOT NULL DEFAULT now(),
            transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
            CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
        )
        """
    )
    op.execute("CREATE INDEX events_transaction_position_idx ON events (transaction_id, position)")
    # Events are facts: the table refuses updates and deletes.
    op.execute(
        """
        CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only()"
    )
    # Wake the relay when an append commits (one notification per statement, delivered at commit).
    op.execute(
        f"""
        CREATE FUNCTION notify_events_appended() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_appended AFTER INSERT ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended()"
    )
    op.execute(
        """
        CREATE TABLE relay_checkpoints (
            name            text PRIMARY KEY,
            transaction_id  bigint NOT NULL,
            position        bigint NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def notify_after_commit(op: Operations) -> None:
    """The event store notifies the relay itself, after committing (see store._Notifier): a
    trigger's NOTIFY inside every append serialised all appending commits."""
    op.execute("DROP TRIGGER events_appended ON events")
    op.execute("DROP FUNCTION notify_events_appended()")


def store_data_as_json(op: Operations) -> None:
    """Event data as `json`, the text exactly as appended, instead of `jsonb`.

    Events are read whole and never queried inside, so jsonb's parsed form bought nothing and cost
    a rebuild of the text on every read (half the server's time in read_all) and a parse on every
    append. The relay now publishes the stored text as it is."""
    op.execute("ALTER TABLE events ALTER COLUMN data TYPE json USING data::json")


def create_consumer_tables(op: Operations) -> None:
    """What a consumer has applied: redelivered events are recognised by id and change nothing."""
    op.execute(
        """
        CREATE TABLE processed_events (
            consumer      text NOT NULL,
            event_id      uuid NOT NULL,
            processed_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )
        """
    )


def create_consumer_offsets(op: Operations) -> None:
    """Where each consumer resumes, per partition, committed with the read model it feeds."""
    op.execute(
        """
        CREATE TABLE consumer_offsets (
            consumer     text NOT NULL,
            topic        text NOT NULL,
            partition    integer NOT NULL,
            next_offset  bigint NOT NULL,
            PRIMARY KEY (consumer, topic, partition)
        )
        """
    )


def create_command_requests(op: Operations) -> None:
    """What each command sent with an Idempotency-Key did, for its retries (see commands.py)."""
    op.execute(
        """
        CREATE TABLE command_requests (
            key            uuid PRIMARY KEY,
            fingerprint    text NOT NULL,
            aggregate_id   text NOT NULL,
            stream_id      text NOT NULL,
            first_version  integer NOT NULL,
            last_version   integer NOT NULL,
            recorded_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def package_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "heads") -> None:
    """Every branch up to date: the gateway keeps one branch of revisions per read model."""
    command.upgrade(package_config(migrations_dir, database_url), revision)


def run_env() -> None:
    """The body of every service's `migrations/env.py`."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"

    def run(connection: Connection) -> None:
        # Replicas starting together each run migrations: one at a time, the others then find
        # nothing left to do. The session lock ends with the connection.
        connection.exec_driver_sql("SELECT pg_advisory_lock(hashtext('betterwork-migrations'))")
        connection.commit()
        context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(main())


def main(migrations_dir: Path, database_url: str) -> None:
    """`python -m <service>.migrate [revision]`: bring the service's database up to date."""
    revision = sys.argv[1] if len(sys.argv) > 1 else "heads"
    if revision in ("-h", "--help"):
        print(
            f"usage: python -m <service>.migrate [REVISION]\n\nApply Alembic migrations from {migrations_dir} up to REVISION (default: heads)."
        )
        return
    upgrade(migrations_dir, database_url, revision)
