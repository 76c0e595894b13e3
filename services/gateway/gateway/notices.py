"""What the read models have just committed, told to whoever listens in this process (subscriptions).

Wherever the projections run (in this process, in another replica, in a worker Deployment of
their own), every API process learns of their commits the same way: its `Watch` reads the topics
itself (every partition, from the latest offset, in no consumer group) and holds each event until
`consumer_offsets` shows that the projection of the read model it concerns has applied its
offset, then tells `Notices`. A listener told of an event can therefore read its effect with a
query at once, so a subscription delivers nothing a query could not show yet; and each API
replica tells its own subscriptions, once, whichever replica or worker applied the event.

Nothing waits without bound. A listener has a bounded queue; one that falls that far behind (a
client that stopped reading) is cut off with `FellBehind` rather than let memory grow or slow the
projections, which never wait for a listener. The watch holds at most `MOST_WAITING` events, each
for at most `wait_seconds`: a read model whose projection is stuck (or far behind) past either
bound ends its subscriptions in this process with `FellBehind`, and says so in the log, rather
than pile its events up for ever.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from betterwork_events import kafka
from betterwork_events.envelope import Envelope, MalformedEnvelope
from betterwork_events.resilience import own_engine
from betterwork_events.web import STOP_WITHIN_SECONDS, supervise
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.consistency import POLL_SECONDS
from gateway.read_models.projection import Consumer

log = logging.getLogger(__name__)

# Notices a listener may have waiting: far above a burst of one factory's events, small in memory.
QUEUE = 1_000
# Events the watch may hold for projections that have not applied them yet, all read models
# together: minutes of the programme's events at its busiest, a few megabytes.
MOST_WAITING = 10_000

_APPLIED = sa.text(
    'SELECT consumer, topic, "partition", next_offset FROM consumer_offsets '
    "WHERE consumer = ANY(CAST(:consumers AS text[]))"
)


@dataclass(frozen=True)
class Notice:
    read_model: str  # the projection's name, e.g. "assessment-reports"
    event: Envelope


class FellBehind(Exception):
    pass


class Listener:
    def __init__(self, read_models: frozenset[str]) -> None:
        self.read_models = read_models
        self.queue: asyncio.Queue[Notice | FellBehind] = asyncio.Queue(QUEUE + 1)

    async def __aiter__(self) -> AsyncIterator[Notice]:
        while not isinstance(notice := await self.queue.get(), FellBehind):
            yield notice
        raise notice


class Notices:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self._listened: collections.Counter[str] = collections.Counter()  # listeners of each read model

    def committed(self, read_model: str) -> Callable[[Sequence[Envelope]], None]:
        """What tells this read model's listeners of events it has committed."""

        def tell(events: Sequence[Envelope]) -> None:
            for listener in self._of(read_model):
                for event in events:
                    if listener.queue.qsize() >= QUEUE:
                        self._cut_off(
                            listener, FellBehind(f"more than {QUEUE} events were waiting for this subscription")
                        )
                        break
                    listener.queue.put_nowait(Notice(read_model, event))

        return tell

    def missed(self, read_model: str, why: FellBehind) -> None:
        """This read model's listeners cannot be told all it commits: they are cut off, told why."""
        for listener in self._of(read_model):
            self._cut_off(listener, why)

    def listened(self, read_model: str) -> bool:
        return self._listened[read_model] > 0

    @contextlib.contextmanager
    def listening(self, *read_models: str) -> Iterator[Listener]:
        listener = Listener(frozenset(read_models))
        self._listeners.add(listener)
        self._listened.update(listener.read_models)
        try:
            yield listener
        finally:
            self._drop(listener)

    def _of(self, read_model: str) -> list[Listener]:
        return [listener for listener in self._listeners if read_model in listener.read_models]

    def _cut_off(self, listener: Listener, why: FellBehind) -> None:
        listener.queue.put_nowait(why)  # a listener holds at most QUEUE notices: the one slot kept for this
        self._drop(listener)

    def _drop(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.discard(listener)
            self._listened.subtract(listener.read_models)


@dataclass(frozen=True)
class _Waiting:
    offset: int
    event: Envelope
    since: float  # when the watch heard of it (the event loop's clock)


class Watch:
    """Tells `notices` of each event of `topics` once the projection of a read model that listeners
    follow has applied it (see the module's description)."""

    def __init__(
        self,
        notices: Notices,
        engine: AsyncEngine,
        bootstrap: str,
        topics: Sequence[str],
        read_models: Mapping[str, Consumer],
        *,
        wait_seconds: float,
    ) -> None:
        self.notices = notices
        self.db = own_engine(engine, "bw-subscriptions-watch")
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.consumers = {read_model: consumer.name for read_model, consumer in read_models.items()}
        self.readers: dict[str, list[str]] = collections.defaultdict(list)  # event type → read models applying it
        for read_model, consumer in read_models.items():
            for event_type in consumer.handles:
                self.readers[event_type].append(read_model)
        self.wait_seconds = wait_seconds
        self.most_waiting = MOST_WAITING
        # Set once the watch has its place on every partition: whatever is published from then on is heard.
        self.listening = asyncio.Event()
        self._next: dict[TopicPartition, int] = {}  # where to read on, kept when the watch restarts
        self._waiting: dict[tuple[str, TopicPartition], collections.deque[_Waiting]] = {}  # in offset order
        self._count = 0
        self._told: collections.OrderedDict[tuple[str, uuid.UUID], None] = collections.OrderedDict()
        self._look = asyncio.Event()

    def look(self, _: Sequence[Envelope] = ()) -> None:
        """A projection of this process has committed (its runner's `on_committed`): look at once,
        not at the next poll, so that with the projections inline this is as quick as telling the
        listeners directly, and one path serves every way the gateway is deployed."""
        self._look.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Watch (supervised: restarted when Kafka or the database fails) while inside."""
        task = asyncio.create_task(supervise("subscriptions' watch", self.run), name="subscriptions' watch")
        try:
            yield
        finally:
            task.cancel()
            if (await asyncio.wait([task], timeout=STOP_WITHIN_SECONDS))[1]:
                log.error("the subscriptions' watch did not stop within %s s of being cancelled", STOP_WITHIN_SECONDS)
            await self.db.dispose()

    async def run(self) -> None:
        await kafka.ensure_topics(self.bootstrap, *self.topics)
        # No consumer group: each process reads every partition, commits nothing and never joins
        # (or rebalances) the projections' groups.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            **kafka.client_options(),
        )
        await consumer.start()
        try:
            await self._take_place(consumer)
            async with asyncio.TaskGroup() as both:
                both.create_task(self._hearing(consumer))
                both.create_task(self._releasing())
        finally:
            await consumer.stop()

    async def _take_place(self, consumer: AIOKafkaConsumer) -> None:
        """On every partition: where it stopped before a restart, or the latest offset (what was
        published before the process started concerns no subscription of it)."""
        partitions = await self._partitions()
        consumer.assign(partitions)
        if fresh := [tp for tp in partitions if tp not in self._next]:
            self._next |= await consumer.end_offsets(fresh)
        for tp in partitions:
            consumer.seek(tp, self._next[tp])
        self.listening.set()

    async def _partitions(self) -> list[TopicPartition]:
        # A producer waits for a topic's metadata (a consumer assigned nothing yet would not learn it).
        metadata = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **kafka.client_options())
        await metadata.start()
        try:
            return [TopicPartition(t, p) for t in self.topics for p in sorted(await metadata.partitions_for(t))]
        finally:
            await metadata.stop()

    async def _hearing(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                for record in records:
                    self._heard(record)
            if self._count:
                self._look.set()  # its projection may have applied it already

    def _heard(self, record: ConsumerRecord) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self._next[tp] = record.offset + 1
        event_type = next((raw.decode() for name, raw in record.headers if name == "ce_type"), "")
        readers = [read_model for read_model in self.readers.get(event_type, ()) if self.notices.listened(read_model)]
        if not readers:
            return  # nobody here listens: nothing to hold
        try:
            event = Envelope.from_kafka(record.value, record.headers)
        except MalformedEnvelope:
            return  # its projection parks it on the dead-letter topic: it never becomes readable
        now = asyncio.get_running_loop().time()
        for read_model in readers:
            if self._count >= self.most_waiting:
                oldest = min(self._waiting, key=lambda key: self._waiting[key][0].since)
                self._give_up(oldest, f"{self.most_waiting} events were waiting for read models to apply them")
            if self.notices.listened(read_model):
                self._waiting.setdefault((read_model, tp), collections.deque()).append(
                    _Waiting(record.offset, event, now)
                )
                self._count += 1

    async def _releasing(self) -> None:
        clock = asyncio.get_running_loop().time
        while True:
            if self._count:  # poll while something waits, for projections that run elsewhere
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._look.wait()
            else:
                await self._look.wait()
            self._look.clear()
            if self._count:
                self._release(await self._applied())
                self._expire(clock())

    async def _applied(self) -> dict[tuple[str, TopicPartition], int]:
        """For each consumer waited on and partition, the offset it has applied up to (excluded)."""
        consumers = sorted({self.consumers[read_model] for read_model, _ in self._waiting})
        async with self.db.connect() as conn:
            rows = await conn.execute(_APPLIED, {"consumers": consumers})
        return {(r.consumer, TopicPartition(r.topic, r.partition)): r.next_offset for r in rows}

    def _release(self, applied: Mapping[tuple[str, TopicPartition], int]) -> None:
        for key in list(self._waiting):
            read_model, tp = key
            waiting, upto = self._waiting[key], applied.get((self.consumers[read_model], tp), 0)
            ready = []
            while waiting and waiting[0].offset < upto:
                ready.append(waiting.popleft().event)
            if not waiting:
                del self._waiting[key]
            self._count -= len(ready)
            self._tell(read_model, ready)

    def _tell(self, read_model: str, events: Sequence[Envelope]) -> None:
        """Each event once, though the relay (at least once) may have published it twice."""
        fresh = [event for event in events if (read_model, event.id) not in self._told]
        for event in fresh:
            self._told[(read_model, event.id)] = None
        while len(self._told) > MOST_WAITING:
            self._told.popitem(last=False)
        if fresh:
            self.notices.committed(read_model)(fresh)

    def _expire(self, now: float) -> None:
        for key in list(self._waiting):
            if key in self._waiting and now - self._waiting[key][0].since > self.wait_seconds:
                self._give_up(key, f"an event waited more than {self.wait_seconds:g} s for it")

    def _give_up(self, key: tuple[str, TopicPartition], why: str) -> None:
        """The read model of `key` is behind past a bound: its events are dropped and its listeners cut off."""
        read_model, tp = key
        first = self._waiting[key][0]
        dropped = sum(len(self._waiting.pop(k)) for k in [k for k in self._waiting if k[0] == read_model])
        self._count -= dropped
        log.warning(
            "subscriptions: %s has not applied %s[%d]@%d (%s); the subscriptions to %s in this process end "
            "with FELL_BEHIND and its %d waiting events are dropped",
            self.consumers[read_model], tp.topic, tp.partition, first.offset, why, read_model, dropped,
        )  # fmt: skip
        self.notices.missed(read_model, FellBehind(f"the read model {read_model} is behind ({why})"))
