"""The event store: one append-only table per service database.

- unique (stream_id, version) gives optimistic concurrency: an append states the version it
  read, and a concurrent writer that got there first makes it fail with `VersionConflict`;
- unique event_id makes appends idempotent: re-appending an event id changes nothing;
- `position` is the global order of appends, and `transaction_id` lets readers see only what
  can no longer change (see `read_all`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from betterwork_events.catalogue import SCHEMA_URI, EventContract
from betterwork_events.envelope import Envelope
from betterwork_events.migrations import NOTIFY_CHANNEL
from betterwork_events.tracing import current_traceparent, tracer

log = logging.getLogger(__name__)

metadata = sa.MetaData()

events_table = sa.Table(
    "events",
    metadata,
    sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("data", pg.JSONB, nullable=False),
    sa.Column("factory_id", sa.Text),
    sa.Column("actor", sa.Text),
    sa.Column("correlation_id", pg.UUID(as_uuid=True)),
    sa.Column("causation_id", pg.UUID(as_uuid=True)),
    sa.Column("traceparent", sa.Text),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # and transaction_id xid8 DEFAULT pg_current_xact_id(), which SQLAlchemy need not know: see migrations.py
    sa.UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
)


class VersionConflict(Exception):
    """Somebody else appended to the stream since the caller read it."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None = None) -> None:
        detail = f" (it is now at version {actual_version})" if actual_version is not None else ""
        super().__init__(f"{stream_id} has changed since version {expected_version}{detail}; read it again and retry")
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class StreamNotFound(LookupError):
    def __init__(self, stream_id: str) -> None:
        super().__init__(f"{stream_id} does not exist")
        self.stream_id = stream_id


@dataclass(frozen=True)
class CommandContext:
    """Who asked for a change, and which message it follows from."""

    actor: str | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None


@dataclass(frozen=True)
class Appended:
    stream_id: str
    version: int  # the stream's version after the append
    event_ids: tuple[UUID, ...]
    duplicate: bool = False  # True when these event ids were appended before: nothing changed


@dataclass(frozen=True, order=True)
class Checkpoint:
    """A place in the global order: (transaction id, position), both increasing."""

    transaction_id: int = 0
    position: int = 0


@dataclass(frozen=True)
class Batch:
    events: list[Envelope]
    checkpoint: Checkpoint  # where to continue after these events
    held_back: bool  # events exist that are not readable yet (their transactions are in flight)


_COLUMNS = (
    "position, event_id, stream_id, version, type, data, factory_id, actor, correlation_id, causation_id, "
    "traceparent, recorded_at, transaction_id::text::bigint AS txid"
)

# Only rows written by transactions older than every transaction still running are returned, so
# a row that commits late can never land behind the reader's checkpoint and be skipped.
_READ_ALL = sa.text(
    f"""
    SELECT {_COLUMNS} FROM events
    WHERE (transaction_id, position) > (CAST(:txid AS xid8), :position)
      AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY transaction_id, position
    LIMIT :limit
    """
)
_HELD_BACK = sa.text(
    """
    SELECT EXISTS (
      SELECT 1 FROM events
      WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
        AND (transaction_id, position) > (CAST(:txid AS xid8), :position)
    )
    """
)


