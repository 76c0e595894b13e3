"""Read-your-writes: a query that presents consistency tokens waits until the read models show those writes.

Every command a service accepts answers a token `<service>:<global position>` naming the last
event its answer reflects (betterwork_events.web). The event is *applied* once every projection
that reads the service's topic has committed the Kafka record carrying it.

That cannot be told from positions alone: Kafka orders records only within a partition (one per
factory's key), and the relay publishes in commit order, so positions grow neither across
partitions nor strictly along one; "the highest position applied" would call a write applied
while its factory's partition still lags. So one projection per topic notes, in the transaction
that processes them, where each event sits (`event_offsets`: topic, position → partition,
offset), and a token is satisfied once that row exists and every projection reading the topic
has committed an offset past it (`consumer_offsets`, written in each projection's own
transaction). Both live in the gateway's database, so this holds across replicas and restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import ConsumerRecord
from betterwork_events.consumer import Recorder
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MOST_TOKENS = 20  # a query reads what a handful of writes changed; more is a mistake, not a need
POLL_SECONDS = 0.02

_NOTE = sa.text(
    """
    INSERT INTO event_offsets (topic, position, "partition", "offset")
    SELECT * FROM unnest(CAST(:topics AS text[]), CAST(:positions AS bigint[]),
                         CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]))
    ON CONFLICT DO NOTHING
    """
)
_APPLIED_BY = sa.text(
    """
    SELECT count(*) FROM event_offsets o
    JOIN consumer_offsets c ON c.topic = o.topic AND c."partition" = o."partition" AND c.next_offset > o."offset"
    WHERE o.topic = :topic AND o.position = :position AND c.consumer = ANY(CAST(:consumers AS text[]))
    """
)


class BadToken(ValueError):
    pass


@dataclass(frozen=True)
class Token:
    service: str
    position: int

    def __str__(self) -> str:
        return f"{self.service}:{self.position}"


class Consistency:
    """What the gateway knows of how far its read models have applied each service's events."""

    def __init__(
        self,
        engine: AsyncEngine,
        topics: dict[str, str],
        readers: dict[str, list[str]],
        *,
        wait_seconds: float,
    ) -> None:
        self.engine = engine
        self.topics = topics  # service → its events topic
        self.readers = readers  # topic → the consumers (projections) that read it
        self.wait_seconds = wait_seconds

    def tokens(self, presented: Iterable[str]) -> list[Token]:
        """The tokens a request presents (each may be a comma-separated list), or BadToken saying what is wrong."""
        found: list[Token] = []
        for text in presented:
            for part in (p.strip() for p in text.split(",")):
                if not part:
                    continue
                service, _, position = part.rpartition(":")
                if service not in self.topics or not position.isdigit():
                    raise BadToken(
                        f"{part[:100]!r} is not a consistency token: send the Consistency-Token a command answered, "
                        f"like 'assessment:1042' (services: {', '.join(sorted(self.topics))})"
                    )
                found.append(Token(service, int(position)))
        if len(found) > MOST_TOKENS:
            raise BadToken(f"a query may present at most {MOST_TOKENS} consistency tokens")
        return found

    def recorder(self, consumer: str) -> Recorder | None:
        """For the first reader of each topic: noting where each of its events sits, as it processes them."""
        mine = {topic for topic, readers in self.readers.items() if readers and readers[0] == consumer}
        if not mine:
            return None

        async def note(conn: AsyncConnection, records: Sequence[ConsumerRecord]) -> None:
            rows = [(r.topic, p, r.partition, r.offset) for r in records if r.topic in mine and (p := _position(r))]
            if rows:
                topics, positions, partitions, offsets = map(list, zip(*rows, strict=True))
                await conn.execute(
                    _NOTE, {"topics": topics, "positions": positions, "partitions": partitions, "offsets": offsets}
                )

        return note

    async def applied(self, token: Token) -> bool:
        topic = self.topics[token.service]
        readers = self.readers.get(topic, [])
        if not readers:
            return True  # no read model reads this service's events: none can be behind on them
        async with self.engine.connect() as conn:
            count = await conn.scalar(_APPLIED_BY, {"topic": topic, "position": token.position, "consumers": readers})
        return count == len(readers)

    async def wait(self, tokens: Sequence[Token]) -> list[Token]:
        """Wait (at most `wait_seconds`) until every token's event is applied; the tokens still not applied."""
        pending = list(dict.fromkeys(tokens))
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while True:
            pending = [token for token in pending if not await self.applied(token)]
            if not pending or asyncio.get_running_loop().time() >= deadline:
                return pending
            await asyncio.sleep(POLL_SECONDS)


def _position(record: ConsumerRecord) -> int | None:
    for name, value in record.headers:
        if name == "ce_position":
            return int(value)
    return None
