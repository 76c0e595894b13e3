"""The event store: one append-only table per service database.

- unique (stream_id, version) gives optimistic concurrency: an append states the version it
  read, and a concurrent writer that got there first makes it fail with `VersionConflict`;
- unique event_id makes appends idempotent: re-appending an event id changes nothing;
- `position` is the global order of appends, and `transaction_id` lets readers see only what
  can no longer change (see `read_all`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID, uuid4

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from betterwork_events.catalogue import SCHEMA_URI, EventContract
from betterwork_events.envelope import CONTENT_TYPE, SPEC_VERSION, Envelope
from betterwork_events.errors import InvalidRequest
from betterwork_events.migrations import NOTIFY_CHANNEL
from betterwork_events.tracing import current_traceparent, tracer

log = logging.getLogger(__name__)


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
    position: int = 0  # the global position of the last of these events


@dataclass(frozen=True)
class FirstRequest:
    """What a command with an Idempotency-Key did, kept to answer its retries (see commands.py)."""

    fingerprint: str  # of what was asked: a retry must ask the same
    aggregate_id: str
    stream_id: str
    first_version: int  # the versions its events took
    last_version: int


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


# In the order of Envelope's fields (see `_envelopes`), then the transaction id for checkpoints.
_COLUMNS = (
    "event_id, type, stream_id, recorded_at, data, version, position, factory_id, correlation_id, causation_id, "
    "traceparent, actor, transaction_id::text::bigint AS txid"
)

# Only rows written by transactions older than every transaction still running are returned, so
# a row that commits late can never land behind the reader's checkpoint and be skipped.
_READ_ALL = f"""
    SELECT {_COLUMNS} FROM events
    WHERE (transaction_id, position) > ($1::bigint::text::xid8, $2)
      AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY transaction_id, position
    LIMIT $3
"""
_HELD_BACK = """
    SELECT EXISTS (
      SELECT 1 FROM events
      WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
        AND (transaction_id, position) > ($1::bigint::text::xid8, $2)
    )
