"""The event store against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from betterwork_events.errors import InvalidRequest
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import eventually, registered, renamed


@pytest.fixture
async def store(create_database):
    engine = create_async_engine(await create_database("factory-registry"), pool_size=20)
    store = EventStore(engine, source="/betterwork/factory-registry")
    yield store
    await store.close()
    await engine.dispose()


async def test_a_stream_reads_back_in_order_with_its_envelope(store: EventStore) -> None:
    context = CommandContext(actor="programme:staff-7", correlation_id=uuid.uuid4())
    await store.append("factory-KH1", [registered("KH1")], expected_version=0, context=context)
    await store.append("factory-KH1", [renamed("KH1", "Angkor Apparel II")], expected_version=1)

    envelopes = await store.load("factory-KH1")

    assert [e.streamversion for e in envelopes] == [1, 2]
    assert [e.contract() for e in envelopes] == [registered("KH1"), renamed("KH1", "Angkor Apparel II")]
    first = envelopes[0]
    assert first.type == "org.betterwork.factory.registered.v1"
    assert first.subject == "factory-KH1"
    assert first.factoryid == "KH1"
    assert first.actor == "programme:staff-7"
    assert first.correlationid == context.correlation_id
    assert first.source == "/betterwork/factory-registry"
    assert envelopes[1].position > first.position


async def test_the_data_reads_back_exactly_as_appended(store: EventStore) -> None:
    event = registered("KH1", name='Ângkor Apparel \\u0000 "Two" 🧵', address="Phnom Penh\n(Khan Por Sen Chey)")
    await store.append("factory-KH1", [event], expected_version=0)

    (envelope,) = await store.load("factory-KH1")

    assert envelope.contract() == event
    assert envelope.kafka_value() == event.model_dump_json().encode()  # the relay publishes the stored text


async def test_text_with_a_nul_character_is_refused_and_nothing_is_appended(store: EventStore) -> None:
    # PostgreSQL text cannot hold NUL: stored in an event, it would fail every read model that copies it.
    with pytest.raises(InvalidRequest, match="NUL"):
        await store.append("factory-KH1", [registered("KH1"), renamed("KH1", "Angkor\x00")], expected_version=0)

    with pytest.raises(StreamNotFound):
        await store.load("factory-KH1")


async def test_unknown_stream_is_not_found(store: EventStore) -> None:
    with pytest.raises(StreamNotFound):
        await store.load("factory-nowhere")


async def test_concurrent_appends_at_one_version_exactly_one_wins(store: EventStore) -> None:
    await store.append("factory-KH2", [registered("KH2")], expected_version=0)

    results = await asyncio.gather(
        *(store.append("factory-KH2", [renamed("KH2", f"Name {i}")], expected_version=1) for i in range(20)),
        return_exceptions=True,
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, VersionConflict)]
    assert len(winners) == 1 and len(conflicts) == 19, results
    assert conflicts[0].actual_version == 2
    assert len(await store.load("factory-KH2")) == 2


async def test_a_stale_version_is_a_conflict_and_writes_nothing(store: EventStore) -> None:
    await store.append("factory-KH3", [registered("KH3")], expected_version=0)
    await store.append("factory-KH3", [renamed("KH3", "B")], expected_version=1)

    with pytest.raises(VersionConflict, match="has changed since version 1"):
        await store.append("factory-KH3", [renamed("KH3", "C"), renamed("KH3", "D")], expected_version=1)

    assert [e.contract().profile.name for e in (await store.load("factory-KH3"))[1:]] == ["B"]


async def test_appending_the_same_event_ids_again_changes_nothing(store: EventStore) -> None:
    ids = [uuid.uuid4()]
    first = await store.append("factory-KH4", [registered("KH4")], expected_version=0, event_ids=ids)
    again = await store.append("factory-KH4", [registered("KH4")], expected_version=0, event_ids=ids)

    assert not first.duplicate and again.duplicate
    assert again.stream_id == "factory-KH4" and again.version == 1
    assert len(await store.load("factory-KH4")) == 1


async def test_events_cannot_be_changed_or_deleted(store: EventStore) -> None:
    await store.append("factory-KH5", [registered("KH5")], expected_version=0)
    for statement in ("UPDATE events SET type = 'x'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(sa.text(statement))
    assert len(await store.load("factory-KH5")) == 1


async def test_read_all_holds_back_events_behind_an_open_transaction(store: EventStore) -> None:
    """A transaction that appended first but commits last must not be overtaken by a reader."""
    async with store.engine.connect() as slow:
        transaction = await slow.begin()
        await store.append("factory-early", [registered("early")], expected_version=0, connection=slow)
        await store.append("factory-late", [registered("late")], expected_version=0)  # commits first

        batch = await store.read_all()
        assert batch.events == [] and batch.held_back  # "late" waits for "early": nothing skipped

        await transaction.commit()

    # Transactions of other databases in the cluster hold the horizon too, briefly: wait them out.
    async def both_readable() -> bool:
        return len((await store.read_all()).events) == 2

    await eventually(both_readable, what="both events readable")
    batch = await store.read_all()
    assert [e.subject for e in batch.events] == ["factory-early", "factory-late"]
    assert (await store.read_all(batch.checkpoint)).events == []


async def test_appends_go_on_after_the_server_drops_the_stores_connections(store: EventStore) -> None:
    await asyncio.gather(
        *(store.append(f"factory-KH{n}", [registered(f"KH{n}")], expected_version=0) for n in range(4))
    )
    async with store.engine.connect() as admin:  # what a restarted server or a killed backend does
        await admin.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await asyncio.sleep(0.5)  # the closed sockets reach the client's event loop

    # No append meets a dropped connection: the store opens new ones.
    await asyncio.gather(
        *(store.append(f"factory-KH{n}", [registered(f"KH{n}")], expected_version=0) for n in range(4, 8))
    )

    assert [len(await store.load(f"factory-KH{n}")) for n in range(8)] == [1] * 8


async def test_an_append_cancelled_half_way_is_stopped_at_the_server_too(store: EventStore) -> None:
    """A caller that gives up on an append (a client gone, a timeout) must not find it committed later."""

    async def inserts_running() -> int:
        async with store.engine.connect() as conn:
            result = await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND query LIKE 'INSERT INTO events%'"
                )
            )
            return int(result.scalar_one())

    async with store.engine.connect() as first:
        transaction = await first.begin()
        await store.append("factory-KH8", [registered("KH8")], expected_version=0, connection=first)
        # Waits for the first transaction's uncommitted row with the same (stream, version).
        waiting = asyncio.create_task(store.append("factory-KH8", [registered("KH8")], expected_version=0))

        async def insert_waits() -> bool:
            return await inserts_running() == 1

        await eventually(insert_waits, what="the second append waiting at the server")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

        async def insert_stopped() -> bool:
            return await inserts_running() == 0

        await eventually(insert_stopped, what="the cancelled append stopped at the server")
        await transaction.rollback()

    results = await asyncio.gather(
        *(store.append(f"factory-KH{n}", [registered(f"KH{n}")], expected_version=0) for n in range(10, 30))
    )
    assert all(not r.duplicate for r in results)  # the store's connections work on
    with pytest.raises(StreamNotFound):
        await store.load("factory-KH8")
