"""Consumers: apply events from Kafka to a read model, exactly once in effect.

A batch's read-model changes and its `processed_events` rows commit in one transaction, so an
event redelivered after a crash (or published twice by the relay) is recognised by its id and
changes nothing. An event that keeps failing is retried a bounded number of times, then sent to
the consumer's dead-letter topic with the error, and recorded as processed; nothing is dropped
silently.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, ConsumerRecord
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from betterwork_events import kafka
from betterwork_events.envelope import Envelope, MalformedEnvelope
from betterwork_events.tracing import continued_from, tracer

log = logging.getLogger(__name__)


class Projection(Protocol):
    """Builds a read model from events. `apply` must only use the connection it is given."""

    name: str  # the consumer group, and the key of its processed_events rows
    handles: frozenset[str]  # event types it applies; it acknowledges and ignores the rest

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None: ...


class ProjectionRunner:
    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap: str,
        projection: Projection,
        topics: Sequence[str],
        *,
        dead_letter_topic: str,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.projection = projection
        self.topics = list(topics)
        self.dead_letter_topic = dead_letter_topic
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay

    async def run(self) -> None:
        """Consume for ever; cancel the task to stop."""
        await kafka.ensure_topics(self.bootstrap, *self.topics, self.dead_letter_topic)
        consumer = kafka.consumer(self.bootstrap, self.projection.name, *self.topics)
        dead_letters = kafka.producer(self.bootstrap)
        await dead_letters.start()
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batches.values():
                    await self.handle(records, dead_letters)
                if batches:
                    # Offsets only save work on restart: correctness comes from processed_events.
                    await consumer.commit()
        finally:
            await consumer.stop()
            await dead_letters.stop()

    async def handle(self, records: Sequence[ConsumerRecord], dead_letters: AIOKafkaProducer) -> None:
        try:
            async with self.engine.begin() as conn:
                for record in records:
                    await self._apply(conn, record)
        except Exception as error:
            log.warning("%s: batch failed (%s); applying its events one by one", self.projection.name, error)
            for record in records:
                await self._apply_alone(record, dead_letters)

    async def _apply_alone(self, record: ConsumerRecord, dead_letters: AIOKafkaProducer) -> None:
        error: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with self.engine.begin() as conn:
                    await self._apply(conn, record)
                return
            except MalformedEnvelope as malformed:
                error = malformed  # retrying cannot help
                break
            except Exception as failure:
                error = failure
                log.warning("%s: attempt %d at %s failed: %s", self.projection.name, attempt, _where(record), failure)
                await asyncio.sleep(self.retry_delay * attempt)
        assert error is not None
        await self._dead_letter(record, error, dead_letters)

    async def _apply(self, conn: AsyncConnection, record: ConsumerRecord) -> None:
        envelope = Envelope.from_kafka(record.value, record.headers)
        if envelope.type not in self.projection.handles:
            return
        with (
            continued_from(envelope.traceparent),
            tracer.start_as_current_span(
                f"{self.projection.name} process",
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "bw.event_type": envelope.type,
                    "bw.event_id": str(envelope.id),
                },
            ),
        ):
            if await self._first_time(conn, envelope):
                await self.projection.apply(conn, envelope)

    async def _first_time(self, conn: AsyncConnection, envelope: Envelope) -> bool:
        inserted = await conn.execute(
            sa.text(
                "INSERT INTO processed_events (consumer, event_id) VALUES (:consumer, :event_id) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"consumer": self.projection.name, "event_id": envelope.id},
        )
        return inserted.first() is not None

    async def _dead_letter(self, record: ConsumerRecord, error: BaseException, dead_letters: AIOKafkaProducer) -> None:
        log.error("%s: sending %s to %s: %s", self.projection.name, _where(record), self.dead_letter_topic, error)
        headers = [
            *record.headers,
            ("bw_error", str(error).encode()[:4000]),
            ("bw_error_type", type(error).__qualname__.encode()),
            ("bw_error_trace", "".join(traceback.format_exception(error)).encode()[-8000:]),
            ("bw_consumer", self.projection.name.encode()),
            ("bw_original_topic", record.topic.encode()),
            ("bw_original_partition", str(record.partition).encode()),
            ("bw_original_offset", str(record.offset).encode()),
        ]
        await dead_letters.send_and_wait(self.dead_letter_topic, value=record.value, key=record.key, headers=headers)
        try:
            envelope = Envelope.from_kafka(record.value, record.headers)
        except MalformedEnvelope:
            return  # no id to remember: a redelivery dead-letters it again, which is harmless
        async with self.engine.begin() as conn:
            await self._first_time(conn, envelope)


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