"""
_LOAD = f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version"
_STREAM_OF = "SELECT stream_id FROM events WHERE event_id = $1"
_APPENDED_BEFORE = (
    "SELECT stream_id, max(version), max(position) FROM events WHERE event_id = any($1::uuid[]) GROUP BY stream_id"
)
_FIRST_REQUEST = sa.text(
    "SELECT fingerprint, aggregate_id, stream_id, first_version, last_version FROM command_requests WHERE key = :key"
)
_REMEMBER_REQUEST = sa.text(
    "INSERT INTO command_requests (key, fingerprint, aggregate_id, stream_id, first_version, last_version) "
    "VALUES (:key, :fingerprint, :aggregate_id, :stream_id, :first_version, :last_version)"
)
_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1"
# Two-key form: its own lock space, apart from the relay's and the migrations' one-key locks.
_CLAIM = sa.text("SELECT pg_advisory_xact_lock(1, hashtext(:key))")
_NOTIFY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"
_INSERT_COLUMNS = (
    "event_id, stream_id, version, type, data, factory_id, actor, correlation_id, causation_id, traceparent"
)


class TouchedPositions:
    """The greatest global position a request's commands appended or read (its events are what
    the answer reflects): what its consistency token names (see web.py)."""

    __slots__ = ("highest",)

    def __init__(self) -> None:
        self.highest: int | None = None


_touched_positions: ContextVar[TouchedPositions | None] = ContextVar("bw_touched_positions", default=None)


@contextlib.contextmanager
def tracking_positions() -> Iterator[TouchedPositions]:
    """Within the block (and the tasks it starts), appends and loads note the positions they touch."""
    touched = TouchedPositions()
    token = _touched_positions.set(touched)
    try:
        yield touched
    finally:
        _touched_positions.reset(token)


def _touched(position: int) -> None:
    touched = _touched_positions.get()
    if touched is not None and (touched.highest is None or position > touched.highest):
        touched.highest = position


class EventStore:
    """Appends and reads a service's events.

    Its own statements go straight to asyncpg through a small pool of its own: appends are the
    hot path of every command and reads the relay's whole work, and SQLAlchemy's execution
    machinery (pool checkout, statement cache, result processing, greenlet switches) cost as much
    client CPU as the round trips themselves. `engine` stays for the services' own queries, and an
    append can join a transaction of theirs (`connection=`).
    """

    def __init__(self, engine: AsyncEngine, source: str, *, pool_size: int = 10, wait_seconds: float = 5.0) -> None:
        self.engine = engine
        self.source = source  # the CloudEvents source: which service wrote the events
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.connections = _Connections(self.dsn, pool_size, wait_seconds)
        self._notifier = _Notifier(self)

    async def close(self) -> None:
        await asyncio.gather(*self._notifier.sending)
        await self.connections.close()

    @contextlib.asynccontextmanager
    async def claim(self, key: UUID | None) -> AsyncIterator[AsyncConnection]:
        """A transaction in which the command a retry is recognised by (`key`: the idempotent
        event id of its first event) runs alone.

        A retry of the same command waits here until the first attempt's transaction has ended,
        so the check "was this appended before?" made inside it sees the first attempt's outcome,
        never a half-done one. The command appends on the connection yielded (`connection=`).
        Without a key it is a plain transaction.
        """
        async with self.engine.begin() as conn:
            if key is not None:
                await conn.execute(_CLAIM, {"key": str(key)})
            yield conn

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
        data = [event.model_dump_json() for event in events]
        for text in data:
            _refuse_nul(text)
        values = [
            value
            for offset, (event_id, event, text) in enumerate(zip(ids, events, data, strict=True))
            for value in (
                event_id,
                stream_id,
                expected_version + offset + 1,
                event.event_type,
                text,
                event.factory_id_key,
                context.actor,
                context.correlation_id,
                context.causation_id,
                traceparent,
            )
        ]
        insert = _insert_sql(len(events))
        with tracer.start_as_current_span("event_store.append", attributes={"bw.stream_id": stream_id}):
            # One INSERT statement however many events: atomic on its own, so it needs no
            # transaction of ours (one round trip instead of BEGIN, INSERT, COMMIT).
            if connection is None:
                async with self.connections.use() as conn:
                    try:
                        position = max(row[0] for row in await conn.fetch(insert, *values))
                    except asyncpg.UniqueViolationError as error:
                        return await self._explain_conflict(error, stream_id, expected_version, ids, conn)
                self._notifier.poke()
            else:
                # In the caller's transaction, on its connection; a savepoint keeps that transaction
                # usable after a conflict.
                driver = (await connection.get_raw_connection()).driver_connection
                assert driver is not None
                try:
                    async with connection.begin_nested():
                        position = max(row[0] for row in await driver.fetch(insert, *values))
                except asyncpg.UniqueViolationError as error:
                    return await self._explain_conflict(error, stream_id, expected_version, ids, driver)
                # Delivered when the caller's transaction commits, and only if it does.
                await driver.execute(_NOTIFY)
        _touched(position)
        return Appended(stream_id, expected_version + len(events), ids, position=position)

    @staticmethod
    async def _explain_conflict(
        error: asyncpg.UniqueViolationError,
        stream_id: str,
        expected_version: int,
        ids: tuple[UUID, ...],
        conn: asyncpg.Connection,
    ) -> Appended:
        first = await conn.fetchrow(_APPENDED_BEFORE, list(ids))
        if first is not None:
            _touched(first[2])
            return Appended(first[0], first[1], ids, duplicate=True, position=first[2])
        if error.constraint_name == "events_stream_version_key":
            raise VersionConflict(stream_id, expected_version, await conn.fetchval(_VERSION, stream_id)) from None
        raise error

    async def first_request(self, connection: AsyncConnection, key: UUID) -> FirstRequest | None:
        """What the command first sent with this key did, if it was sent before (in `claim`'s transaction)."""
        row = (await connection.execute(_FIRST_REQUEST, {"key": key})).first()
        return FirstRequest(*row) if row is not None else None

    async def remember_request(self, connection: AsyncConnection, key: UUID, first: FirstRequest) -> None:
        """Keep what a command did under its key, in the transaction of its append."""
        await connection.execute(_REMEMBER_REQUEST, {"key": key, **vars(first)})

    async def stream_of(self, event_id: UUID) -> str | None:
        """The stream an event was appended to, if it was (to recognise a retried command early)."""
        async with self.connections.use() as conn:
            stream_id: str | None = await conn.fetchval(_STREAM_OF, event_id)
            return stream_id

    async def load(self, stream_id: str) -> list[Envelope]:
        """Every event of one stream, oldest first. An unknown stream raises `StreamNotFound`."""
        async with self.connections.use() as conn:
            rows = await conn.fetch(_LOAD, stream_id)
        if not rows:
            raise StreamNotFound(stream_id)
        _touched(max(row["position"] for row in rows))
        return self._envelopes(rows)

    async def read_all(
        self, after: Checkpoint = Checkpoint(), limit: int = 1000, *, connection: asyncpg.Connection | None = None
    ) -> Batch:
        """Events in commit-safe global order after `after`; only those that can no longer change.

        Ordering by (transaction id, position) and stopping below the oldest running transaction
        means an event that commits late is never behind a checkpoint already handed out, so a
        reader that follows checkpoints never skips one, while appends stay fully concurrent.
        `connection` (the relay's own) is used instead of one of the store's.
        """
        if connection is not None:
            return await self._read_all(connection, after, limit)
        async with self.connections.use() as conn:
            return await self._read_all(conn, after, limit)

    async def _read_all(self, conn: asyncpg.Connection, after: Checkpoint, limit: int) -> Batch:
        # One snapshot for both statements, so "held back" speaks of the same horizon as the batch.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(_READ_ALL, after.transaction_id, after.position, limit)
            checkpoint = Checkpoint(rows[-1]["txid"], rows[-1]["position"]) if rows else after
            held_back = False
            if len(rows) < limit:
                held_back = await conn.fetchval(_HELD_BACK, checkpoint.transaction_id, checkpoint.position)
        return Batch(self._envelopes(rows), checkpoint, held_back)

    def _envelopes(self, rows: list[asyncpg.Record]) -> list[Envelope]:
        """Rows of `_COLUMNS` as envelopes (positional arguments: this runs for every event read)."""
        source, schema = self.source, _dataschema
        # fmt: off
        return [
            Envelope(
                event_id, source, type_, stream_id, recorded_at, data, version, position, factory_id,
                correlation_id, causation_id, traceparent, actor, SPEC_VERSION, CONTENT_TYPE, schema(type_),
            )
            for (
                event_id, type_, stream_id, recorded_at, data, version, position, factory_id,
                correlation_id, causation_id, traceparent, actor, _txid,
            ) in rows
        ]
        # fmt: on


class _Connections:
    """The store's own asyncpg connections: a stack of idle ones, at most `size` in use at once.

    asyncpg's pool costs the appending client more CPU than the INSERT itself (a task per release,
    a proxy around every call, a reset round trip). The store needs none of that: its statements
    leave no session state behind (no SET, LISTEN or session lock; transactions always closed).
    """

    MAX_IDLE = 300.0  # seconds; older idle connections are closed rather than trusted

    def __init__(self, dsn: str, size: int, wait_seconds: float = 5.0) -> None:
        self.dsn = dsn
        self.wait_seconds = wait_seconds  # for a free slot, and for the server to accept a new connection: TimeoutError
        self._idle: list[tuple[asyncpg.Connection, float]] = []
        self._slots = asyncio.Semaphore(size)
        self._in_use: set[asyncpg.Connection] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def use(self) -> _Use:
        return _Use(self)

    async def acquire(self) -> asyncpg.Connection:
        if self._slots.locked():  # only then: a timeout costs more than the acquire itself
            async with asyncio.timeout(self.wait_seconds):
                await self._slots.acquire()
        else:
            await self._slots.acquire()
        try:
            now = time.monotonic()
            while self._idle:
                conn, since = self._idle.pop()
                if not conn.is_closed() and now - since < self.MAX_IDLE:
                    break
                conn.terminate()
            else:
                conn = await asyncpg.connect(self.dsn, timeout=self.wait_seconds)
        except BaseException:
            self._slots.release()
            raise
        self._in_use.add(conn)
        return conn

    def release(self, conn: asyncpg.Connection, error: BaseException | None) -> None:
        self._in_use.discard(conn)
        # A statement the server refused leaves the connection as it was; a lost connection, or a
        # statement cancelled or timed out half-way, leaves it in a state nobody can know.
        reusable = error is None or (isinstance(error, Exception) and not isinstance(error, _BROKEN))
        if reusable and not conn.is_closed() and not conn.is_in_transaction():
            self._idle.append((conn, time.monotonic()))
        elif not conn.is_closed():
            self._retire(conn)
        self._slots.release()

    def _retire(self, conn: asyncpg.Connection) -> None:
        """Close a connection in the background. Closing waits for the cancel request of a
        cancelled statement to reach the server, so the server stops that statement instead of
        finishing it (an append the caller gave up on must not commit later on its own)."""
        task = asyncio.create_task(conn.close(timeout=_CLOSE_TIMEOUT))
        self._closing.add(task)
        task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("a broken event store connection did not close cleanly: %s", task.exception())

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._retire(conn)
        for conn in self._in_use:  # only if a task still runs a statement: it gets an error
            conn.terminate()
        await asyncio.gather(*self._closing, return_exceptions=True)


_CLOSE_TIMEOUT = 10.0  # seconds
# Errors after which a connection's state is unknown (asyncpg raises PostgresError for what the
# server refused, except these, which end the session).
_BROKEN = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # the server shut down or terminated the session
)


