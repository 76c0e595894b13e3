"""Consumers: apply events from Kafka to a read model, exactly once in effect.

A batch's read-model changes, its `processed_events` rows and the partition offset to resume
from commit in one transaction, so an event redelivered after a crash (or published twice by
the relay) is recognised by its id and changes nothing, and a read model dropped for a rebuild
is filled again from the beginning of the topics.

Two kinds of failure are told apart. The infrastructure failing (the database unreachable, a
connection dropped, the pool exhausted, the broker unavailable) says nothing about the event:
it is retried, with backoff, for as long as it lasts, and never dead-letters anything. An event
that fails on its own (a malformed envelope, data breaking its contract, a handler error while
the database answers) is retried a bounded number of times, then parked on the consumer's
dead-letter topic with the error; only once the dead-letter topic has it is it recorded as
processed. Nothing is dropped silently, and nothing is recorded that was neither applied nor parked.

Each runner has its own few database connections (`own_engine`), apart from the API's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from betterwork_events import kafka
from betterwork_events.envelope import Envelope, MalformedEnvelope
from betterwork_events.resilience import Backoff, is_transient, own_engine, retrying
from betterwork_events.tracing import continued_from, tracer

log = logging.getLogger(__name__)


class Projection(Protocol):
    """Builds a read model from events. `apply` must only use the connection it is given."""

    name: str  # the consumer group, and the key of its processed_events rows
    handles: frozenset[str]  # event types it applies; it acknowledges and ignores the rest

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None: ...


# Called with each batch of records in the transaction that records them processed (see `recording`).
Recorder = Callable[[AsyncConnection, Sequence[ConsumerRecord]], Awaitable[None]]


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
        max_retry_delay: float = 5.0,
        schema: str | None = None,
        recording: Recorder | None = None,
    ) -> None:
        self.engine = engine
        # Something to note of every record, atomically with its being processed (the gateway
        # notes where each event sits on Kafka, so queries can wait for a write to be applied).
        self.recording = recording
        # Its own connections: on the API's pool it would wait (and time out) behind requests, and they behind it.
        # With a `schema`, its tables (read model and bookkeeping) are those of that schema, found
        # before the default ones: a read model rebuilt beside the one serving (gateway.rebuild).
        search_path = None if schema is None else f'"{schema}", public'
        self.db = own_engine(engine, f"bw-consumer:{projection.name}", search_path=search_path)
        self.bootstrap = bootstrap
        self.projection = projection
        self.topics = list(topics)
        self.dead_letter_topic = dead_letter_topic
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay

    async def run(self) -> None:
        """Consume for ever; cancel the task to stop."""
        await kafka.ensure_topics(self.bootstrap, *self.topics, self.dead_letter_topic)
        consumer = kafka.consumer(self.bootstrap, self.projection.name)
        # Where to resume is the read model's own record, not the group's committed offsets: a
        # read model dropped for a rebuild starts again from the beginning of the topics.
        consumer.subscribe(self.topics, listener=_ResumeFromReadModel(self, consumer))
        dead_letters = kafka.producer(self.bootstrap)
        await dead_letters.start()
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batches.values():
                    await self.handle(records, dead_letters)
                if batches:
                    try:
                        await consumer.commit()  # for the operators' lag dashboards only
                    except Exception as error:  # the read model's own record is what counts
                        log.warning("%s: could not commit offsets to Kafka: %s", self.projection.name, error)
        finally:
            await consumer.stop()
            await dead_letters.stop()
            await self.db.dispose()

    async def handle(self, records: Sequence[ConsumerRecord], dead_letters: AIOKafkaProducer) -> None:
        """Apply a batch of one partition's records in one transaction, or one by one if that fails.

        While the infrastructure is what fails, the batch is tried again, for as long as it takes."""
        backoff = self._backoff()
        while True:
            try:
                async with self.db.begin() as conn:
                    await self._not_paused(conn)
                    for record in records:
                        await self._apply(conn, record)
                    await self._save_offset(conn, records)
                return
            except Exception as error:
                if not await self._infrastructure_failed(error):
                    log.warning("%s: batch failed (%s); applying its events one by one", self.projection.name, error)
                    break
                await self._wait_for_infrastructure(backoff, _where(records[0]), error)
        for record in records:
            await self._apply_alone(record, dead_letters)

    async def stored_offsets(self, partitions: Collection[TopicPartition]) -> dict[TopicPartition, int]:
        async def read() -> dict[TopicPartition, int]:
            async with self.db.connect() as conn:
                rows = await conn.execute(
                    sa.text("SELECT topic, partition, next_offset FROM consumer_offsets WHERE consumer = :consumer"),
                    {"consumer": self.projection.name},
                )
                return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}

        stored = await retrying(f"{self.projection.name}: reading its offsets", read, self._backoff())
        return {tp: stored[tp] for tp in partitions if tp in stored}

    def _backoff(self) -> Backoff:
        return Backoff(self.retry_delay, self.max_retry_delay)

    async def _infrastructure_failed(self, error: BaseException) -> bool:
        """Whether `error` is the database or the broker failing, not the events: by its kind, or
        because the database does not answer a trivial query either."""
        if is_transient(error):
            return True
        try:
            async with self.db.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception:
            return True
        return False

    async def _wait_for_infrastructure(self, backoff: Backoff, where: str, error: BaseException) -> None:
        delay = backoff.next_delay()
        log.warning("%s: unavailable at %s (%s); retrying in %.1fs", self.projection.name, where, error, delay)
        await asyncio.sleep(delay)

    async def _not_paused(self, conn: AsyncConnection) -> None:
        """First in each of its transactions: a share of the consumer's pause lock (`pause_lock`),
        so that whoever holds it exclusively finds no batch of this consumer half-applied, and
        holds off the next before it has written anything."""
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock_shared(hashtext(:key))"), {"key": pause_lock(self.projection.name)}
        )

    async def _save_offset(self, conn: AsyncConnection, records: Sequence[ConsumerRecord]) -> None:
        """Records processed: where to resume after the last of them (one partition's)."""
        if self.recording is not None:
            await self.recording(conn, records)
        record = records[-1]
        await conn.execute(
            sa.text(
                "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset) "
                "VALUES (:consumer, :topic, :partition, :next) ON CONFLICT (consumer, topic, partition) "
                "DO UPDATE SET next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset)"
            ),
            {
                "consumer": self.projection.name,
                "topic": record.topic,
                "partition": record.partition,
                "next": record.offset + 1,
            },
        )

    async def _apply_alone(self, record: ConsumerRecord, dead_letters: AIOKafkaProducer) -> None:
        backoff = self._backoff()
        failures = 0  # of this event itself; the infrastructure failing does not count
        while True:
            try:
                async with self.db.begin() as conn:
                    await self._not_paused(conn)
                    await self._apply(conn, record)
                    await self._save_offset(conn, [record])
                return
            except MalformedEnvelope as malformed:
                error: BaseException = malformed  # retrying cannot help
                break
            except Exception as failure:
                if await self._infrastructure_failed(failure):
                    await self._wait_for_infrastructure(backoff, _where(record), failure)
                    continue
                error = failure
                failures += 1
                log.warning("%s: attempt %d at %s failed: %s", self.projection.name, failures, _where(record), failure)
                if failures >= self.max_attempts:
                    break
                await asyncio.sleep(self.retry_delay * failures)
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

        async def park() -> None:
            await dead_letters.send_and_wait(
                self.dead_letter_topic, value=record.value, key=record.key, headers=headers
            )

        async def record_parked() -> None:
            async with self.db.begin() as conn:
                await self._not_paused(conn)
                with contextlib.suppress(MalformedEnvelope):  # without an id, the offset alone remembers it
                    await self._first_time(conn, Envelope.from_kafka(record.value, record.headers))
                await self._save_offset(conn, [record])

        # Recorded as processed only once the dead-letter topic has it (a failure in between parks it twice).
        await retrying(f"{self.projection.name}: dead-lettering {_where(record)}", park, self._backoff())
        await retrying(f"{self.projection.name}: recording {_where(record)} parked", record_parked, self._backoff())


def pause_lock(consumer: str) -> str:
    """The key of the advisory lock that pauses a consumer's transactions while held exclusively
    (e.g. by a read model's rebuild, switching tables under it: gateway.rebuild)."""
    return f"bw-consumer-pause:{consumer}"


class _ResumeFromReadModel(ConsumerRebalanceListener):
    def __init__(self, runner: ProjectionRunner, consumer: AIOKafkaConsumer) -> None:
        self.runner = runner
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        stored = await self.runner.stored_offsets(assigned)
        for tp in assigned:
            if tp in stored:
                self.consumer.seek(tp, stored[tp])
        fresh = [tp for tp in assigned if tp not in stored]
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
