"""Factories and what their country programme counts of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import sqlalchemy as sa
import strawberry

from gateway import policy
from gateway.graphql import advisory, committees, improvement_plans, reports, training
from gateway.graphql.assessments import Assessment, AssessmentStatus, of_factory
from gateway.graphql.context import Context
from gateway.graphql.history import HistoryEntry, HistoryService, history_of
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, from_global_id, global_id
from gateway.read_models import directory, pages
from gateway.read_models.directory import factories
from gateway.read_models.pages import PageRequest
from gateway.read_models.snapshot import Reader

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Where a factory stands with its country programme")
class Enrollment(Enum):
    APPLIED = "applied"
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


@strawberry.type(description="Another id or name a factory was known by")
class FactoryAlias:
    factory_id: strawberry.ID = strawberry.field(
        description="A record merged into this factory, or the factory's own id for a former name"
    )
    name: str | None = strawberry.field(description="None for a record merged before the registry kept names")


async def aliases_batch(engine: Reader, scope: policy.Scope, ids: Sequence[str]) -> list[list[FactoryAlias]]:
    found = await directory.aliases_of(engine, scope, ids)
    return [[FactoryAlias(factory_id=strawberry.ID(r.alias_id), name=r.name or None) for r in rows] for rows in found]


@strawberry.type(description="Workers employed at the site")
class Workforce:
    total: int
    women: int
    men: int


@strawberry.type(description="A factory in the programme")
class Factory(Node):
    factory_id: strawberry.ID = strawberry.field(description="The programme's id, e.g. KH-2026-0042-5")
    name: str
    local_name: str | None
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    address: str
    sector: str
    enrollment: Enrollment | None
    workforce: Workforce | None

    @strawberry.field(description="The records merged into it and its former names, oldest first")
    async def aliases(self, info: Info) -> list[FactoryAlias]:
        found: list[FactoryAlias] = await info.context.loader(aliases_batch).load(self.factory_id)
        return found

    @strawberry.field(description="Its published assessment reports, newest first")
    async def assessment_reports(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[reports.AssessmentReport]:
        return await reports.of_factory(self.factory_id, info, first, after)

    @strawberry.field(
        description="The training sessions that train its people, latest first; of a shared session a factory's "
        "users read only their own people and figures"
    )
    async def training_sessions(
        self,
        info: Info,
        course: Annotated[str | None, training.COURSE] = None,
        status: training.TrainingStatus | None = None,
        from_: Annotated[dt.date | None, training.FROM] = None,
        to: Annotated[dt.date | None, training.TO] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[training.TrainingSession]:
        narrowed = training.session_filter(course, status, from_, to, country=None)
        return await training.of_factory(self.factory_id, info, first, after, narrowed)

    improvement_actions: Connection[improvement_plans.ImprovementAction] = strawberry.field(
        resolver=improvement_plans.actions_of_factory, description="Its improvement actions, soonest due first"
    )
    remediations: Connection[improvement_plans.Remediation] = strawberry.field(
        resolver=improvement_plans.remediations_of_factory,
        description="The remediation of its published non-compliant findings, newest report first",
    )

    @strawberry.field(description="What happened to it in every service, newest first, as far as you may read it")
    async def history(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        service: HistoryService | None = None,
        since: Annotated[datetime | None, strawberry.argument(description="Only entries from this time on")] = None,
    ) -> Connection[HistoryEntry]:
        return await history_of(self.factory_id, info, first, after, service, since)

    @strawberry.field(description="Its active worker-management committee: programme staff and the factory itself")
    async def committee(self, info: Info) -> committees.Committee | None:
        return await committees.active_of_factory(info, self.factory_id)

    @strawberry.field(description="Every committee it has had, newest first: programme staff and the factory itself")
    async def committees(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[committees.Committee] | None:
        return await committees.of_factory(info, self.factory_id, first, after)

    @strawberry.field(
        description="Its advisory plans, newest cycle first; a brand reads only their cycles and priorities by cluster"
    )
    async def advisory_plans(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[advisory.AdvisoryPlan]:
        return await advisory.of_factory(info, self.factory_id, first, after)

    @strawberry.field(description="Its assessments you may read, newest scheduled first")
    async def assessments(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        status: AssessmentStatus | None = None,
        cycle: int | None = None,
        published_from: dt.date | None = None,
        published_to: dt.date | None = None,
        year: int | None = None,
    ) -> Connection[Assessment]:
        return await of_factory(self.factory_id, info, first, after, status, cycle, published_from, published_to, year)

    @classmethod
    def of(cls, row: Any) -> Factory:
        workforce = (
            Workforce(total=row.workers_total, women=row.workers_women or 0, men=row.workers_men or 0)
            if row.workers_total is not None
            else None
        )
        return cls(
            id=global_id("Factory", row.id),
            factory_id=strawberry.ID(row.id),
            name=row.name,
            local_name=row.local_name,
            country=row.country,
            address=row.address,
            sector=row.sector,
            enrollment=Enrollment(row.enrollment) if row.enrollment else None,
            workforce=workforce,
        )


async def factory(info: Info, factory_id: str) -> Factory | None:
    """None whether it does not exist or is out of the caller's reach: the two answer alike."""
    row = await info.context.loader(factories_batch).load(factory_id)
    return Factory.of(row) if row is not None else None


