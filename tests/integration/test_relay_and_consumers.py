"""The outbox relay and the consumer runtime against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import asyncpg
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from betterwork_events.consumer import ProjectionRunner
from betterwork_events.contracts.factory_registry import FactoryProfileUpdated, FactoryRegistered
from betterwork_events.envelope import Envelope
from betterwork_events.relay import OutboxRelay
from betterwork_events.resilience import is_transient
from betterwork_events.store import EventStore
from betterwork_events.web import supervise
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.conftest import PG_PORT
from tests.support import eventually, read_topic, registered, renamed


class TimesApplied:
    """A deliberately non-idempotent read model: it counts how often each event was applied."""

    handles = frozenset({FactoryRegistered.event_type, FactoryProfileUpdated.event_type})

    def __init__(self, name: str, slow: float = 0.0, fail_on: set[str] | None = None) -> None:
        self.name = name
        self.slow = slow
        self.fail_on = fail_on or set()
        self.attempts: dict[str, int] = defaultdict(int)

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        contract = event.contract()  # invalid data raises here, as in a real projection
        self.attempts[event.subject] += 1
        if event.subject in self.fail_on:
            raise RuntimeError(f"cannot project {event.subject}")
        await conn.execute(
            sa.text(
                "INSERT INTO times_applied (event_id, stream_id, times) VALUES (:id, :stream, 1) "
                "ON CONFLICT (event_id) DO UPDATE SET times = times_applied.times + 1"
            ),
            {"id": event.id, "stream": contract.factory_id},
        )
        if self.slow:
            await asyncio.sleep(self.slow)


@pytest.fixture
async def store(create_database):
    engine = create_async_engine(await create_database("factory-registry"), pool_size=40, max_overflow=0)
    store = EventStore(engine, source="/betterwork/factory-registry")
    yield store
    await store.close()
    await engine.dispose()


@pytest.fixture
async def read_model(create_database) -> AsyncEngine:
    engine = create_async_engine(await create_database("gateway"))
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE TABLE times_applied (event_id uuid PRIMARY KEY, stream_id text NOT NULL, times int NOT NULL)"
            )
        )
    yield engine
    await engine.dispose()


async def times_applied(engine: AsyncEngine) -> dict[uuid.UUID, int]:
    async with engine.connect() as conn:
        return {row[0]: row[1] for row in await conn.execute(sa.text("SELECT event_id, times FROM times_applied"))}


async def write_factory_history(store: EventStore, factory_id: str, renames: int) -> list[uuid.UUID]:
    """One factory's stream, each append in a transaction that lingers, so commits interleave."""
    events = [registered(factory_id, "Saigon Stitch", "VN", "Binh Duong")]
    events += [renamed(factory_id, f"Saigon Stitch {i}", "VN", "Binh Duong") for i in range(renames)]
    ids = []
    for version, event in enumerate(events):
        async with store.engine.connect() as conn, conn.begin():
            appended = await store.append(f"factory-{factory_id}", [event], version, connection=conn)
            await asyncio.sleep(random.uniform(0, 0.01))
        ids += appended.event_ids
    return ids


