"""Who may do what with training: the one place it is decided, as FastAPI dependencies.

Programme staff who train (assessors, who are the programme's trainers, and country managers; an
administrator acts as both) schedule and run the sessions of their country team's country; every
member of programme staff reads every session. A factory's users read the sessions their factory
takes part in, and of a session shared with other factories only their own people and numbers.
Brands and governments read training through the gateway, not here. The course catalogue is
global reference data shipped with the code (courses.py): every signed-in caller reads it.

What a hidden session answers: to a factory, a session of other factories answers exactly as a
missing one (404, the same body); a caller whose audience may never read or change sessions gets
403 before anything is looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from betterwork_events.auth import Audience, CurrentPrincipal, Principal, Role
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts.training import (
    AttendanceRecorded,
    FeedbackGiven,
    ParticipantRegistered,
    TestScoreRecorded,
    TrainingDelivered,
    TrainingSessionCancelled,
    TrainingSessionRescheduled,
    TrainingSessionScheduled,
)
from betterwork_events.envelope import Envelope
from betterwork_events.errors import Forbidden, NotFound
from betterwork_events.factories import KnownFactory, known_factory
from betterwork_events.history import Change, Disclosure, disclosed, whole
from betterwork_events.store import EventStore
from fastapi import Depends, Request

from training import directory, handlers
from training.domain import Participant, TrainingSession

EVERY_FACTORY = None
TRAINERS = (Role.ASSESSOR, Role.COUNTRY_MANAGER)


def store(request: Request) -> EventStore:
    return request.app.state.store


# --- changing ---------------------------------------------------------------------------------


def trainer(principal: CurrentPrincipal) -> Principal:
    """Programme staff who train: anyone else gets 403 before anything is looked up."""
    if principal.audience is not Audience.PROGRAMME:
        raise Forbidden("only programme staff manage training")
    if not principal.acts_as(*TRAINERS):
        raise Forbidden(
            f"only a programme assessor, country-manager or administrator manages training; you are a {principal.role}"
        )
    return principal


Trainer = Annotated[Principal, Depends(trainer)]


def _may_train_in(principal: Principal, country: str) -> None:
    if not principal.covers(country):
        raise Forbidden(
            f"the session is in {country}: only its country team may manage it; yours is {principal.scope}'s"
        )


async def factories_to_train(factory_ids: Sequence[str], principal: Principal, request: Request) -> list[KnownFactory]:
    """The factories a session is scheduled for, as this service knows them (404 for one it does
    not), if they are of the caller's country team."""
    factories = [await known_factory(store(request).engine, factory_id) for factory_id in factory_ids]
    for factory in factories:
        _may_train_in(principal, factory.country)
    return factories


async def changeable_session(session_id: str, principal: Trainer, request: Request) -> str:
    """The id of a session the caller may change: one of their country team's."""
    async with store(request).engine.connect() as conn:
        country = await directory.country_of(conn, session_id)
    if country is None:
        raise NotFound(f"no training session {session_id}")
    _may_train_in(principal, country)
    return session_id


ChangeableSession = Annotated[str, Depends(changeable_session)]


# --- reading ----------------------------------------------------------------------------------


def reader(principal: CurrentPrincipal) -> Principal:
    """Programme staff and factories' users: brands and governments get 403 before any lookup."""
    if principal.audience not in (Audience.PROGRAMME, Audience.FACTORY):
        raise Forbidden("only programme staff and the users of a session's factories read training sessions")
    return principal


Reader = Annotated[Principal, Depends(reader)]


def readable_factories(principal: Principal) -> frozenset[str] | None:
    """The factories whose sessions and people the caller may read; None for every factory."""
    if principal.audience is Audience.PROGRAMME:
        return EVERY_FACTORY
    if principal.audience is Audience.FACTORY and principal.scope:
        return frozenset({principal.scope})
    return frozenset()


async def readable_session(session_id: str, principal: Reader, request: Request) -> TrainingSession:
    """The session, if the caller may read it; one of other factories answers as a missing one."""
    session = await handlers.load_session(store(request), session_id)
    readable = readable_factories(principal)
    if readable is EVERY_FACTORY or readable & set(session.factory_ids):
        return session
    raise NotFound(f"no training session {session_id}")


ReadableSession = Annotated[TrainingSession, Depends(readable_session)]


def sees_factory(principal: Principal, factory_id: str) -> bool:
    readable = readable_factories(principal)
    return readable is EVERY_FACTORY or factory_id in readable


def visible_participants(principal: Principal, session: TrainingSession) -> list[Participant]:
    return [p for p in session.participants.values() if sees_factory(principal, p.factory_id)]


def sees_whole_session(principal: Principal) -> bool:
    """Whether totals over every factory may be shown: from them one factory could work out another's."""
    return readable_factories(principal) is EVERY_FACTORY


# --- history ----------------------------------------------------------------------------------


def factory_history(factory_id: str) -> Disclosure:
    """What a factory's users read of a session's history: the session's own changes, and of its
    people only their factory's (who was present is not shown: the register names everyone's)."""

    def own(*fields: str) -> Callable[[EventContract], Sequence[str] | None]:
        return lambda event: fields if getattr(event, "factory_id", None) == factory_id else None

    return {
        TrainingSessionScheduled: ("session_id", "factory_ids", "country", "course", "days", "venue", "trainer"),
        TrainingSessionRescheduled: ("days", "venue", "reason"),
        ParticipantRegistered: own("participant_id", "factory_id", "role", "sex", "name"),
        AttendanceRecorded: ("day",),
        TestScoreRecorded: own("participant_id", "phase", "score"),
        FeedbackGiven: own("participant_id", "rating", "comment"),
        TrainingDelivered: ("course_code", "first_day", "last_day", "hours"),
        TrainingSessionCancelled: ("reason",),
    }


def history(principal: Principal, envelopes: Sequence[Envelope]) -> list[Change]:
    """Programme staff: the whole record. A factory's users: what `factory_history` discloses,
    numbered in order, since the session's own version counts other factories' changes too."""
    if sees_whole_session(principal):
        return whole(envelopes)
    assert principal.scope is not None
    changes = disclosed(envelopes, factory_history(principal.scope))
    return [change.model_copy(update={"version": n}) for n, change in enumerate(changes, 1)]