async def factories_batch(engine: Reader, scope: policy.Scope, ids: Sequence[str]) -> list[Any]:
    return await directory.factories_by_id(engine, ids, scope.factories())


@strawberry.type(
    description="A country's programme in numbers; cells of fewer than 5 factories are withheld, workers are "
    "rounded to the hundred and shares to the hundredth"
)
class CountrySummary:
    country: str
    enrolled_factories: int | None
    workers: int | None
    women_share: float | None = strawberry.field(description="Women among the enrolled factories' workers, from 0 to 1")
    suppressed: bool = strawberry.field(description="True when the figures are withheld because the cell is small")


BY_NAME = pages.Order((factories.c.name, factories.c.id))


@strawberry.type
class Query:
    @strawberry.field(description="The factories you may read, by name")
    async def factories(
        self,
        info: Info,
        country: str | None = None,
        enrollment: Enrollment | None = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Factory]:
        context = info.context
        query = sa.select(factories).where(context.scope.factories(), directory.current_factories())
        if country is not None:
            query = query.where(factories.c.country == country)
        if enrollment is not None:
            query = query.where(factories.c.enrollment == enrollment.value)
        page = await pages.page(context.reads, query, BY_NAME, PageRequest.of(first, after))
        return connection(page, Factory.of)

    @strawberry.field(
        description="One factory, by its programme id or its global id; a merged record's id finds the factory "
        "it was merged into"
    )
    async def factory(self, info: Info, id: strawberry.ID) -> Factory | None:
        found = from_global_id(id)
        return await factory(info, found[1] if found is not None and found[0] == "Factory" else id)

    @strawberry.field(description="A country's enrolled factories and their workforce, in aggregate")
    async def country_summary(self, info: Info, country: str) -> CountrySummary:
        info.context.scope.country_aggregates(country)
        query = sa.select(
            sa.func.count(),
            sa.func.count(factories.c.workers_total),
            sa.func.sum(factories.c.workers_total),
            sa.func.sum(factories.c.workers_women),
        ).where(factories.c.country == country, factories.c.enrollment == "enrolled", directory.current_factories())
        async with info.context.reads.connect() as conn:
            count, with_workforce, workers, women = (await conn.execute(query)).one()
        if policy.withheld(count):
            return CountrySummary(
                country=country, enrolled_factories=None, workers=None, women_share=None, suppressed=True
            )
        if policy.withheld(with_workforce):
            # The workforce figures are a cell of their own: the factories that recorded one.
            return CountrySummary(
                country=country, enrolled_factories=count, workers=None, women_share=None, suppressed=True
            )
        share = policy.rounded_share(women / workers) if workers else None
        return CountrySummary(
            country=country,
            enrolled_factories=count,
            workers=policy.rounded_workers(workers),
            women_share=share,
            suppressed=False,
        )
