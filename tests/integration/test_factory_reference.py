"""The factory reference each service keeps from the registry's events, against the real
PostgreSQL and Kafka: it learns the service package of a factory's enrollment, also for factories
enrolled before it knew to keep the package."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import sqlalchemy as sa
from betterwork_events.consumer import ProjectionRunner
from betterwork_events.contracts.factory_registry import FactoryEnrolled, FactoryEnrollmentApplied, ServicePackage
from betterwork_events.envelope import Envelope
from betterwork_events.errors import NotFound
from betterwork_events.factories import REFERENCE_CONSUMER, FactoryReference, known_factory
from betterwork_events.migrations import upgrade
from betterwork_events.relay import OutboxRelay
from betterwork_events.store import EventStore
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests import conftest as fixtures
from tests.support import eventually, read_topic, registered

ENROLLED_ON = dt.date(2026, 3, 2)


async def enroll(store: EventStore, factory_id: str, name: str, package: ServicePackage) -> None:
    await store.append(
        f"factory-{factory_id}",
        [
            registered(factory_id, name),
            FactoryEnrollmentApplied(factory_id=factory_id, country="KH"),
            FactoryEnrolled(factory_id=factory_id, country="KH", service_package=package, enrolled_on=ENROLLED_ON),
        ],
        0,
    )


@contextlib.asynccontextmanager
async def committee_database_at(revision: str) -> AsyncIterator[str]:
    """A committee database migrated only up to `revision`, as one deployed before a later release."""
    name = f"t_{fixtures.RUN}_reference_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(host="127.0.0.1", port=fixtures.PG_PORT, user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(upgrade, fixtures.MIGRATIONS["committee"], fixtures.pg_url(name), revision)
        yield fixtures.pg_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def reference_running(engine: AsyncEngine, kafka: str, topic_prefix: str) -> AsyncIterator[None]:
    reference = FactoryReference(name=f"{topic_prefix}committee.{REFERENCE_CONSUMER}")
    runner = ProjectionRunner(
        engine,
        kafka,
        reference,
        [f"{topic_prefix}factory-registry.events"],
        dead_letter_topic=f"{topic_prefix}committee.dead-letter",
    )
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def learnt_without_packages(engine: AsyncEngine, kafka: str, topic_prefix: str) -> None:
    """The reference as the release before this one left it: Angkor known as enrolled, every event
    of the topic applied and its offsets recorded."""
    consumer = f"{topic_prefix}committee.{REFERENCE_CONSUMER}"
    topic = f"{topic_prefix}factory-registry.events"
    records = [(r, Envelope.from_kafka(r.value, r.headers)) for r in await read_topic(kafka, topic)]
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO known_factories (id, name, country, enrollment, version) "
                "VALUES ('KH-2026-0042-5', 'Angkor Apparel Co., Ltd.', 'KH', 'enrolled', 3)"
            )
        )
        for record, envelope in records:
            await conn.execute(
                sa.text("INSERT INTO processed_events (consumer, event_id) VALUES (:consumer, :id)"),
                {"consumer": consumer, "id": envelope.id},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset) "
                    "VALUES (:consumer, :topic, :partition, :next) ON CONFLICT (consumer, topic, partition) "
                    "DO UPDATE SET next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset)"
                ),
                {"consumer": consumer, "topic": topic, "partition": record.partition, "next": record.offset + 1},
            )


async def package_of(engine: AsyncEngine, factory_id: str) -> ServicePackage | None:
    try:
        return (await known_factory(engine, factory_id)).service_package
    except NotFound:
        return None


async def test_a_reference_migrated_to_keep_service_packages_learns_them_again_from_the_start(
    create_database, kafka: str, topic_prefix: str
) -> None:
    registry_engine = create_async_engine(await create_database("factory-registry"))
    registry = EventStore(registry_engine, source="/betterwork/factory-registry")
    relay = OutboxRelay(registry, kafka, f"{topic_prefix}factory-registry.events")
    await enroll(registry, "KH-2026-0042-5", "Angkor Apparel Co., Ltd.", ServicePackage.CORE)
    await relay.publish_available()
    try:
        async with committee_database_at("0005") as url:
            engine = create_async_engine(url)
            try:
                await learnt_without_packages(engine, kafka, topic_prefix)

                await asyncio.to_thread(upgrade, fixtures.MIGRATIONS["committee"], url, "head")
                await enroll(registry, "KH-2026-0051-2", "Mekong Footwear Ltd.", ServicePackage.ASSESSMENT_ONLY)
                await relay.publish_available()

                async with reference_running(engine, kafka, topic_prefix):
                    await eventually(
                        lambda: _packages_are(engine, ServicePackage.CORE, ServicePackage.ASSESSMENT_ONLY),
                        what="the reference learning both factories' packages",
                    )

                angkor = await known_factory(engine, "KH-2026-0042-5")
                assert (angkor.name, angkor.enrollment) == ("Angkor Apparel Co., Ltd.", "enrolled")
                async with engine.connect() as conn:
                    versions = (await conn.execute(sa.text("SELECT DISTINCT version FROM known_factories"))).scalars()
                    assert set(versions) == {3}  # every event applied again, once, in order
            finally:
                await engine.dispose()
    finally:
        await registry.close()
        await registry_engine.dispose()


async def _packages_are(engine: AsyncEngine, angkor: ServicePackage, mekong: ServicePackage) -> bool:
    return (await package_of(engine, "KH-2026-0042-5"), await package_of(engine, "KH-2026-0051-2")) == (angkor, mekong)
