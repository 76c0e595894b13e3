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

Complete, with no duplicates: a brand that comes to read a factory (its link or the factory's
consent arrives after the factory's reports were published) first receives, right after the
event that opened its view, every event of that factory it may now see, in the order the feeds
took them, then the live flow. For that the feeds keep the events brands may receive
(`brand_feed_backlog`, as they came), and which brand's topic was sent which
(`brand_feed_sent`): an event is sent to a brand once, by the backfill or live, even if its
consent is revoked and granted again, or the feeds are replayed. (The crash between publishing
and committing above is the one way a copy is sent twice, with the same id.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from betterwork_events import brand_feed, kafka
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import Envelope
from betterwork_events.tracing import tracer
from opentelemetry import trace
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway import policy

log = logging.getLogger(__name__)

# The feeds' own bookkeeping, not a read model (no query reads it; a read model rebuild leaves it
# alone, so that a brand is not sent everything again).
metadata = sa.MetaData()
# The events brands may receive, as the feeds took them: a brand that comes to read a factory
# later is sent the factory's from here.
backlog = sa.Table(
    "brand_feed_backlog",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),  # the Kafka headers, [name, text] pairs
)
# Which of them each brand's topic has been sent.
sent = sa.Table(
    "brand_feed_sent",
    metadata,
    sa.Column("brand_id", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
)
# The events that can open a brand's view of a factory: it may read the factory once both a link
# and the factory's consent are there, whichever comes second.
OPENING = (fr.BrandLinked, fr.ReportSharingConsentGranted)


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
        sends = []
        if isinstance(contract, brand_feed.ASSESSMENT_CONTRACTS):
            await self.directory.wait()
            await self._keep(conn, event, contract.factory_id)
            # READ COMMITTED (the default): this statement sees what the directory committed meanwhile.
            for brand_id in (await conn.execute(policy.brand_feed_recipients(contract))).scalars():
                if await self._first_time(conn, brand_id, event):
                    sends.append(await self._publish(brand_id, event))
        else:
            for brand_id in (await conn.execute(policy.brand_feed_recipients(contract))).scalars():
                sends.append(await self._publish(brand_id, event))
            if isinstance(contract, OPENING):
                await self.directory.wait()  # so that it knows of this link or consent
                for earlier in await self._backfill(conn, contract.brand_id, contract.factory_id):
                    if await self._first_time(conn, contract.brand_id, earlier):
                        sends.append(await self._publish(contract.brand_id, earlier))
        # Acknowledged by every in-sync replica before the runner commits the event as processed.
        await asyncio.gather(*sends)

    async def _keep(self, conn: AsyncConnection, event: Envelope, factory_id: str) -> None:
        headers = [[name, value.decode()] for name, value in event.kafka_headers()]
        row = {"event_id": event.id, "factory_id": factory_id, "value": event.kafka_value(), "headers": headers}
        await conn.execute(insert(backlog).values(row).on_conflict_do_nothing())

    async def _backfill(self, conn: AsyncConnection, brand_id: str, factory_id: str) -> list[Envelope]:
        """What the brand may read of the factory now and was not sent, in the order the feeds took it."""
        rows = await conn.execute(
            sa.select(backlog.c.value, backlog.c.headers)
            .where(backlog.c.factory_id == factory_id, policy.brand_reads_factory(brand_id, backlog.c.factory_id))
            .order_by(backlog.c.seq)
        )
        return [Envelope.from_kafka(r.value, [(name, text.encode()) for name, text in r.headers]) for r in rows]

    async def _first_time(self, conn: AsyncConnection, brand_id: str, event: Envelope) -> bool:
        recorded = await conn.execute(
            insert(sent).values(brand_id=brand_id, event_id=event.id).on_conflict_do_nothing().returning(sa.true())
        )
        return recorded.first() is not None

    async def _publish(self, brand_id: str, event: Envelope) -> asyncio.Future[object]:
        assert self._producer is not None
        copy = brand_feed.BrandFeedEvent.for_brand(event, brand_id)
        topic = await self._topic(brand_id)
        with tracer.start_as_current_span(
            f"{topic} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic, "bw.event_type": copy.type},
        ):
            return await self._producer.send(
                topic, value=copy.kafka_value(), key=copy.key.encode(), headers=copy.kafka_headers()
            )

    async def _topic(self, brand_id: str) -> str:
        topic = f"{self.topic_prefix}{brand_feed.topic(brand_id)}"
        if topic not in self._topics:
            await kafka.ensure_topics(self.bootstrap, topic)
            self._topics.add(topic)
        return topic
