"""Command handlers: load the session, ask the domain, append with the version read.

Each append and the session's directory row commit in one transaction. The date a rule needs
("is that day over yet?") is today where the session is held, from the clock the app is given.

A request with an Idempotency-Key names its first event (`Asked.event_id`). A retry finds that
event, and the domain's decision is taken again on the session as it was before it: the same
request decides the same events and is answered with the session, changing nothing; another
request with the same key decides otherwise and is refused (`IdempotencyKeyReused`, 409).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from betterwork_events.contracts.training import TrainingSessionScheduled
from betterwork_events.countries import today_in
from betterwork_events.envelope import Envelope
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, NotFound
from betterwork_events.factories import KnownFactory
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict
from sqlalchemy.ext.asyncio import AsyncConnection

from training import directory
from training.courses import Course
from training.domain import STREAM_PREFIX, SessionEvent, TrainingSession, session_stream

IDEMPOTENCY_NAMESPACE = uuid.UUID("0c5f4f0e-8a4e-4b55-9a7e-2f6d1c3b9e21")
ALLOCATION_ATTEMPTS = 20

Clock = Callable[[], dt.datetime]
Decision = Callable[[TrainingSession, dt.date], list[SessionEvent]]


@dataclass(frozen=True)
class Asked:
    """A command as its caller sent it: which one (its route), who asks, their Idempotency-Key,
    and the version of the session they read (If-Match; None for a new session)."""

    command: str
    context: CommandContext
    idempotency_key: str | None = None
    expected_version: int | None = None

    def at_version(self, version: int) -> Asked:
        return replace(self, expected_version=version)

    def event_id(self, session_id: str | None) -> uuid.UUID | None:
        """The same key from the same caller for the same command names the same first event."""
        if not self.idempotency_key:
            return None
        return uuid.uuid5(
            IDEMPOTENCY_NAMESPACE, f"{self.context.actor}|{self.command}|{session_id or ''}|{self.idempotency_key}"
        )


def new_session_id() -> str:
    """Like `TS-7KQ2M9XDRA`: short enough to read out over the phone, random enough not to guess."""
    return "TS-" + base64.b32encode(uuid.uuid4().bytes).decode()[:10]


async def envelopes(store: EventStore, session_id: str) -> list[Envelope]:
    try:
        return await store.load(session_stream(session_id))
    except StreamNotFound:
        raise NotFound(f"no training session {session_id}") from None


def _rebuilt(session_id: str, envelopes: Sequence[Envelope]) -> TrainingSession:
    return TrainingSession.rebuild(session_id, [cast(SessionEvent, e.contract()) for e in envelopes])


async def load_session(store: EventStore, session_id: str) -> TrainingSession:
    return _rebuilt(session_id, await envelopes(store, session_id))


@dataclass(frozen=True)
class ScheduleSession:
    course: Course
    factories: tuple[KnownFactory, ...]  # as this service knows them (policy.factories_to_train)
    factory_ids: tuple[str, ...]  # as the caller named them
    days: tuple[dt.date, ...]
    venue: str
    trainer: str

    def decide(self, session: TrainingSession, today: dt.date) -> list[SessionEvent]:
        return TrainingSession.schedule(session.id, self.course, self.factories, self.days, self.venue, self.trainer)

    def same_as(self, before: TrainingSession, appended: Sequence[SessionEvent]) -> bool:
        """Whether the session an earlier request scheduled is what this one asks. Compared on
        what was asked, not decided again: a factory's enrollment may have changed since."""
        first = appended[0]
        asked = (self.course.code, self.factory_ids, tuple(sorted(self.days)), self.venue, self.trainer)
        return isinstance(first, TrainingSessionScheduled) and asked == (
            first.course.code,
            first.factory_ids,
            first.days,
            first.venue,
            first.trainer,
        )


async def schedule_session(store: EventStore, clock: Clock, asked: Asked, cmd: ScheduleSession) -> TrainingSession:
    """Start a session under a new id with what the domain decides."""
    event_id = asked.event_id(None)
    # The key is claimed before it is checked: a retry waits for the first attempt, then answers with its session.
    async with store.claim(event_id) as conn:
        if first := await _first_attempt(store, event_id, asked, cmd.same_as):
            return first
        for _ in range(ALLOCATION_ATTEMPTS):
            try:
                session = TrainingSession(id=new_session_id())
                return await _decide(store, clock, conn, session, cmd.decide, event_id, asked)
            except VersionConflict:
                continue  # the random id is taken: draw another
    raise IllegalStep("could not allocate a session id; try again")


async def change_session(
    store: EventStore, clock: Clock, session_id: str, asked: Asked, decide: Decision
) -> TrainingSession:
    """Load a session, let the domain decide (given today where it is held), append at the version read."""
    event_id = asked.event_id(session_id)
    async with store.claim(event_id) as conn:
        # A retry is recognised before its If-Match, which its own first attempt made stale.
        if first := await _first_attempt(store, event_id, asked, _decides_again(decide, clock)):
            return first
        session = await load_session(store, session_id)
        if asked.expected_version != session.version:
            raise VersionConflict(session_stream(session_id), asked.expected_version or 0, session.version)
        return await _decide(store, clock, conn, session, decide, event_id, asked)


async def _decide(
    store: EventStore,
    clock: Clock,
    conn: AsyncConnection,
    session: TrainingSession,
    decide: Decision,
    event_id: uuid.UUID | None,
    asked: Asked,
) -> TrainingSession:
    """Append what the domain decides at the version the session was read, in the command's
    transaction `conn`, and bring the session and its directory row up to date."""
    events = decide(session, today_in(session.country, clock()))
    expected_version = session.version
    for event in events:
        session.apply(event)
    await store.append(
        session_stream(session.id),
        events,
        expected_version,
        context=asked.context,
        connection=conn,
        event_ids=[event_id, *(uuid.uuid4() for _ in events[1:])] if event_id else None,
    )
    await directory.record(conn, session)
    return session


# Whether an earlier request with the same Idempotency-Key, which appended `appended` to the
# session as it was `before`, is the same request as this one.
SameRequest = Callable[[TrainingSession, Sequence[SessionEvent]], bool]


def _decides_again(decide: Decision, clock: Clock) -> SameRequest:
    """The same request takes the same decision on the same session."""

    def same(before: TrainingSession, appended: Sequence[SessionEvent]) -> bool:
        try:
            again = decide(before, today_in(before.country, clock()))
        except IllegalStep:
            return False  # what the first request did was possible then: this one asks something else
        return again == list(appended[: len(again)])

    return same


async def _first_attempt(
    store: EventStore, event_id: uuid.UUID | None, asked: Asked, same: SameRequest
) -> TrainingSession | None:
    """The session as it is now, if an earlier request had this Idempotency-Key and was the same request."""
    if event_id is None or (stream_id := await store.stream_of(event_id)) is None:
        return None
    session_id = stream_id.removeprefix(STREAM_PREFIX)
    recorded = await store.load(stream_id)
    at = [e.id for e in recorded].index(event_id)
    events = [cast(SessionEvent, e.contract()) for e in recorded]
    if not same(TrainingSession.rebuild(session_id, events[:at]), events[at:]):
        raise IdempotencyKeyReused(asked.idempotency_key or "")
    return TrainingSession.rebuild(session_id, events)


async def listed(store: EventStore, readable: frozenset[str] | None, which: Mapping[str, Any]) -> Sequence[Any]:
    """The directory's rows of the sessions `which` names, among those of the `readable` factories."""
    async with store.engine.connect() as conn:
        return await directory.listed(conn, readable, **which)
