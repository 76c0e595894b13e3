"""Command handlers: the committee service's aggregates through the command runner
(betterwork_events.commands), which loads the stream, checks If-Match and the Idempotency-Key,
asks the domain on the factory's day and appends with the directory update in one transaction.

What the service knows of factories comes from the registry's events (`known_factory`), never
from calling the registry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from betterwork_events.commands import Clock, CommandRequest, CommandRunner, Outcome, Repository, Store, utc_now
from betterwork_events.countries import today_in
from betterwork_events.errors import NotFound
from betterwork_events.factories import KnownFactory, known_factory
from betterwork_events.history import Change, whole
from sqlalchemy.ext.asyncio import AsyncEngine

from committee.advisory import AdvisoryEvent, AdvisoryPlan, NewPriority, action_item_links, plan_stream
from committee.directory import Directory, InMemoryDirectory, Kind
from committee.domain import (
    Committee,
    HealthCheck,
    HealthPolicy,
    Workforce,
    committee_id,
    committee_stream,
    health_checks,
)

Factories = Callable[[str], Awaitable[KnownFactory]]  # the factory as this service knows it (merges followed)


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


AdvisoryDecision = Callable[[AdvisoryPlan, Circumstances], Sequence[AdvisoryEvent]]


class Service:
    """The committee service's commands and reads, wired once (`on_postgres`, or in memory for tests)."""

    def __init__(
        self,
        store: Store,
        directory: Directory | InMemoryDirectory,
        factories: Factories,
        health_policy: HealthPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store, self.directory, self.factories = store, directory, factories
        self.health_policy = health_policy or HealthPolicy()
        self.runner = CommandRunner(store, clock)
        self.committees = Repository(store, Committee.rebuild, committee_stream, "committee", directory.record)
        self.plans = Repository(store, AdvisoryPlan.rebuild, plan_stream, "advisory plan", directory.record)

    @classmethod
    def on_postgres(cls, store: Store, engine: AsyncEngine, health_policy: HealthPolicy) -> Service:
        return cls(store, Directory(engine), lambda factory_id: known_factory(engine, factory_id), health_policy)

    def today_in(self, country: str) -> dt.date:
        return today_in(country, self.runner.clock())

    # --- reading ------------------------------------------------------------------------------

    async def committees_of(self, factory_id: str) -> list[Committee]:
        """The factory's committees, oldest first (the last one may be active)."""
        return [await self.committees.get(e.id) for e in await self.directory.of_factory(factory_id, Kind.COMMITTEE)]

    async def active_committee(self, factory_id: str) -> Committee:
        listed = await self.directory.of_factory(factory_id, Kind.COMMITTEE)
        if not listed or listed[-1].dissolved_on is not None:
            raise NotFound(f"factory {factory_id} has no active committee")
        return await self.committees.get(listed[-1].id)

    async def plans_of(self, factory_id: str) -> list[AdvisoryPlan]:
        """The factory's advisory plans, one a cycle, oldest first."""
        return [await self.plans.get(e.id) for e in await self.directory.of_factory(factory_id, Kind.ADVISORY_PLAN)]

    async def history(self, repository: Repository[Any], aggregate_id: str) -> list[Change]:
        """Every change to a committee or a plan: what, when and by whom."""
        return whole(await repository.envelopes(aggregate_id))

    async def health(self, committee: Committee) -> list[HealthCheck]:
        """The committee's health today, against the workforce the registry last told us of."""
        try:
            factory: KnownFactory | None = await self.factories(committee.factory_id)
        except NotFound:
            factory = None
        workforce = None
        if factory is not None and factory.workers_total is not None and factory.workers_women is not None:
            workforce = Workforce(factory.workers_total, factory.workers_women)
        return health_checks(committee, workforce, self.today_in(committee.country), self.health_policy)

    async def circumstances(self, factory_id: str) -> Circumstances:
        factory = await self.factories(factory_id)
        return Circumstances(factory, await self.committees_of(factory.id), self.today_in(factory.country))

    # --- commands -----------------------------------------------------------------------------

    async def establish_committee(
        self, request: CommandRequest, factory_id: str, established_on: dt.date
    ) -> Outcome[Committee]:
        factory = await self.factories(factory_id)  # follows merges to the surviving record

        async def establish(transaction: Any, now: dt.datetime) -> tuple[str, Sequence[Any]]:
            previous = await self.directory.of_factory(factory.id, Kind.COMMITTEE)
            new_id = committee_id(factory.id, len(previous) + 1)
            last = await self.committees.get(previous[-1].id) if previous else None
            return new_id, Committee.establish(new_id, factory, established_on, today_in(factory.country, now), last)

        return await self.runner.create(self.committees, request, establish)

    async def change_committee(
        self, request: CommandRequest, committee_id: str, decide: Callable[[Committee, dt.date], Sequence[Any]]
    ) -> Outcome[Committee]:
        return await self.runner.change(self.committees, committee_id, request, decide)

    async def agree_plan(
        self,
        request: CommandRequest,
        factory_id: str,
        starts_on: dt.date,
        ends_on: dt.date,
        advisor: str,
        visits: int,
        priorities: Sequence[NewPriority],
        approval: Any,
    ) -> Outcome[AdvisoryPlan]:
        now = await self.circumstances(factory_id)

        async def agree(transaction: Any, moment: dt.datetime) -> tuple[str, Sequence[Any]]:
            previous = await self.directory.of_factory(now.factory.id, Kind.ADVISORY_PLAN)
            last = await self.plans.get(previous[-1].id) if previous else None
            today = today_in(now.factory.country, moment)
            events = AdvisoryPlan.agree(
                now.factory,
                len(previous) + 1,
                starts_on,
                ends_on,
                advisor,
                visits,
                priorities,
                today,
                last,
                now.action_items,
                approval,
            )
            return events[0].plan_id, events

        return await self.runner.create(self.plans, request, agree)

    async def change_plan(
        self, request: CommandRequest, plan_id: str, factory_id: str, decide: AdvisoryDecision
    ) -> Outcome[AdvisoryPlan]:
        """A change to a plan, decided in the circumstances of its factory now."""
        now = await self.circumstances(factory_id)
        return await self.runner.change(
            self.plans,
            plan_id,
            request,
            lambda plan, today: decide(plan, Circumstances(now.factory, now.committees, today)),
        )
