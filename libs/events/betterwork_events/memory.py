"""An event store in memory, behind the interface the command runner uses (commands.Store), so
command handlers are tested without PostgreSQL. Integration tests keep the real EventStore.

Like the real one it refuses an append at a stale version, numbers events by stream version and
global position, and keeps what a transaction did only if the transaction ends without an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from uuid import UUID, uuid4

from betterwork_events.catalogue import EventContract
from betterwork_events.envelope import Envelope
from betterwork_events.store import Appended, CommandContext, FirstRequest, StreamNotFound, VersionConflict


class Transaction:
    """What one `claim` block did, kept only when it ends without an error."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.requests: dict[UUID, FirstRequest] = {}
        self.on_commit: list[Callable[[], None]] = []  # e.g. an in-memory directory's changes


class InMemoryEventStore:
    def __init__(self, source: str = "/betterwork/test") -> None:
        self.source = source
        self.envelopes: list[Envelope] = []  # in global order
        self.requests: dict[UUID, FirstRequest] = {}
        self._keys: defaultdict[UUID, asyncio.Lock] = defaultdict(asyncio.Lock)

    @contextlib.asynccontextmanager
    async def claim(self, key: UUID | None) -> AsyncIterator[Transaction]:
        """A transaction; with a key, one that a retry of the same command waits for."""
        async with self._keys[key] if key is not None else contextlib.nullcontext():
            transaction = Transaction()
            yield transaction
            self.envelopes.extend(transaction.envelopes)
            self.requests |= transaction.requests
            for change in transaction.on_commit:
                change()

    async def append(
        self,
        stream_id: str,
        events: Sequence[EventContract],
        expected_version: int,
        *,
        context: CommandContext | None = None,
        connection: Transaction | None = None,
    ) -> Appended:
        if not events:
            raise ValueError("nothing to append")
        written = self.envelopes + (connection.envelopes if connection else [])
        version = sum(1 for e in written if e.subject == stream_id)
        if version != expected_version:
            raise VersionConflict(stream_id, expected_version, version)
        context = context or CommandContext()
        new = [
            Envelope(
                uuid4(),
                self.source,
                event.event_type,
                stream_id,
                dt.datetime.now(dt.UTC),
                event.model_dump_json(),
                expected_version + offset + 1,
                len(written) + offset + 1,
                event.factory_id_key,
                context.correlation_id,
                context.causation_id,
                None,
                context.actor,
            )
            for offset, event in enumerate(events)
        ]
        if connection is None:
            self.envelopes.extend(new)
        else:
            connection.envelopes.extend(new)
        return Appended(stream_id, new[-1].streamversion, tuple(e.id for e in new), position=new[-1].position)

    async def load(self, stream_id: str) -> list[Envelope]:
        envelopes = [e for e in self.envelopes if e.subject == stream_id]
        if not envelopes:
            raise StreamNotFound(stream_id)
        return envelopes

    async def first_request(self, transaction: Transaction, key: UUID) -> FirstRequest | None:
        return transaction.requests.get(key) or self.requests.get(key)

    async def remember_request(self, transaction: Transaction, key: UUID, first: FirstRequest) -> None:
        transaction.requests[key] = first
