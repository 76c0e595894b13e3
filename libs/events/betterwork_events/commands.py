"""The one way a command changes an aggregate, for every service.

A route hands the runner a `Request` (who asks, the version they read, their Idempotency-Key,
what they asked) and a pure decision; the runner

1. claims the Idempotency-Key, so a retry waits for the first attempt and then gets its answer
   (the same key with a different request is `IdempotencyKeyReused`, a 409 that says so);
2. loads the aggregate from its stream (`Repository.get`) and checks the If-Match version;
3. calls the decision with the aggregate and the day it is where the aggregate is
   (`countries.today_in`, from the runner's clock);
4. appends the events, updates the service's directory and remembers the request, all in one
   transaction (`Repository.save`);
5. answers the aggregate as it is now, the events appended, its new version and the consistency
   token of the append.

A domain refusal (an exception from the decision) leaves nothing appended and nothing remembered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from pydantic_core import to_jsonable_python

from betterwork_events.catalogue import EventContract
from betterwork_events.countries import today_in
from betterwork_events.envelope import Envelope
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, InvalidRequest, NotFound
from betterwork_events.store import (
    Appended,
    Checkpoint,
    CommandContext,
    EventStore,
    FirstRequest,
    StreamNotFound,
    VersionConflict,
)

Clock = Callable[[], dt.datetime]
IDEMPOTENCY_NAMESPACE = uuid.UUID("9e4c2b1a-7f3d-4c6e-8a5b-1d2e3f4a5b6c")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Aggregate(Protocol):
    """What the runner needs of an aggregate: its id, its version, where it is (whose calendar
    day "today" is), and applying an event."""

    id: str
    version: int
    country: str

    def apply(self, event: Any, /) -> None: ...


A = TypeVar("A", bound=Aggregate)
E = TypeVar("E")


class Store(Protocol):
    """The part of an event store the runner uses: EventStore (PostgreSQL) and InMemoryEventStore."""

    source: str

    def claim(self, key: uuid.UUID | None) -> AbstractAsyncContextManager[Any]: ...

    async def load(self, stream_id: str) -> list[Envelope]: ...

    async def append(
        self,
        stream_id: str,
        events: Sequence[EventContract],
        expected_version: int,
        *,
        context: CommandContext | None = None,
        connection: Any = None,
    ) -> Appended: ...

    async def first_request(self, transaction: Any, key: uuid.UUID) -> FirstRequest | None: ...

    async def remember_request(self, transaction: Any, key: uuid.UUID, first: FirstRequest) -> None: ...


# The service's directory update, in the append's transaction (its own connection for EventStore).
Record = Callable[[Any, Sequence[Any]], Awaitable[None]]


async def _nothing_to_record(transaction: Any, events: Sequence[Any]) -> None:
    return None


class Repository(Generic[A]):
    """One aggregate type's streams: `get` one, `save` what happened to it."""

    def __init__(
        self,
        store: Store,
        rebuild: Callable[[str, Sequence[Any]], A],
        stream: Callable[[str], str],
        what: str,
        record: Record = _nothing_to_record,
    ) -> None:
        self.store = store
        self.rebuild = rebuild
        self.stream = stream  # aggregate id -> stream id
        self.what = what  # "committee": how a missing one is named ("no committee KH-...-C1")
        self.record = record

    async def envelopes(self, aggregate_id: str) -> list[Envelope]:
        try:
            return await self.store.load(self.stream(aggregate_id))
        except StreamNotFound:
            raise NotFound(f"no {self.what} {aggregate_id}") from None

    async def get(self, aggregate_id: str) -> A:
        return self.rebuild(aggregate_id, [e.contract() for e in await self.envelopes(aggregate_id)])

    async def save(self, aggregate: A, events: Sequence[Any], context: CommandContext, transaction: Any) -> Appended:
        """Append at the version the aggregate was read, update the directory, apply the events."""
        appended = await self.store.append(
            self.stream(aggregate.id), events, aggregate.version, context=context, connection=transaction
        )
        await self.record(transaction, events)
        for event in events:
            aggregate.apply(event)
        return appended


