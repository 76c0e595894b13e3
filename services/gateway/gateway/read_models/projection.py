"""A read model's projection: the events it applies, declared once, each with its handler."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from betterwork_events.catalogue import EventContract
from betterwork_events.envelope import Envelope
from sqlalchemy.ext.asyncio import AsyncConnection

# Every read model's tables, so that queries can join across read models.
metadata = sa.MetaData()

Handler = Callable[[AsyncConnection, Any, Envelope], Awaitable[None]]


@dataclasses.dataclass
class Projection:
    """Events from the services' topics into one read model's tables.

    Handlers must be idempotent in effect: the consumer runtime skips an event it has already
    applied, but a rebuild applies everything again from the beginning of the topics."""

    name: str  # the read model's name; with the deployment's prefix, its consumer group
    tables: list[sa.Table]  # what it writes, and nothing else does: what a rebuild builds anew
    handlers: dict[type[EventContract], Handler] = dataclasses.field(default_factory=dict)

    def on(self, *contracts: type[EventContract]) -> Callable[[Handler], Handler]:
        """Register the decorated handler for these contracts (it takes one of them, or a union)."""

        def register(handler: Handler) -> Handler:
            for contract in contracts:
                self.handlers[contract] = handler
            return handler

        return register

    @property
    def services(self) -> list[str]:
        """Whose `<service>.events` topics it reads: those of the events it handles."""
        return sorted({c.topic_service for c in self.handlers})

    def consumer(self, prefix: str, *, delay: float = 0.0) -> Consumer:
        return Consumer(f"{prefix}gateway.{self.name}", self, delay)


async def advanced(
    conn: AsyncConnection, table: sa.Table, key: sa.ColumnElement[bool], envelope: Envelope, **values: object
) -> bool:
    """The version guard of a stream's events after its first: the row `key` picks takes `values`
    and the event's version only if the event is newer than the row, so that a redelivered event,
    or an older one arriving late, changes nothing. True if it was newer."""
    found = await conn.execute(
        table.update()
        .where(key, table.c.version < envelope.streamversion)
        .values(**values, version=envelope.streamversion)
        .returning(sa.literal(True))
    )
    return found.first() is not None


class Consumer:
    """The projection as the consumer runtime sees it (betterwork_events.consumer.Projection)."""

    def __init__(self, name: str, projection: Projection, delay: float = 0.0) -> None:
        self.name = name
        self.projection = projection
        self.delay = delay  # before each event (settings.projection_delay_seconds: tests of lagging read models)
        self.handles = frozenset(c.event_type for c in projection.handlers)
        self._by_type = {c.event_type: h for c, h in projection.handlers.items()}

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        await self._by_type[event.type](conn, event.contract(), event)