class _Use:
    """`async with connections.use() as conn:` (a plain class: cheaper than @asynccontextmanager)."""

    __slots__ = ("conn", "connections")

    def __init__(self, connections: _Connections) -> None:
        self.connections = connections

    async def __aenter__(self) -> asyncpg.Connection:
        self.conn = await self.connections.acquire()
        return self.conn

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        self.connections.release(self.conn, error)


class _Notifier:
    """Wakes the relay after appends: one NOTIFY for all the appends of a few milliseconds.

    A NOTIFY in the append's own transaction would take PostgreSQL's notification lock during
    that commit and serialise every appending commit behind it; sent on its own, after the
    commit, it costs one cheap statement for many appends (the relay reads them in one batch
    anyway). The relay's slow poll covers a notification lost to a failure in between.
    """

    DELAY = 0.005  # seconds an append's notification may wait for others to share it

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.sending: set[asyncio.Task[None]] = set()
        self._waiting = False

    def poke(self) -> None:
        if self._waiting:
            return  # the notification about to be sent covers this append too
        self._waiting = True
        task = asyncio.create_task(self._send())
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _send(self) -> None:
        await asyncio.sleep(self.DELAY)
        self._waiting = False  # an append committed from now on needs a notification of its own
        try:
            async with self.store.connections.use() as conn:
                await conn.execute(_NOTIFY)
        except Exception as error:
            log.warning("could not notify the relay (it will poll): %s", error)


# The escape JSON writes for NUL, not itself escaped (after an even number of backslashes).
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _refuse_nul(data_json: str) -> None:
    """PostgreSQL's text cannot hold NUL: an event carrying one would fail every read model that
    stores the text, so it is refused before it becomes a fact."""
    if "\\u0000" in data_json and _NUL.search(data_json):
        raise InvalidRequest("text may not contain the NUL character (\\u0000)")


@lru_cache(maxsize=1024)
def _dataschema(event_type: str) -> str:
    """What Envelope would compute for the type, once per type rather than once per event."""
    return SCHEMA_URI.format(type=event_type)


@lru_cache(maxsize=64)
def _insert_sql(count: int) -> str:
    """INSERT of `count` events in one statement, rows in the order given (so positions follow versions).

    asyncpg prepares it once per connection."""
    width = len(_INSERT_COLUMNS.split(", "))
    values = ", ".join(
        "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")" for row in range(count)
    )
    return f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES {values} RETURNING position"