@dataclass(frozen=True)
class CommandRequest:
    """A command as its caller sent it."""

    name: str  # which command, e.g. "POST /committees/{committee_id}/meetings"
    context: CommandContext
    expected_version: int | None = None  # If-Match: the version the caller read
    idempotency_key: str | None = None
    path: dict[str, Any] = field(default_factory=dict)  # the path's parameters
    asked: object = None  # what the caller asked (the body): with `path`, what a retry must ask again

    def asking(self, asked: object) -> CommandRequest:
        return replace(self, asked=asked)

    def fingerprint(self, aggregate_id: str | None) -> str:
        text = json.dumps([self.name, aggregate_id, self.path, to_jsonable_python(self.asked)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def key(self) -> uuid.UUID | None:
        """The key the first attempt is remembered by: a caller's keys are their own."""
        if not self.idempotency_key:
            return None
        return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{self.context.actor}|{self.idempotency_key}")


@dataclass(frozen=True)
class Outcome(Generic[A]):
    aggregate: A  # as it is now
    events: tuple[Any, ...]  # what the command appended (a retry: what its first attempt appended)
    position: int  # the global position of the last of them
    source: str  # the store's CloudEvents source, `/betterwork/<service>`

    @property
    def version(self) -> int:
        return self.aggregate.version

    @property
    def consistency_token(self) -> str:
        """`<service>:<position>`: a gateway query presenting it waits until its read models show this."""
        return f"{self.source.rsplit('/', 1)[-1]}:{self.position}"

    def created(self, kind: type[E]) -> list[E]:
        """The events of one kind the command appended, e.g. the MeetingRecorded of a new meeting."""
        return [e for e in self.events if isinstance(e, kind)]


Decision = Callable[[A, dt.date], Sequence[Any]]
# A creation decides in its transaction (to consult the directory) at a moment: the new id and its events.
Creation = Callable[[Any, dt.datetime], Awaitable[tuple[str, Sequence[Any]]]]


class CommandRunner:
    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    async def change(
        self, repository: Repository[A], aggregate_id: str, request: CommandRequest, decide: Decision[A]
    ) -> Outcome[A]:
        """Let the domain decide on the aggregate as it is, at the version the caller read."""
        # The key is claimed before it is checked: a retry waits for the first attempt, then answers
        # with its outcome. It is recognised before its If-Match, which its own first attempt made stale.
        async with self.store.claim(request.key) as transaction:
            if earlier := await self._earlier(repository, transaction, request, aggregate_id):
                return earlier
            aggregate = await repository.get(aggregate_id)
            if request.expected_version is not None and request.expected_version != aggregate.version:
                raise VersionConflict(repository.stream(aggregate_id), request.expected_version, aggregate.version)
            first_version = aggregate.version + 1
            events = list(decide(aggregate, today_in(aggregate.country, self.clock())))
            appended = await repository.save(aggregate, events, request.context, transaction)
            await self._remember(repository, transaction, request, aggregate_id, first_version, appended)
        return Outcome(aggregate, tuple(events), appended.position, self.store.source)

    async def create(self, repository: Repository[A], request: CommandRequest, decide: Creation) -> Outcome[A]:
        """Start a new stream with what the domain decides."""
        if request.expected_version is not None:
            raise InvalidRequest("If-Match names a version you read; something still to be created has none")
        async with self.store.claim(request.key) as transaction:
            if earlier := await self._earlier(repository, transaction, request, None):
                return earlier
            aggregate_id, events = await decide(transaction, self.clock())
            aggregate = repository.rebuild(aggregate_id, [])
            # Two requests racing to create the same stream both write its version 1: the store
            # lets one through and the other gets a VersionConflict (409).
            appended = await repository.save(aggregate, events, request.context, transaction)
            await self._remember(repository, transaction, request, None, 1, appended, aggregate_id)
        return Outcome(aggregate, tuple(events), appended.position, self.store.source)

    async def _earlier(
        self, repository: Repository[A], transaction: Any, request: CommandRequest, aggregate_id: str | None
    ) -> Outcome[A] | None:
        """The first attempt's outcome if this key was used before; the key reused for another request is refused."""
        if request.key is None or (first := await self.store.first_request(transaction, request.key)) is None:
            return None
        if first.fingerprint != request.fingerprint(aggregate_id):
            raise IdempotencyKeyReused(request.idempotency_key or "")
        envelopes = await self.store.load(first.stream_id)
        contracts = [e.contract() for e in envelopes]
        aggregate = repository.rebuild(first.aggregate_id, contracts)
        events = tuple(contracts[first.first_version - 1 : first.last_version])
        return Outcome(aggregate, events, envelopes[first.last_version - 1].position, self.store.source)

    async def _remember(
        self,
        repository: Repository[A],
        transaction: Any,
        request: CommandRequest,
        asked_of: str | None,
        first_version: int,
        appended: Appended,
        created: str | None = None,
    ) -> None:
        if request.key is None:
            return
        aggregate_id = created or asked_of or ""
        first = FirstRequest(
            request.fingerprint(asked_of), aggregate_id, appended.stream_id, first_version, appended.version
        )
        await self.store.remember_request(transaction, request.key, first)


async def rebuild_directory(store: EventStore, tables: str, record: Record, patience: float = 30.0) -> int:
    """Empty a service's directory `tables` and replay every event of its store into it (`record`,
    as kept live); returns how many events were replayed.

    Run it with the service stopped. Events of transactions still open are waited for (other
    databases on the server hold the horizon too), but not for ever: rather than leave a
    directory that silently misses appends made meanwhile, it gives up and says so."""
    replayed = 0
    async with store.engine.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {tables}"))
        checkpoint = Checkpoint()
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            batch = await store.read_all(checkpoint, limit=5000)
            await record(conn, [envelope.contract() for envelope in batch.events])
            replayed += len(batch.events)
            checkpoint = batch.checkpoint
            if batch.events:
                continue
            if not batch.held_back:
                return replayed
            if asyncio.get_running_loop().time() > deadline:
                raise IllegalStep("events are being appended while rebuilding; stop the service and run it again")
            await asyncio.sleep(0.1)
