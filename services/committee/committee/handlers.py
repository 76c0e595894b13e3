"""Command handlers: load the stream, ask the domain, append with the version read.

What the service knows of factories comes from the registry's events (`known_factories`), never
from calling the registry.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from betterwork_events.contracts.advisory import Approval
from betterwork_events.countries import today_in
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, NotFound
from betterwork_events.factories import KnownFactory, known_factory
from betterwork_events.history import Change, whole
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from committee.advisory import AdvisoryEvent, AdvisoryPlan, NewPriority, action_item_links, plan_id, plan_stream
from committee.domain import (
    Committee,
    HealthCheck,
    HealthPolicy,
    Workforce,
    committee_id,
    committee_stream,
    health_checks,
)

IDEMPOTENCY_NAMESPACE = uuid.UUID("3b0c1f7e-9d52-4a8e-b6f1-2c7d8e9a0b14")
# A factory's committees (and its advisory plans) are numbered from 1; a dissolved committee is
# followed by the next, a cycle's plan by the next cycle's. Far more than any factory will ever
# have: the bound only stops a runaway loop.
MAX_PER_FACTORY = 100


class Aggregate(Protocol):
    """A committee or an advisory plan: what `change` needs of it."""

    id: str
    version: int

    @property
    def stream(self) -> str: ...

    def apply(self, event: Any, /) -> None: ...

    @classmethod
    def rebuild(cls, id: str, events: Sequence[Any], /) -> Self: ...


A = TypeVar("A", bound=Aggregate)
E = TypeVar("E")


@dataclass(frozen=True)
class Outcome(Generic[A]):
    aggregate: A  # as it is now
    events: list[Any]  # what the command appended (for a retried command: what it appended first)


def idempotent_event_ids(context: CommandContext, command: str, key: str, count: int) -> list[uuid.UUID]:
    """The same key from the same caller names the same events, so a retry appends nothing."""
    return [uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|{command}|{key}|{i}") for i in range(count)]


# --- reading ----------------------------------------------------------------------------------


async def _load(store: EventStore, kind: type[A], stream: str, aggregate_id: str, what: str) -> A:
    try:
        envelopes = await store.load(stream)
    except StreamNotFound:
        raise NotFound(f"no {what} {aggregate_id}") from None
    return kind.rebuild(aggregate_id, [e.contract() for e in envelopes])


async def _numbered(load: Callable[[int], Awaitable[E]]) -> list[E]:
    """A factory's committees or plans, from number 1 up to the first that does not exist."""
    found = []
    for sequence in range(1, MAX_PER_FACTORY + 1):
        try:
            found.append(await load(sequence))
        except NotFound:
            break
    return found


async def load_committee(store: EventStore, committee_id: str) -> Committee:
    return await _load(store, Committee, committee_stream(committee_id), committee_id, "committee")


async def committees_of(store: EventStore, factory_id: str) -> list[Committee]:
    """The factory's committees, oldest first (the last one may be active)."""
    return await _numbered(lambda sequence: load_committee(store, committee_id(factory_id, sequence)))


async def active_committee(store: EventStore, factory_id: str) -> Committee:
    committees = await committees_of(store, factory_id)
    if not committees or not committees[-1].active:
        raise NotFound(f"factory {factory_id} has no active committee")
    return committees[-1]


async def load_plan(store: EventStore, plan_id: str) -> AdvisoryPlan:
    return await _load(store, AdvisoryPlan, plan_stream(plan_id), plan_id, "advisory plan")


async def plans_of(store: EventStore, factory_id: str) -> list[AdvisoryPlan]:
    """The factory's advisory plans, one a cycle, oldest first."""
    return await _numbered(lambda cycle: load_plan(store, plan_id(factory_id, cycle)))


