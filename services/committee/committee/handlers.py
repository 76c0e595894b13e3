"""Command handlers: load the committee's stream, ask the domain, append with the version read.

What the service knows of factories comes from the registry's events (`known_factories`), never
from calling the registry.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from betterwork_events.countries import COUNTRY_PROGRAMMES
from betterwork_events.errors import IllegalStep, NotFound
from betterwork_events.factories import KnownFactory, known_factory
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict
from sqlalchemy.ext.asyncio import AsyncEngine

from committee.domain import (
    Committee,
    CommitteeEvent,
    HealthCheck,
    HealthPolicy,
    Workforce,
    committee_id,
    committee_stream,
    health_checks,
)

IDEMPOTENCY_NAMESPACE = uuid.UUID("3b0c1f7e-9d52-4a8e-b6f1-2c7d8e9a0b14")
# A factory's committees are numbered from 1; a dissolved one is followed by the next. Far more
# than any factory will ever have: the bound only stops a runaway loop.
MAX_COMMITTEES_PER_FACTORY = 100

Decision = Callable[[Committee], list[CommitteeEvent]]


class IdempotencyKeyReused(IllegalStep):
    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")


@dataclass(frozen=True)
class Outcome:
    committee: Committee
    events: list[CommitteeEvent]  # what the command appended (for a retried command: what it appended first)


def idempotent_event_ids(context: CommandContext, command: str, key: str, count: int) -> list[uuid.UUID]:
    """The same key from the same caller names the same events, so a retry appends nothing."""
    return [uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|{command}|{key}|{i}") for i in range(count)]


def today_in(country: str) -> dt.date:
    """The calendar day at the factory: a meeting held this morning in Phnom Penh is not in the future."""
    programme = COUNTRY_PROGRAMMES.get(country)
    return dt.datetime.now(ZoneInfo(programme.timezone) if programme else dt.UTC).date()


# --- reading ----------------------------------------------------------------------------------


async def load_committee(store: EventStore, committee_id: str) -> Committee:
    try:
        envelopes = await store.load(committee_stream(committee_id))
    except StreamNotFound:
        raise NotFound(f"no committee {committee_id}") from None
    return Committee.rebuild(committee_id, [cast(CommitteeEvent, e.contract()) for e in envelopes])


async def committees_of(store: EventStore, factory_id: str) -> list[Committee]:
    """The factory's committees, oldest first (the last one may be active)."""
    committees = []
    for sequence in range(1, MAX_COMMITTEES_PER_FACTORY + 1):
        try:
            committees.append(await load_committee(store, committee_id(factory_id, sequence)))
        except NotFound:
            break
    return committees


async def active_committee(store: EventStore, factory_id: str) -> Committee:
    committees = await committees_of(store, factory_id)
    if not committees or not committees[-1].active:
        raise NotFound(f"factory {factory_id} has no active committee")
    return committees[-1]


async def committee_history(store: EventStore, committee_id: str) -> list[dict[str, Any]]:
    """Every change to a committee: what, when and by whom."""
    try:
        envelopes = await store.load(committee_stream(committee_id))
    except StreamNotFound:
        raise NotFound(f"no committee {committee_id}") from None
    return [
        {"version": e.streamversion, "type": e.type, "time": e.time, "actor": e.actor, "data": e.data}
        for e in envelopes
    ]


async def health(engine: AsyncEngine, committee: Committee, policy: HealthPolicy) -> list[HealthCheck]:
    """The committee's health today, against the workforce the registry last told us of."""
    try:
        factory: KnownFactory | None = await known_factory(engine, committee.factory_id)
    except NotFound:
        factory = None
    workforce = None
    if factory is not None and factory.workers_total is not None and factory.workers_women is not None:
        workforce = Workforce(factory.workers_total, factory.workers_women)
    return health_checks(committee, workforce, today_in(committee.country), policy)


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstablishCommittee:
    factory_id: str
    established_on: dt.date
    idempotency_key: str | None = None


async def establish_committee(
    cmd: EstablishCommittee, store: EventStore, engine: AsyncEngine, context: CommandContext
) -> Committee:
    event_ids = (
        idempotent_event_ids(context, "establish-committee", cmd.idempotency_key, 1) if cmd.idempotency_key else None
    )
    if event_ids and (earlier := await store.stream_of(event_ids[0])):
        committee = await load_committee(store, earlier.removeprefix("committee-"))
        if (committee.factory_id, committee.established_on) != (cmd.factory_id, cmd.established_on):
            raise IdempotencyKeyReused(cmd.idempotency_key or "")
        return committee
    factory = await known_factory(engine, cmd.factory_id)  # follows merges to the surviving record
    committees = await committees_of(store, factory.id)
    new_id = committee_id(factory.id, len(committees) + 1)
    events = Committee.establish(
        new_id, factory, cmd.established_on, today_in(factory.country), committees[-1] if committees else None
    )
    # Two requests racing to establish the factory's committee both write version 1 of the same
    # stream: the event store lets one through and the other gets a VersionConflict (409).
    await store.append(committee_stream(new_id), events, 0, context=context, event_ids=event_ids)
    return Committee.rebuild(new_id, events)


async def change_committee(
    store: EventStore,
    committee: Committee,
    decide: Decision,
    context: CommandContext,
    *,
    expected_version: int | None = None,
    idempotency: tuple[str, str | None] = ("", None),
) -> Outcome:
    """Let the domain decide on the committee as read, and append at that version.

    `expected_version` is the version the caller read (If-Match); `idempotency` is the command's
    name and the caller's Idempotency-Key, for commands that create something."""
    command, key = idempotency
    # A retry is recognised before its If-Match, which its own first attempt made stale.
    if key and (earlier := await _earlier_outcome(store, committee, command, key, decide, context)):
        return earlier
    if expected_version is not None and expected_version != committee.version:
        raise VersionConflict(committee_stream(committee.id), expected_version, committee.version)
    events = decide(committee)
    event_ids = idempotent_event_ids(context, f"{command}|{committee.id}", key, len(events)) if key else None
    appended = await store.append(
        committee_stream(committee.id), events, committee.version, context=context, event_ids=event_ids
    )
    if appended.duplicate:  # the same retry raced this one and won
        return await _earlier_outcome(store, committee, command, key or "", decide, context) or Outcome(committee, [])
    for event in events:
        committee.apply(event)
    return Outcome(committee, events)


async def _earlier_outcome(
    store: EventStore, committee: Committee, command: str, key: str, decide: Decision, context: CommandContext
) -> Outcome | None:
    """If this key was used before, the committee now and what the first request appended.

    The same request on the committee as it was then must decide the same events; if not, the
    key is being reused for something else."""
    [first_id] = idempotent_event_ids(context, f"{command}|{committee.id}", key, 1)
    if await store.stream_of(first_id) is None:
        return None
    envelopes = await store.load(committee_stream(committee.id))
    start = next(i for i, e in enumerate(envelopes) if e.id == first_id)
    contracts = [cast(CommitteeEvent, e.contract()) for e in envelopes]
    try:
        again = decide(Committee.rebuild(committee.id, contracts[:start]))
    except (IllegalStep, ValueError):
        raise IdempotencyKeyReused(key) from None
    if again != contracts[start : start + len(again)]:
        raise IdempotencyKeyReused(key)
    return Outcome(Committee.rebuild(committee.id, contracts), again)


def created(outcome: Outcome, kind: type[CommitteeEvent]) -> Sequence[CommitteeEvent]:
    """The events of one kind a command appended, e.g. the MeetingRecorded of a new meeting."""
    return [e for e in outcome.events if isinstance(e, kind)]
