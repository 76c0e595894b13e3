"""The outbox relay: publishes the event store to Kafka, in order, then advances its checkpoint.

At least once to Kafka (a crash between publishing and saving the checkpoint publishes a few
events again; consumers recognise them by id). It never skips an event: it reads through
`EventStore.read_all`, which only hands out events that can no longer be overtaken.

Leadership is a session advisory lock on the relay's own connection, and that same connection
LISTENs for appends, reads the events and saves the checkpoint: a relay whose connection was
dropped (a PostgreSQL restart, a terminated session) has lost its lock, and cannot read or save
anything through it either. It connects again (with backoff, for as long as it takes), and
publishes only once it holds the lock again. Nothing of the API's connection pools is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import trace

from betterwork_events import kafka
from betterwork_events.envelope import Envelope
from betterwork_events.migrations import NOTIFY_CHANNEL
from betterwork_events.resilience import Backoff, is_transient
from betterwork_events.store import Checkpoint, EventStore
from betterwork_events.tracing import continued_from, current_traceparent, tracer

log = logging.getLogger(__name__)

IDLE_WAIT = 5.0  # a safety net only: appends wake the relay through NOTIFY
HELD_BACK_WAIT = 0.02  # events are committed but an older transaction is still open
LEADER_RETRY = 2.0  # how often a standby relay checks whether the leader is gone
STATEMENT_TIMEOUT = 30.0  # seconds; a connection that stops answering is given up, not waited on

_CHECKPOINT = "SELECT transaction_id, position FROM relay_checkpoints WHERE name = $1"
_SAVE_CHECKPOINT = """
    INSERT INTO relay_checkpoints (name, transaction_id, position) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE
    SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
"""


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        bootstrap: str,
        topic: str,
        *,
        name: str = "kafka",
        batch_size: int = 500,
        idle_wait: float = IDLE_WAIT,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.topic = topic
        self.name = name
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self._wake = asyncio.Event()
        self.leading = False

    async def run(self) -> None:
        """Publish for ever; cancel the task to stop.

        Every replica of a service runs a relay, but only the one holding the relay's advisory
        lock publishes; the others wait to take over when its connection (its pod) goes away.
        A lost connection, to PostgreSQL or Kafka, is waited out, never the end of the relay."""
        await kafka.ensure_topics(self.bootstrap, self.topic)
        producer = kafka.producer(self.bootstrap)
        await producer.start()
        backoff = Backoff(first=0.1, maximum=5.0)
        try:
            while True:
                try:
                    await self._connect_and_lead(producer, backoff)
                except Exception as error:
                    if not is_transient(error):
                        raise
                    delay = backoff.next_delay()
                    log.warning("relay %s: lost its database connection (%s); again in %.1fs", self.name, error, delay)
                    await asyncio.sleep(delay)
        finally:
            await producer.stop()

    async def _connect_and_lead(self, producer: AIOKafkaProducer, backoff: Backoff) -> None:
        """On a connection of its own: take the lead, then publish until the connection fails."""
        conn = await asyncpg.connect(
            self.store.dsn,
            command_timeout=STATEMENT_TIMEOUT,
            server_settings={"application_name": f"bw-relay:{self.name}"[:63]},
        )
        try:
            conn.add_termination_listener(lambda _: self._wake.set())  # wake up to notice at once
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            await self._take_the_lead(conn)
            backoff.reset()
            checkpoint = await self._checkpoint(conn)  # read after taking the lead: the last leader moved it
            kafka_backoff = Backoff(first=0.2, maximum=5.0)
            while True:
                try:
                    checkpoint, sent, held_back = await self._publish_batch(producer, checkpoint, conn)
                except Exception as error:
                    if conn.is_closed() or not is_transient(error) or not _from_kafka(error):
                        raise  # the lock went with the connection, if it did
                    delay = kafka_backoff.next_delay()
                    log.warning("relay %s: Kafka: %s; retrying in %.1fs", self.name, error, delay)
                    await asyncio.sleep(delay)
                    continue
                kafka_backoff.reset()
                if sent == self.batch_size:
                    continue
                await self._sleep(HELD_BACK_WAIT if held_back else self.idle_wait)
        finally:
            self.leading = False
            await _close(conn)

    async def _take_the_lead(self, conn: asyncpg.Connection) -> None:
        # A session lock: released by PostgreSQL when this connection ends, however it ends.
        while True:
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"relay:{self.name}"):
                self.leading = True
                return
            await asyncio.sleep(LEADER_RETRY)

    async def publish_available(self) -> int:
        """Publish everything readable now (for commands and tests); returns how many were sent."""
        await kafka.ensure_topics(self.bootstrap, self.topic)
        producer = kafka.producer(self.bootstrap)
        await producer.start()
        sent = 0
        try:
            async with self.store.connections.use() as conn:
                checkpoint = await self._checkpoint(conn)
                while True:
                    checkpoint, count, held_back = await self._publish_batch(producer, checkpoint, conn)
                    sent += count
                    if count < self.batch_size and not held_back:
                        return sent
                    if count < self.batch_size:
                        await asyncio.sleep(HELD_BACK_WAIT)
        finally:
            await producer.stop()

    async def _publish_batch(
        self, producer: AIOKafkaProducer, checkpoint: Checkpoint, conn: asyncpg.Connection
    ) -> tuple[Checkpoint, int, bool]:
        batch = await self.store.read_all(checkpoint, limit=self.batch_size, connection=conn)
        if batch.events:
            sends = [await self._send(producer, envelope) for envelope in batch.events]
            await asyncio.gather(*sends)
            await conn.execute(_SAVE_CHECKPOINT, self.name, batch.checkpoint.transaction_id, batch.checkpoint.position)
        return batch.checkpoint, len(batch.events), batch.held_back

    async def _send(self, producer: AIOKafkaProducer, envelope: Envelope) -> asyncio.Future:
        with (
            continued_from(envelope.traceparent),
            tracer.start_as_current_span(
                f"{self.topic} publish",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": self.topic,
                    "bw.event_type": envelope.type,
                },
            ),
        ):
            # The consumer's span becomes a child of this one.
            envelope = replace(envelope, traceparent=current_traceparent() or envelope.traceparent)
            return await producer.send(
                self.topic, value=envelope.kafka_value(), key=envelope.key.encode(), headers=envelope.kafka_headers()
            )

    async def checkpoint(self) -> Checkpoint:
        async with self.store.connections.use() as conn:
            return await self._checkpoint(conn)

    async def _checkpoint(self, conn: asyncpg.Connection) -> Checkpoint:
        row = await conn.fetchrow(_CHECKPOINT, self.name)
        return Checkpoint(row[0], row[1]) if row else Checkpoint()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()


def _from_kafka(error: BaseException) -> bool:
    return isinstance(error, KafkaError)  # not a statement timing out: that connection is given up


async def _close(conn: asyncpg.Connection) -> None:
    """Close a connection, or drop it if it does not close in time (its session, and lock, end either way)."""
    try:
        await asyncio.wait_for(conn.close(), 5)
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception as error:
        log.info("a relay connection did not close cleanly: %s", error)
        conn.terminate()