async def history(store: EventStore, aggregate: Aggregate) -> list[Change]:
    """Every change to a committee or a plan: what, when and by whom."""
    return whole(await store.load(aggregate.stream))


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
    factory = await known_factory(engine, cmd.factory_id)  # follows merges to the surviving record
    # The key is claimed before it is checked: a retry waits for the first attempt, then answers with its committee.
    async with store.claim(event_ids[0] if event_ids else None) as conn:
        if event_ids and (earlier := await store.stream_of(event_ids[0])):
            committee = await load_committee(store, earlier.removeprefix("committee-"))
            if (committee.factory_id, committee.established_on) != (factory.id, cmd.established_on):
                raise IdempotencyKeyReused(cmd.idempotency_key or "")
            return committee
        committees = await committees_of(store, factory.id)
        new_id = committee_id(factory.id, len(committees) + 1)
        events = Committee.establish(
            new_id, factory, cmd.established_on, today_in(factory.country), committees[-1] if committees else None
        )
        # Two requests racing to establish the factory's committee both write version 1 of the same
        # stream: the event store lets one through and the other gets a VersionConflict (409).
        await store.append(committee_stream(new_id), events, 0, context=context, event_ids=event_ids, connection=conn)
    return Committee.rebuild(new_id, events)


async def change(
    store: EventStore,
    aggregate: A,
    decide: Callable[[A], Sequence[Any]],
    context: CommandContext,
    *,
    expected_version: int | None = None,
    idempotency: tuple[str, str | None] = ("", None),
) -> Outcome[A]:
    """Let the domain decide on the committee or plan as read, and append at that version.

    `expected_version` is the version the caller read (If-Match); `idempotency` is the command's
    name and the caller's Idempotency-Key, for commands that create something."""
    command, key = idempotency
    if not key:
        return await _decide_and_append(store, aggregate, decide, context, expected_version)
    [first_id] = idempotent_event_ids(context, f"{command}|{aggregate.id}", key, 1)
    # The key is claimed before it is checked: a retry waits for the first attempt, then answers
    # with its outcome. It is recognised before its If-Match, which its own first attempt made stale.
    async with store.claim(first_id) as conn:
        if earlier := await _earlier_outcome(store, aggregate, command, key, decide, context):
            return earlier
        return await _decide_and_append(store, aggregate, decide, context, expected_version, (command, key), conn)


async def _decide_and_append(
    store: EventStore,
    aggregate: A,
    decide: Callable[[A], Sequence[Any]],
    context: CommandContext,
    expected_version: int | None,
    idempotency: tuple[str, str] | None = None,
    conn: AsyncConnection | None = None,
) -> Outcome[A]:
    if expected_version is not None and expected_version != aggregate.version:
        raise VersionConflict(aggregate.stream, expected_version, aggregate.version)
    events = list(decide(aggregate))
    event_ids = None
    if idempotency is not None:
        command, key = idempotency
        event_ids = idempotent_event_ids(context, f"{command}|{aggregate.id}", key, len(events))
    await store.append(
        aggregate.stream, events, aggregate.version, context=context, event_ids=event_ids, connection=conn
    )
    for event in events:
        aggregate.apply(event)
    return Outcome(aggregate, events)


async def _earlier_outcome(
    store: EventStore,
    aggregate: A,
    command: str,
    key: str,
    decide: Callable[[A], Sequence[Any]],
    context: CommandContext,
) -> Outcome[A] | None:
    """If this key was used before, the aggregate now and what the first request appended.

    The same request on the aggregate as it was then must decide the same events; if not, the
    key is being reused for something else."""
    [first_id] = idempotent_event_ids(context, f"{command}|{aggregate.id}", key, 1)
    if await store.stream_of(first_id) is None:
        return None
    envelopes = await store.load(aggregate.stream)
    start = next(i for i, e in enumerate(envelopes) if e.id == first_id)
    contracts = [e.contract() for e in envelopes]
    kind = type(aggregate)
    try:
        again = list(decide(kind.rebuild(aggregate.id, contracts[:start])))
    except (IllegalStep, ValueError):
        raise IdempotencyKeyReused(key) from None
    if again != contracts[start : start + len(again)]:
        raise IdempotencyKeyReused(key)
    return Outcome(kind.rebuild(aggregate.id, contracts), again)


