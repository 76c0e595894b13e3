"""When a consistency token counts as applied, against the gateway's real database: per partition,
and only once every read model reading the service's topic has passed the event."""

from __future__ import annotations

import sqlalchemy as sa
from aiokafka import ConsumerRecord
from gateway.consistency import Consistency, Token
from sqlalchemy.ext.asyncio import create_async_engine

TOPIC = "factory-registry.events"
DIRECTORY, HISTORY = "gateway.factory-directory", "gateway.factory-history"


def record(partition: int, offset: int, position: int) -> ConsumerRecord:
    return ConsumerRecord(
        TOPIC, partition, offset, 0, 0, b"KH-1", b"{}", None, 0, 0, [("ce_position", str(position).encode())]
    )


async def test_a_token_waits_for_its_own_partition_and_every_reader(create_database) -> None:
    engine = create_async_engine(await create_database("gateway"))
    consistency = Consistency(engine, {"factory-registry": TOPIC}, {TOPIC: [DIRECTORY, HISTORY]}, wait_seconds=0.2)
    assert consistency.recorder(HISTORY) is None  # one reader per topic notes where events sit
    note = consistency.recorder(DIRECTORY)
    assert note is not None

    async def processed(consumer: str, partition: int, next_offset: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset) VALUES (:c, :t, :p, :n) "
                    "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset"
                ),
                {"c": consumer, "t": TOPIC, "p": partition, "n": next_offset},
            )

    # Angkor's events are in partition 0, Mekong's in partition 1; position 7 (Mekong's) was
    # committed, and published, after position 9 (Angkor's).
    async with engine.begin() as conn:
        await note(conn, [record(0, 0, 5), record(0, 1, 9)])
    await processed(DIRECTORY, 0, 2)
    await processed(HISTORY, 0, 2)
    mekong = Token("factory-registry", 7)
    assert not await consistency.applied(mekong)  # a higher position applied elsewhere says nothing of it
    assert await consistency.wait([mekong, Token("factory-registry", 9)]) == [mekong]

    async with engine.begin() as conn:
        await note(conn, [record(1, 0, 7)])
    await processed(DIRECTORY, 1, 1)
    assert not await consistency.applied(mekong)  # the history has not applied it yet
    await processed(HISTORY, 1, 1)
    assert await consistency.applied(mekong)
    assert await consistency.wait([mekong, Token("factory-registry", 5)]) == []

    async with engine.begin() as conn:  # the relay published position 7 again (at least once): nothing changes
        await note(conn, [record(1, 3, 7)])
    assert await consistency.applied(mekong)
    await engine.dispose()
