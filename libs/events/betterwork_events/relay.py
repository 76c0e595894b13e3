"""The outbox relay: publishes the event store to Kafka, in order, then advances its checkpoint.

At least once to Kafka (a crash between publishing and saving the checkpoint publishes a few
events again; consumers recognise them by id). It never skips an event: it reads through
`EventStore.read_all`, which only hands out events that can no longer be overtaken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from opentelemetry import trace

from betterwork_events import kafka
from betterwork_events.envelope import Envelope
from betterwork_events.migrations import NOTIFY_CHANNEL
from betterwork_events.store import Checkpoint, EventStore
from betterwork_events.tracing import continued_from, current_traceparent, tracer

log = logging.getLogger(__name__)

IDLE_WAIT = 5.0  # a safety net only: appends wake the relay through NOTIFY
HELD_BACK_WAIT = 0.02  # events are committed but an older transaction is still open
LEADER_RETRY = 2.0  # how often a standby relay checks whether the leader is gone


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
        lock publishes; the others wait to take over when its connection (its pod) goes away."""
        await kafka.ensure_topics(self.bootstrap, self.topic)
        listener = await self._listen()
        producer = kafka.producer(self.bootstrap)
        try:
            await self._take_the_lead(listener)
            await producer.start()
            checkpoint = await self.checkpoint()  # read after taking the lead: the last leader moved it
            while True:
                try:
                    checkpoint, sent, held_back = await self._publish_batch(producer, checkpoint)
                except (OSError, asyncpg.PostgresError, sa.exc.DBAPIError) as error:
                    log.warning("relay %s: %s; retrying", self.name, error)
                    await asyncio.sleep(1)
                    continue
                if sent == self.batch_size:
                    continue
                await self._sleep(HELD_BACK_WAIT if held_back else self.idle_wait)
        finally:
            with contextlib.suppress(Exception):
                await listener.close()
            await producer.stop()

    async def _take_the_lead(self, listener: asyncpg.Connection) -> None:
        # A session lock: released by PostgreSQL when this connection ends, however it ends.
        while True:
            if await listener.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"relay:{self.name}"):
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
            checkpoint = await self.checkpoint()
            while True:
                checkpoint, count, held_back = await self._publish_batch(producer, checkpoint)
                sent += count
                if count < self.batch_size and not held_back:
                    return sent
                if count < self.batch_size:
                    await asyncio.sleep(HELD_BACK_WAIT)
        finally:
            await producer.stop()

    async def _publish_batch(self, producer: AIOKafkaProducer, checkpoint: Checkpoint) -> tuple[Checkpoint, int, bool]:
        batch = await self.store.read_all(checkpoint, limit=self.batch_size)
        if batch.events:
            sends = [await self._send(producer, envelope) for envelope in batch.events]
            await asyncio.gather(*sends)
            await self._save_checkpoint(batch.checkpoint)
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
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text("SELECT transaction_id, position FROM relay_checkpoints WHERE name = :name"),
                    {"name": self.name},
                )
            ).first()
        return Checkpoint(row[0], row[1]) if row else Checkpoint()

    async def _save_checkpoint(self, checkpoint: Checkpoint) -> None:
        async with self.store.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO relay_checkpoints (name, transaction_id, position) VALUES (:name, :txid, :position) "
                    "ON CONFLICT (name) DO UPDATE SET transaction_id = :txid, position = :position, updated_at = now()"
                ),
                {"name": self.name, "txid": checkpoint.transaction_id, "position": checkpoint.position},
            )

    async def _listen(self) -> asyncpg.Connection:
        connection = await asyncpg.connect(self.store.dsn)
        await connection.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        return connection

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