class EventStore:
    def __init__(self, engine: AsyncEngine, source: str) -> None:
        self.engine = engine
        self.source = source  # the CloudEvents source: which service wrote the events
        self._notifier = _Notifier(engine)

    async def append(
        self,
        stream_id: str,
        events: Sequence[EventContract],
        expected_version: int,
        *,
        context: CommandContext | None = None,
        event_ids: Sequence[UUID] | None = None,
        connection: AsyncConnection | None = None,
    ) -> Appended:
        """Append `events` to a stream that the caller read at `expected_version` (0: a new stream).

        Passing the same `event_ids` again (a retried command) appends nothing and returns the
        first append's outcome with `duplicate=True`.
        """
        if not events:
            raise ValueError("nothing to append")
        ids = tuple(event_ids) if event_ids is not None else tuple(uuid4() for _ in events)
        if len(ids) != len(events):
            raise ValueError("one event id per event")
        context = context or CommandContext()
        traceparent = current_traceparent()
        rows = [
            {
                "event_id": event_id,
                "stream_id": stream_id,
                "version": expected_version + offset + 1,
                "type": event.event_type,
                "data": event.model_dump(mode="json"),
                "factory_id": event.factory_id_key,
                "actor": context.actor,
                "correlation_id": context.correlation_id,
                "causation_id": context.causation_id,
                "traceparent": traceparent,
            }
            for offset, (event_id, event) in enumerate(zip(ids, events, strict=True))
        ]
        with tracer.start_as_current_span("event_store.append", attributes={"bw.stream_id": stream_id}):
            # One INSERT statement however many events: atomic on its own, so it needs no
            # transaction of ours (one round trip instead of BEGIN, INSERT, COMMIT). Inside the
            # caller's transaction, a savepoint keeps that transaction usable after a conflict.
            if connection is not None:
                statement, parameters = (_INSERT, rows[0]) if len(rows) == 1 else (_INSERT.values(rows), None)
                try:
                    async with connection.begin_nested():
                        await connection.execute(statement, parameters)
                except IntegrityError as error:
                    return await self._explain_conflict(error, stream_id, expected_version, ids, connection)
                # Delivered when the caller's transaction commits, and only if it does.
                await connection.execute(_NOTIFY)
            else:
                async with self.engine.connect() as conn:
                    try:
                        await _insert(conn, rows)
                    except asyncpg.UniqueViolationError as error:
                        return await self._explain_conflict(error, stream_id, expected_version, ids, conn)
                self._notifier.poke()
        return Appended(stream_id, expected_version + len(events), ids)

    async def _explain_conflict(
        self,
        error: IntegrityError | asyncpg.UniqueViolationError,
        stream_id: str,
        expected_version: int,
        ids: tuple[UUID, ...],
        connection: AsyncConnection | None,
    ) -> Appended:
        async with self._connection(connection) as conn:
            first = (
                await conn.execute(
                    sa.select(events_table.c.stream_id, sa.func.max(events_table.c.version))
                    .where(events_table.c.event_id.in_(ids))
                    .group_by(events_table.c.stream_id)
                )
            ).first()
            if first is not None:
                return Appended(first[0], first[1], ids, duplicate=True)
            if "events_stream_version_key" in str(getattr(error, "orig", error)):
                raise VersionConflict(stream_id, expected_version, await self._version(conn, stream_id)) from None
        raise error

    async def stream_of(self, event_id: UUID) -> str | None:
        """The stream an event was appended to, if it was (to recognise a retried command early)."""
        async with self.engine.connect() as conn:
            result = await conn.execute(sa.select(events_table.c.stream_id).where(events_table.c.event_id == event_id))
            return result.scalar()

    @staticmethod
    async def _version(conn: AsyncConnection, stream_id: str) -> int:
        result = await conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(events_table.c.version), 0)).where(
                events_table.c.stream_id == stream_id
            )
        )
        return int(result.scalar_one())

    async def load(self, stream_id: str) -> list[Envelope]:
        """Every event of one stream, oldest first. An unknown stream raises `StreamNotFound`."""
        async with self._autocommit() as conn:
            rows = (await conn.execute(_LOAD, {"stream_id": stream_id})).all()
        envelopes = [self._envelope(row) for row in rows]
        if not envelopes:
            raise StreamNotFound(stream_id)
        return envelopes

    async def read_all(self, after: Checkpoint = Checkpoint(), limit: int = 1000) -> Batch:
        """Events in commit-safe global order after `after`; only those that can no longer change.

        Ordering by (transaction id, position) and stopping below the oldest running transaction
        means an event that commits late is never behind a checkpoint already handed out, so a
        reader that follows checkpoints never skips one, while appends stay fully concurrent.
        """
        # One snapshot for both statements, so "held back" speaks of the same horizon as the batch.
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            params = {"txid": after.transaction_id, "position": after.position}
            rows = (await conn.execute(_READ_ALL, {**params, "limit": limit})).all()
            checkpoint = Checkpoint(rows[-1][-1], rows[-1][0]) if rows else after
            held_back = False
            if len(rows) < limit:
                next_params = {"txid": checkpoint.transaction_id, "position": checkpoint.position}
                held_back = bool((await conn.execute(_HELD_BACK, next_params)).scalar_one())
        return Batch([self._envelope(row) for row in rows], checkpoint, held_back)

    def _envelope(self, row: Sequence[Any]) -> Envelope:
        """A row of `_COLUMNS` as its envelope (by position: this runs for every event read)."""
        (
            position,
            event_id,
            stream_id,
            version,
            type_,
            data,
            factory_id,
            actor,
            correlation_id,
            causation_id,
            traceparent,
            recorded_at,
            _,
        ) = row
        return Envelope(
            id=event_id,
            source=self.source,
            type=type_,
            subject=stream_id,
            time=recorded_at.astimezone(UTC) if isinstance(recorded_at, datetime) else recorded_at,
            data=data,
            streamversion=version,
            position=position,
            factoryid=factory_id,
            correlationid=correlation_id,
            causationid=causation_id,
            traceparent=traceparent,
            actor=actor,
            dataschema=_dataschema(type_),
        )

    @asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection without BEGIN and COMMIT/ROLLBACK round trips around each use.

        For work done in one statement: a single statement is atomic and sees one snapshot
        on its own, and each round trip costs about as much as the statement itself.
        """
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def _connection(self, connection: AsyncConnection | None) -> AbstractAsyncContextManager[AsyncConnection]:
        return nullcontext(connection) if connection is not None else self.engine.connect()


_INSERT = sa.insert(events_table)
_NOTIFY = sa.text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")


class _Notifier:
    """Wakes the relay after appends, with at most one NOTIFY in flight per process.

    A NOTIFY in the append's own transaction would take PostgreSQL's notification lock during
    that commit and serialise every appending commit behind it; sent on its own, after the
    commit, it costs one cheap statement for many appends. The relay's slow poll covers a
    notification lost to a failure in between.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sending: asyncio.Task[None] | None = None
        self._again = False

    def poke(self) -> None:
        if self._sending is not None and not self._sending.done():
            self._again = True  # an append committed after the one being sent was started
            return
        self._again = False
        self._sending = asyncio.create_task(self._send())
        self._sending.add_done_callback(lambda _: self.poke() if self._again else None)

    async def _send(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(_NOTIFY)
        except Exception as error:
            log.warning("could not notify the relay (it will poll): %s", error)


_LOAD = sa.text(f"SELECT {_COLUMNS} FROM events WHERE stream_id = :stream_id ORDER BY version")


@lru_cache(maxsize=1024)
def _dataschema(event_type: str) -> str:
    """What Envelope would compute for the type, once per type rather than once per event."""
    return SCHEMA_URI.format(type=event_type)


_INSERT_COLUMNS = tuple(c.name for c in events_table.columns if c.name not in ("position", "recorded_at"))


@lru_cache(maxsize=64)
def _insert_sql(count: int) -> str:
    """INSERT of `count` events in one statement, rows in the order given (so positions follow versions)."""
    width = len(_INSERT_COLUMNS)
    values = ", ".join(
        "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")" for row in range(count)
    )
    return f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)}) VALUES {values}"


async def _insert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """The append's INSERT straight on the pooled asyncpg connection, outside any transaction.

    Appends are the hot path of every command, and SQLAlchemy's execution machinery (statement
    cache lookup, parameter processing, result set-up, greenlet switches) costs as much client
    CPU as the round trip itself. asyncpg prepares the statement once per connection.
    """
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    args = [json.dumps(row[c]) if c == "data" else row[c] for row in rows for c in _INSERT_COLUMNS]
    try:
        await driver.execute(_insert_sql(len(rows)), *args)
    except asyncpg.PostgresError:
        if driver.is_closed():  # e.g. the server was shut down: the pool must not hand it out again
            await conn.invalidate()
        raise  # a refused statement leaves the connection as it was: nothing is open on it
    except BaseException:
        await conn.invalidate()  # lost, or cancelled mid-statement: its state is unknown
        raise