def created(outcome: Outcome[Any], kind: type[E]) -> list[E]:
    """The events of one kind a command appended, e.g. the MeetingRecorded of a new meeting."""
    return [e for e in outcome.events if isinstance(e, kind)]


# --- advisory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Circumstances:
    """What an advisory decision may need besides the plan: the factory as this service knows it
    (its enrollment, its package), its committees, and the day it is at the factory."""

    factory: KnownFactory
    committees: list[Committee]
    today: dt.date

    @property
    def action_items(self) -> set[str]:
        return action_item_links(self.committees)


async def circumstances_of(store: EventStore, engine: AsyncEngine, factory_id: str) -> Circumstances:
    factory = await known_factory(engine, factory_id)  # follows merges to the surviving record
    return Circumstances(factory, await committees_of(store, factory.id), today_in(factory.country))


@dataclass(frozen=True)
class AgreePlan:
    factory_id: str
    starts_on: dt.date
    ends_on: dt.date
    advisor: str
    visits: int
    priorities: Sequence[NewPriority] = ()
    approval: Approval | None = None
    idempotency_key: str | None = None

    def agreed(self, plan: AdvisoryPlan) -> bool:
        """Whether `plan` was agreed by this command (how a retry is told from another request)."""
        first = plan.agreement
        return first is not None and (
            self.factory_id,
            self.starts_on,
            self.ends_on,
            self.advisor,
            self.visits,
            self.approval,
            [(p.topic, p.description, tuple(p.links)) for p in self.priorities],
        ) == (
            first.factory_id,
            first.starts_on,
            first.ends_on,
            first.advisor,
            first.visits_promised,
            first.extra_visits_approval,
            [(p.topic, p.description, p.links) for p in first.priorities],
        )


async def agree_plan(cmd: AgreePlan, store: EventStore, engine: AsyncEngine, context: CommandContext) -> AdvisoryPlan:
    event_ids = idempotent_event_ids(context, "agree-plan", cmd.idempotency_key, 1) if cmd.idempotency_key else None
    now = await circumstances_of(store, engine, cmd.factory_id)
    # The key is claimed before it is checked: a retry waits for the first attempt, then answers with its plan.
    async with store.claim(event_ids[0] if event_ids else None) as conn:
        if event_ids and (earlier := await store.stream_of(event_ids[0])):
            plan = await load_plan(store, earlier.removeprefix(plan_stream("")))
            if not cmd.agreed(plan):
                raise IdempotencyKeyReused(cmd.idempotency_key or "")
            return plan
        plans = await plans_of(store, now.factory.id)
        events = AdvisoryPlan.agree(
            now.factory,
            len(plans) + 1,
            cmd.starts_on,
            cmd.ends_on,
            cmd.advisor,
            cmd.visits,
            cmd.priorities,
            now.today,
            plans[-1] if plans else None,
            now.action_items,
            cmd.approval,
        )
        # Two requests racing to plan the factory's next cycle both write version 1 of the same
        # stream: the event store lets one through and the other gets a VersionConflict (409).
        [agreed] = events
        await store.append(
            plan_stream(agreed.plan_id), events, 0, context=context, event_ids=event_ids, connection=conn
        )
    return AdvisoryPlan.rebuild(agreed.plan_id, events)


async def change_plan(
    store: EventStore,
    engine: AsyncEngine,
    plan: AdvisoryPlan,
    decide: Callable[[AdvisoryPlan, Circumstances], Sequence[AdvisoryEvent]],
    context: CommandContext,
    *,
    expected_version: int | None = None,
    idempotency: tuple[str, str | None] = ("", None),
) -> Outcome[AdvisoryPlan]:
    """`change` for a plan, deciding in the circumstances of its factory now."""
    now = await circumstances_of(store, engine, plan.factory_id)
    return await change(
        store,
        plan,
        lambda p: decide(p, now),
        context,
        expected_version=expected_version,
        idempotency=idempotency,
    )
