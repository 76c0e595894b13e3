"""The GraphQL schema that portals and partner systems query."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa
import strawberry
from betterwork_events.auth import Principal
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from gateway import policy
from gateway.read_model import factories


@dataclass
class Context(BaseContext):
    principal: Principal | None
    engine: AsyncEngine

    def __post_init__(self) -> None:
        super().__init__()


@strawberry.enum(description="Where a factory stands with its country programme")
class Enrollment(Enum):
    APPLIED = "applied"
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


@strawberry.type(description="Workers employed at the site")
class Workforce:
    total: int
    women: int
    men: int


@strawberry.type(description="A factory in the programme")
class Factory:
    id: strawberry.ID
    name: str
    local_name: str | None
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    address: str
    sector: str
    enrollment: Enrollment | None
    workforce: Workforce | None

    @classmethod
    def of(cls, row: Any) -> Factory:
        workforce = (
            Workforce(total=row.workers_total, women=row.workers_women or 0, men=row.workers_men or 0)
            if row.workers_total is not None
            else None
        )
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            local_name=row.local_name,
            country=row.country,
            address=row.address,
            sector=row.sector,
            enrollment=Enrollment(row.enrollment) if row.enrollment else None,
            workforce=workforce,
        )


@strawberry.type(description="A country's programme in numbers; cells of fewer than 5 factories are withheld")
class CountrySummary:
    country: str
    enrolled_factories: int | None
    workers: int | None
    women_share: float | None = strawberry.field(description="Women among the enrolled factories' workers, from 0 to 1")
    suppressed: bool = strawberry.field(description="True when the figures are withheld because the cell is small")


def _allowed(build: Any) -> Any:
    try:
        return build()
    except policy.AccessDenied as denied:
        raise PermissionError(str(denied)) from None


@strawberry.type
class Query:
    @strawberry.field(description="The factories you may read, by name")
    async def factories(
        self, info: Info[Context, None], country: str | None = None, enrollment: Enrollment | None = None
    ) -> list[Factory]:
        context = info.context
        allowed = _allowed(lambda: policy.readable_factories(context.principal))
        query = (
            sa.select(factories)
            .where(allowed, factories.c.merged_into.is_(None))
            .order_by(factories.c.name, factories.c.id)
        )
        if country is not None:
            query = query.where(factories.c.country == country)
        if enrollment is not None:
            query = query.where(factories.c.enrollment == enrollment.value)
        async with context.engine.connect() as conn:
            return [Factory.of(row) for row in await conn.execute(query)]

    @strawberry.field(description="One factory; the id of a merged record finds the factory it was merged into")
    async def factory(self, info: Info[Context, None], id: strawberry.ID) -> Factory | None:
        context = info.context
        allowed = _allowed(lambda: policy.readable_factories(context.principal))
        async with context.engine.connect() as conn:
            merged_into = (await conn.execute(sa.select(factories.c.merged_into).where(factories.c.id == id))).scalar()
            row = (
                await conn.execute(sa.select(factories).where(factories.c.id == (merged_into or id), allowed))
            ).first()
        return Factory.of(row) if row else None

    @strawberry.field(description="A country's enrolled factories and their workforce, in aggregate")
    async def country_summary(self, info: Info[Context, None], country: str) -> CountrySummary:
        _allowed(lambda: policy.readable_country_aggregates(info.context.principal, country))
        query = sa.select(
            sa.func.count(),
            sa.func.sum(factories.c.workers_total),
            sa.func.sum(factories.c.workers_women),
        ).where(factories.c.country == country, factories.c.enrollment == "enrolled", factories.c.merged_into.is_(None))
        async with info.context.engine.connect() as conn:
            count, workers, women = (await conn.execute(query)).one()
        if count < policy.SMALLEST_CELL:
            return CountrySummary(
                country=country, enrolled_factories=None, workers=None, women_share=None, suppressed=True
            )
        share = round(women / workers, 3) if workers else None
        return CountrySummary(
            country=country, enrolled_factories=count, workers=workers, women_share=share, suppressed=False
        )


schema = strawberry.Schema(query=Query)
