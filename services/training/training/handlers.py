"""Command handlers: load the session, ask the domain, append with the version read.

Each append and the session's directory row commit in one transaction. The date a rule needs
("is that day over yet?") is today where the session is held, from the clock the app is given.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from betterwork_events.catalogue import EventContract
from betterwork_events.contracts.training import ParticipantRegistered, Role, Sex, TrainingSessionScheduled
from betterwork_events.countries import today_in
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, NotFound
from betterwork_events.factories import known_factory
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict
from sqlalchemy.ext.asyncio import AsyncConnection

from training import directory
from training.courses import COURSES
from training.domain import STREAM_PREFIX, SessionEvent, TrainingSession, session_stream

IDEMPOTENCY_NAMESPACE = uuid.UUID("0c5f4f0e-8a4e-4b55-9a7e-2f6d1c3b9e21")
ALLOCATION_ATTEMPTS = 20

Clock = Callable[[], dt.datetime]
Decision = Callable[[TrainingSession, dt.date], list[SessionEvent]]


def idempotent_event_id(context: CommandContext, command: str, key: str | None) -> uuid.UUID | None:
    """The same key from the same caller names the same event, so a retry appends nothing."""
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|{command}|{key}") if key else None


def new_session_id() -> str:
    """Like `TS-7KQ2M9XDRA`: short enough to read out over the phone, random enough not to guess."""
    return "TS-" + base64.b32encode(uuid.uuid4().bytes).decode()[:10]


async def load_session(store: EventStore, session_id: str) -> TrainingSession:
    try:
        envelopes = await store.load(session_stream(session_id))
    except StreamNotFound:
        raise NotFound(f"no training session {session_id}") from None
    return TrainingSession.rebuild(session_id, [cast(SessionEvent, e.contract()) for e in envelopes])


async def _first_result(store: EventStore, event_id: uuid.UUID | None) -> tuple[str, EventContract] | None:
    """The event an earlier request with the same Idempotency-Key appended, and its session."""
    stream_id = await store.stream_of(event_id) if event_id else None
    if stream_id is None:
        return None
    [earlier] = [e for e in await store.load(stream_id) if e.id == event_id]
    return stream_id.removeprefix(STREAM_PREFIX), earlier.contract()


async def _append(
    store: EventStore,
    conn: AsyncConnection,
    session: TrainingSession,
    events: Sequence[SessionEvent],
    context: CommandContext,
    event_id: uuid.UUID | None = None,
) -> TrainingSession:
    """Append at the version the session was read, in the command's transaction `conn`, and bring
    the session and its directory row up to date."""
    expected_version = session.version
    for event in events:
        session.apply(event)
    appended = await store.append(
        session_stream(session.id),
        events,
        expected_version,
        context=context,
        connection=conn,
        event_ids=[event_id] if event_id and len(events) == 1 else None,
    )
    if appended.duplicate:  # the same request got there first: answer with its result
        return await load_session(store, appended.stream_id.removeprefix(STREAM_PREFIX))
    await directory.record(conn, session)
    return session


@dataclass(frozen=True)
class ScheduleSession:
    course: str
    factory_ids: tuple[str, ...]
    days: tuple[dt.date, ...]
    venue: str
    trainer: str
    idempotency_key: str | None = None


async def schedule_session(cmd: ScheduleSession, store: EventStore, context: CommandContext) -> TrainingSession:
    event_id = idempotent_event_id(context, "schedule-session", cmd.idempotency_key)
    course = COURSES.get(cmd.course)
    if course is None:
        raise NotFound(f"no course {cmd.course} in the catalogue")
    # What this service has learnt from the registry's events: a merged id names its survivor.
    factories = [await known_factory(store.engine, factory_id) for factory_id in cmd.factory_ids]
    # The key is claimed before it is checked: a retry waits for the first attempt, then answers with its session.
    async with store.claim(event_id) as conn:
        if earlier := await _first_result(store, event_id):
            session_id, first = earlier
            assert isinstance(first, TrainingSessionScheduled)
            asked = (cmd.course, cmd.factory_ids, tuple(sorted(cmd.days)), cmd.venue, cmd.trainer)
            if asked != (first.course.code, first.factory_ids, first.days, first.venue, first.trainer):
                raise IdempotencyKeyReused(cmd.idempotency_key or "")
            return await load_session(store, session_id)
        for _ in range(ALLOCATION_ATTEMPTS):
            session = TrainingSession(id=new_session_id())
            events = TrainingSession.schedule(session.id, course, factories, cmd.days, cmd.venue, cmd.trainer)
            try:
                return await _append(store, conn, session, events, context, event_id)
            except VersionConflict:
                continue  # the random id is taken: draw another
    raise IllegalStep("could not allocate a session id; try again")


async def change_session(
    store: EventStore,
    session_id: str,
    expected_version: int | None,
    decide: Decision,
    context: CommandContext,
    clock: Clock,
) -> TrainingSession:
    """Load a session, let the domain decide (given today where it is held), append at the version read."""
    session = await load_session(store, session_id)
    if expected_version is not None and expected_version != session.version:
        raise VersionConflict(session_stream(session_id), expected_version, session.version)
    events = decide(session, today_in(session.country, clock()))
    async with store.claim(None) as conn:
        return await _append(store, conn, session, events, context)


@dataclass(frozen=True)
class RegisterParticipant:
    session_id: str
    participant_id: str
    factory_id: str
    role: Role
    sex: Sex
    name: str | None = None
    idempotency_key: str | None = None


async def register_participant(
    cmd: RegisterParticipant, store: EventStore, context: CommandContext, expected_version: int | None = None
) -> TrainingSession:
    event_id = idempotent_event_id(context, f"register-participant|{cmd.session_id}", cmd.idempotency_key)
    async with store.claim(event_id) as conn:
        if earlier := await _first_result(store, event_id):
            _, first = earlier
            assert isinstance(first, ParticipantRegistered)
            if (first.participant_id, first.factory_id, first.role, first.sex, first.name) != (
                cmd.participant_id,
                cmd.factory_id,
                cmd.role,
                cmd.sex,
                cmd.name,
            ):
                raise IdempotencyKeyReused(cmd.idempotency_key or "")
            return await load_session(store, cmd.session_id)
        session = await load_session(store, cmd.session_id)
        if expected_version is not None and expected_version != session.version:
            raise VersionConflict(session_stream(cmd.session_id), expected_version, session.version)
        events = session.register(cmd.participant_id, cmd.factory_id, cmd.role, cmd.sex, cmd.name)
        return await _append(store, conn, session, events, context, event_id)