async def test_every_event_of_many_concurrent_writers_reaches_kafka_and_the_read_model_once(
    store: EventStore, read_model: AsyncEngine, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    relay = OutboxRelay(store, kafka, topic, batch_size=50)
    projection = TimesApplied(f"{topic_prefix}times-applied")
    runner = ProjectionRunner(read_model, kafka, projection, [topic], dead_letter_topic=f"{topic_prefix}dead-letter")
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    try:
        written = await asyncio.gather(*(write_factory_history(store, f"VN-{w:03}", renames=14) for w in range(30)))
        all_ids = {event_id for ids in written for event_id in ids}
        assert len(all_ids) == 30 * 15

        async def all_applied() -> bool:
            return len(await times_applied(read_model)) == len(all_ids)

        await eventually(all_applied, within=60, what="every event reaching the read model")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    applied = await times_applied(read_model)
    assert set(applied) == all_ids
    assert set(applied.values()) == {1}

    published = [(r.partition, Envelope.from_kafka(r.value, r.headers)) for r in await read_topic(kafka, topic)]
    assert {envelope.id for _, envelope in published} == all_ids
    by_factory: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for partition, envelope in published:
        by_factory[envelope.factoryid or ""].append((partition, envelope.streamversion))
    for factory, seen in by_factory.items():
        assert len({partition for partition, _ in seen}) == 1, f"{factory} spread over partitions"
        versions = [version for _, version in seen]
        assert versions == sorted(versions), f"{factory} out of order: {versions}"


async def test_a_consumer_killed_mid_batch_and_restarted_applies_nothing_twice(
    store: EventStore, read_model: AsyncEngine, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    for w in range(10):
        events = [registered(f"BD-{w}", "Dhaka Knit", "BD", "Gazipur")]
        events += [renamed(f"BD-{w}", f"Dhaka Knit {i}", "BD", "Gazipur") for i in range(59)]
        await store.append(f"factory-BD-{w}", events, expected_version=0)
    assert await OutboxRelay(store, kafka, topic).publish_available() == 600

    projection = TimesApplied(f"{topic_prefix}times-applied", slow=0.002)
    kills = 0
    while (done := len(await times_applied(read_model))) < 600:
        runner = ProjectionRunner(
            read_model, kafka, projection, [topic], dead_letter_topic=f"{topic_prefix}dead-letter"
        )
        task = asyncio.create_task(runner.run())
        # Let it commit one more batch, then kill it a moment later: inside its next batch, or
        # between that batch's commit and its offsets reaching Kafka.
        await eventually(lambda: _more_than(read_model, done), within=60, what="the consumer making progress")
        await asyncio.sleep(random.uniform(0, 0.3))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        kills += 1

    applied = await times_applied(read_model)
    assert len(applied) == 600
    assert set(applied.values()) == {1}
    assert kills > 1  # it really was killed part-way and restarted
    assert sum(projection.attempts.values()) > 600  # and some events were delivered again


async def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_rest_are_applied(
    store: EventStore, read_model: AsyncEngine, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    dead_letter_topic = f"{topic_prefix}dead-letter"
    for factory_id in ["ET-1", "ET-2", "ET-3"]:
        event = registered(factory_id, "Hawassa Garments", "ET", "Hawassa")
        await store.append(f"factory-{factory_id}", [event], expected_version=0)
    await OutboxRelay(store, kafka, topic).publish_available()

    # Two more that no projection can apply: bytes that are not an event, and data breaking its contract.
    good = (await store.load("factory-ET-1"))[0]
    broken = replace(good, id=uuid.uuid4(), subject="factory-ET-9", data_json='{"factory_id": "ET-9"}')
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    await producer.send_and_wait(topic, b"{not json", key=b"ET-8", headers=[("ce_type", good.type.encode())])
    await producer.send_and_wait(topic, broken.kafka_value(), key=b"ET-9", headers=broken.kafka_headers())
    await producer.stop()

    projection = TimesApplied(f"{topic_prefix}times-applied", fail_on={"factory-ET-2"})
    runner = ProjectionRunner(
        read_model, kafka, projection, [topic], dead_letter_topic=dead_letter_topic, retry_delay=0.01
    )
    task = asyncio.create_task(runner.run())
    try:

        async def three_dead_letters() -> bool:
            return len(await read_topic(kafka, dead_letter_topic)) >= 3

        await eventually(three_dead_letters, within=60, what="three dead letters")
        await eventually(lambda: _applied_streams_are(read_model, {"ET-1", "ET-3"}), what="the good events applied")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    errors = {record.key: dict(record.headers) for record in await read_topic(kafka, dead_letter_topic)}
    assert set(errors) == {b"ET-2", b"ET-8", b"ET-9"}
    assert errors[b"ET-2"]["bw_error"] == b"cannot project factory-ET-2"
    assert errors[b"ET-8"]["bw_error_type"] == b"MalformedEnvelope"
    assert errors[b"ET-9"]["bw_error_type"] == b"InvalidEventData"
    assert errors[b"ET-9"]["bw_original_topic"] == topic.encode()
    assert projection.attempts["factory-ET-2"] >= 3  # bounded retries came first


async def _applied_streams_are(engine: AsyncEngine, expected: set[str]) -> bool:
    async with engine.connect() as conn:
        return {row[0] for row in await conn.execute(sa.text("SELECT stream_id FROM times_applied"))} == expected


async def test_a_read_model_dropped_for_a_rebuild_is_filled_again_from_the_start(
    store: EventStore, read_model: AsyncEngine, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    for w in range(5):
        await store.append(f"factory-LK-{w}", [registered(f"LK-{w}", "Katunayake Knits", "LK", "Katunayake")], 0)
    await OutboxRelay(store, kafka, topic).publish_available()
    projection = TimesApplied(f"{topic_prefix}times-applied")

    async def run_until_applied(count: int) -> None:
        runner = ProjectionRunner(
            read_model, kafka, projection, [topic], dead_letter_topic=f"{topic_prefix}dead-letter"
        )
        task = asyncio.create_task(runner.run())
        try:
            await eventually(lambda: _count_is(read_model, count), what=f"{count} events applied")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    await run_until_applied(5)
    async with read_model.begin() as conn:  # drop the read model, as an operator rebuilding it would
        await conn.execute(sa.text("TRUNCATE times_applied, processed_events, consumer_offsets"))

    await run_until_applied(5)  # the same consumer group, yet everything is applied again

    assert set((await times_applied(read_model)).values()) == {1}


async def _more_than(engine: AsyncEngine, count: int) -> bool:
    return len(await times_applied(engine)) > count


async def _count_is(engine: AsyncEngine, count: int) -> bool:
    return len(await times_applied(engine)) == count


async def test_the_relay_wakes_on_notification_not_on_its_poll(
    store: EventStore, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    relay = OutboxRelay(store, kafka, topic, idle_wait=3600)  # its poll would not come in this test's lifetime
    task = asyncio.create_task(relay.run())
    try:
        # The first may be published by the relay's start-up read; the later ones only if the
        # relay, idle, is woken by the notification that follows each append.
        for appended, factory_id in enumerate(["PK-1", "PK-2", "PK-3"], start=1):
            await store.append(
                f"factory-{factory_id}", [registered(factory_id, "Sialkot Sportswear", "PK", "Sialkot")], 0
            )

            async def published(count: int = appended) -> bool:
                return len(await read_topic(kafka, topic)) == count

            await eventually(published, what=f"event {appended} published after a notification")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_of_several_relays_one_publishes_and_another_takes_over_when_it_goes(
    store: EventStore, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    replicas = [OutboxRelay(store, kafka, topic) for _ in range(3)]
    relays = {relay: asyncio.create_task(relay.run()) for relay in replicas}
    try:
        for i in range(20):
            await store.append(
                f"factory-JO-{i}", [registered(f"JO-{i}", "Irbid Garments", "JO", "Al-Hassan Industrial Estate")], 0
            )
        await eventually(lambda: _published_at_least(kafka, topic, 20), what="20 events published")
        [leader] = [relay for relay in replicas if relay.leading]
        # Stopped after saving its checkpoint: a leader stopped between publishing and saving
        # would rightly have its last batch published again (at least once), which is not this test.
        last = (await store.load("factory-JO-19"))[-1].position
        await eventually(lambda: _checkpoint_reached(leader, last), what="the leader's checkpoint saved")
        relays[leader].cancel()
        await asyncio.gather(relays.pop(leader), return_exceptions=True)

        await store.append("factory-JO-20", [registered("JO-20", "Sahab Knitwear", "JO", "Sahab")], 0)
        await eventually(lambda: _published_at_least(kafka, topic, 21), what="a standby relay taking over")
    finally:
        for task in relays.values():
            task.cancel()
        await asyncio.gather(*relays.values(), return_exceptions=True)

    published = [Envelope.from_kafka(r.value, r.headers).id for r in await read_topic(kafka, topic)]
    assert len(published) == len(set(published)) == 21  # nothing published twice by two leaders


async def _checkpoint_reached(relay: OutboxRelay, position: int) -> bool:
    return (await relay.checkpoint()).position >= position


async def _published_at_least(bootstrap: str, topic: str, count: int) -> bool:
    return len(await read_topic(bootstrap, topic)) >= count


@pytest.fixture
async def server() -> asyncpg.Connection:
    """A connection to the shared server's maintenance database, to act on this test's own databases only."""
    admin = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", database="postgres")
    yield admin
    await admin.close()


async def drop_sessions(server: asyncpg.Connection, database: str) -> None:
    """What a PostgreSQL restart does to the sessions of one database (here only the test's own)."""
    await server.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )


async def test_a_read_model_database_refusing_connections_is_waited_out_and_nothing_is_dead_lettered(
    store: EventStore, read_model: AsyncEngine, kafka: str, topic_prefix: str, server: asyncpg.Connection
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    dead_letter_topic = f"{topic_prefix}dead-letter"
    relay = OutboxRelay(store, kafka, topic)
    projection = TimesApplied(f"{topic_prefix}times-applied")
    # Quick retries, as a poison event gets: an outage must not be mistaken for one however quick they are.
    runner = ProjectionRunner(
        read_model, kafka, projection, [topic], dead_letter_topic=dead_letter_topic, retry_delay=0.01
    )
    task = asyncio.create_task(supervise("times applied", runner.run))  # as the services run it
    database = read_model.url.database
    assert database is not None
    ids = []
    try:
        appended = await store.append("factory-MM-0", [registered("MM-0", "Yangon Apparel", "MM", "Hlaing")], 0)
        ids += appended.event_ids
        await relay.publish_available()
        await eventually(lambda: _count_is(read_model, 1), within=60, what="the first event applied")

        # The read model's database goes away: it refuses every connection, and its sessions end.
        await server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await drop_sessions(server, database)
        try:
            for i in range(1, 21):
                event = registered(f"MM-{i}", "Yangon Apparel", "MM", "Hlaing")
                ids += (await store.append(f"factory-MM-{i}", [event], 0)).event_ids
            await relay.publish_available()
            await asyncio.sleep(3)  # the outage lasts a while, with events waiting on the topic
        finally:
            await server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await read_model.dispose()  # the test's own pooled connections ended with the sessions

        await eventually(lambda: _count_is(read_model, 21), within=60, what="every event applied after the outage")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    applied = await times_applied(read_model)
    assert set(applied) == set(ids)
    assert set(applied.values()) == {1}
    assert await read_topic(kafka, dead_letter_topic) == []


async def test_relays_whose_sessions_are_dropped_take_back_one_lock_and_their_wake_up(
    store: EventStore, kafka: str, topic_prefix: str, server: asyncpg.Connection
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    database = store.engine.url.database
    assert database is not None
    # Their poll would not come in this test's lifetime: only NOTIFY can wake them.
    replicas = [OutboxRelay(store, kafka, topic, idle_wait=3600) for _ in range(2)]
    relays = [asyncio.create_task(relay.run()) for relay in replicas]
    appended: list[uuid.UUID] = []
    stop = asyncio.Event()

    async def append_steadily() -> None:
        """A client appending all along, retrying (with the same event ids) what a dropped session failed."""
        versions: dict[str, int] = defaultdict(int)
        for i in itertools.count():
            if stop.is_set():
                return
            factory_id = f"TR-{i % 5}"
            version = versions[factory_id]
            event = (
                registered(factory_id, "Istanbul Denim", "TR", "Esenyurt")
                if version == 0
                else renamed(factory_id, f"Istanbul Denim {version}", "TR", "Esenyurt")
            )
            event_ids = [uuid.uuid4()]
            while True:
                try:
                    await store.append(f"factory-{factory_id}", [event], version, event_ids=event_ids)
                    break
                except Exception as error:
                    if not is_transient(error):
                        raise
                    await asyncio.sleep(0.05)
            versions[factory_id] += 1
            appended.extend(event_ids)
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(append_steadily())
    try:
        await eventually(lambda: _published_ids_include(kafka, topic, appended[:10]), what="the first events")
        for _ in range(2):
            await drop_sessions(server, database)
            after = len(appended)
            await eventually(lambda: _at_least(appended, after + 10), what="more appends")  # noqa: B023
            await eventually(
                lambda: _published_ids_include(kafka, topic, appended[: after + 10]),  # noqa: B023
                what="publishing going on after the sessions were dropped",
            )
        stop.set()
        await writer
        await eventually(lambda: _published_ids_include(kafka, topic, appended), what="every append published")

        await eventually(lambda: _advisory_locks_held(server, database, 1), what="exactly one relay holding the lock")
        assert [relay.leading for relay in replicas].count(True) == 1

        # Idle now, the leader must be woken by the next append's notification.
        late = await store.append("factory-TR-9", [registered("TR-9", "Bursa Textiles", "TR", "Bursa")], 0)
        await eventually(lambda: _published_ids_include(kafka, topic, late.event_ids), what="a wake-up by NOTIFY")
    finally:
        stop.set()
        for task in [writer, *relays]:
            task.cancel()
        await asyncio.gather(writer, *relays, return_exceptions=True)

    # At least once, and in order per factory: each event first appears after its predecessors.
    first_seen: dict[str, list[int]] = defaultdict(list)
    seen: set[uuid.UUID] = set()
    for record in await read_topic(kafka, topic):
        envelope = Envelope.from_kafka(record.value, record.headers)
        if envelope.id not in seen:
            seen.add(envelope.id)
            first_seen[envelope.subject].append(envelope.streamversion)
    assert seen == {*appended, *late.event_ids}
    for stream, versions in first_seen.items():
        assert versions == list(range(1, len(versions) + 1)), f"{stream} out of order: {versions}"


async def _published_ids_include(bootstrap: str, topic: str, ids: Sequence[uuid.UUID]) -> bool:
    published = {Envelope.from_kafka(r.value, r.headers).id for r in await read_topic(bootstrap, topic)}
    return set(ids) <= published


async def _advisory_locks_held(server: asyncpg.Connection, database: str, count: int) -> bool:
    held = await server.fetchval(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1",
        database,
    )
    return bool(held == count)


async def _at_least(items: Sequence[object], count: int) -> bool:
    return len(items) >= count


async def test_the_relay_and_a_consumer_work_on_while_the_api_pool_is_exhausted(
    store: EventStore, read_model: AsyncEngine, kafka: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}factory-registry.events"
    # The API's engines, each with one connection, which a long request holds all along.
    api_store_engine = create_async_engine(store.engine.url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    api_read_engine = create_async_engine(read_model.url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    api_store = EventStore(api_store_engine, source=store.source)
    relay = OutboxRelay(api_store, kafka, topic)
    projection = TimesApplied(f"{topic_prefix}times-applied")
    runner = ProjectionRunner(
        api_read_engine, kafka, projection, [topic], dead_letter_topic=f"{topic_prefix}dead-letter"
    )
    async with api_store_engine.connect() as held_store, api_read_engine.connect() as held_read:
        await held_store.execute(sa.text("SELECT 1"))
        await held_read.execute(sa.text("SELECT 1"))
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
        try:
            for i in range(5):
                await api_store.append(f"factory-KE-{i}", [registered(f"KE-{i}", "Athi River EPZ", "KE", "Nairobi")], 0)
            await eventually(lambda: _count_is(read_model, 5), within=60, what="every event applied")
            assert not [task for task in tasks if task.done()]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    await api_store.close()
    await api_store_engine.dispose()
    await api_read_engine.dispose()
