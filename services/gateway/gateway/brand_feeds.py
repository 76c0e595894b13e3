"""Brand feeds: the events each brand may see, forwarded to its own topic `brand.<brand id>.events`.

`BrandFeeds` is a projection, run by a `ProjectionRunner` (consumer group
`<prefix>gateway.brand-feeds`) over `assessment.events` and `factory-registry.events`, whose
effect is Kafka records rather than rows: for each event, `policy.brand_feed_recipients` names
the brands that receive it (from the read model's supplier links and consents, as of now: the
rule the GraphQL queries of brands use), and each gets its own copy,
`betterwork_events.brand_feed.BrandFeedEvent`, without what must stay inside the programme.

Exactly once in effect, as far as two systems that cannot commit together allow: `apply` runs
inside the runner's transaction, publishes (idempotent producer, acks=all) and waits for the
broker's acknowledgement; only then does the transaction record the event as processed
(processed_events, and the partition offset). A redelivered event that was recorded is skipped.
A crash between publishing and committing publishes the event again on restart, with the same
brand event id (a uuid5 of the brand and the original id), and brands ignore an id they have
seen: the AsyncAPI document tells them so.

Links and consents are learnt by another consumer (the factory directory) from another topic,
so without care a revocation could still be on its way into the read model when the next
assessment event is forwarded. Before deciding the recipients of an assessment event, the feed
therefore waits until the directory has applied everything on `factory-registry.events` at
that moment (`DirectoryCaughtUp`): whatever the registry had published by then, a revoked
consent or an ended link, is taken into account. If the directory stops, the feeds wait for it
rather than decide on stale links.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from betterwork_events import brand_feed, kafka
from betterwork_events.envelope import Envelope
from betterwork_events.tracing import tracer
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway import policy

log = logging.getLogger(__name__)


class DirectoryCaughtUp:
    """Waits until a projection has applied everything on a topic as it is at the moment of asking,
    judged by the offsets the projection commits with its read model (consumer_offsets)."""

    def __init__(
        self, engine: AsyncEngine, bootstrap: str, projection: str, topic: str, *, poll_seconds: float = 0.05
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.projection = projection
        self.topic = topic
        self.poll_seconds = poll_seconds
        self._offsets: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    @contextlib.asynccontextmanager
    async def started(self, producer: AIOKafkaProducer) -> AsyncIterator[None]:
        self._producer = producer  # knows the topic's partitions (and learns of new ones)
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, **kafka.client_options()
        )
        await self._offsets.start()
        try:
            yield
        finally:
            await self._offsets.stop()
            self._offsets = self._producer = None

    async def wait(self) -> None:
        assert self._offsets is not None and self._producer is not None, "use inside started()"
        partitions = [TopicPartition(self.topic, p) for p in sorted(await self._producer.partitions_for(self.topic))]
        published = await self._offsets.end_offsets(partitions)
        clock = asyncio.get_running_loop().time
        warn_at = clock() + 10
        while True:
            applied = await self._applied()
            behind = {tp.partition: end - applied.get(tp.partition, 0) for tp, end in published.items()}
            if all(lag <= 0 for lag in behind.values()):
                return
            if clock() > warn_at:
                log.warning("brand feeds wait for %s to apply %s (behind: %s)", self.projection, self.topic, behind)
                warn_at = clock() + 10
            await asyncio.sleep(self.poll_seconds)

    async def _applied(self) -> dict[int, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = :consumer AND topic = :topic"
                ),
                {"consumer": self.projection, "topic": self.topic},
            )
            return {row.partition: row.next_offset for row in rows}


class BrandFeeds:
    """Forwards to each brand's topic the events it may see (see the module's description)."""

    handles = brand_feed.TYPES

    def __init__(self, name: str, bootstrap: str, topic_prefix: str, directory: DirectoryCaughtUp) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.directory = directory
        self._producer: AIOKafkaProducer | None = None
        self._topics: set[str] = set()  # brand topics known to exist

    @contextlib.asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        """Open the producer (and the directory's watch) for as long as the runner consumes."""
        producer = kafka.producer(self.bootstrap)
        await producer.start()
        try:
            async with self.directory.started(producer):
                self._producer = producer
                yield
        finally:
            self._producer = None
            await producer.stop()

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        assert self._producer is not None, "run the feeds' runner inside publishing()"
        contract = event.contract()
        if isinstance(contract, brand_feed.ASSESSMENT_CONTRACTS):
            await self.directory.wait()
        # READ COMMITTED (the default): this statement sees what the directory committed meanwhile.
        recipients = list((await conn.execute(policy.brand_feed_recipients(contract))).scalars())
        sends = []
        for brand_id in recipients:
            copy = brand_feed.BrandFeedEvent.for_brand(event, brand_id)
            topic = await self._topic(brand_id)
            with tracer.start_as_current_span(
                f"{topic} publish",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "bw.event_type": copy.type,
                },
            ):
                sends.append(
                    await self._producer.send(
                        topic, value=copy.kafka_value(), key=copy.key.encode(), headers=copy.kafka_headers()
                    )
                )
        # Acknowledged by every in-sync replica before the runner commits the event as processed.
        await asyncio.gather(*sends)

    async def _topic(self, brand_id: str) -> str:
        topic = f"{self.topic_prefix}{brand_feed.topic(brand_id)}"
        if topic not in self._topics:
            await kafka.ensure_topics(self.bootstrap, topic)
            self._topics.add(topic)
        return topic
