"""The GraphQL schema that portals and partner systems query."""

from __future__ import annotations

from dataclasses import dataclass

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


@strawberry.type(description="A factory in the programme")
class Factory:
    id: strawberry.ID
    name: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    address: str


@strawberry.type
class Query:
    @strawberry.field(description="The factories you may read, by name")
    async def factories(self, info: Info[Context, None], country: str | None = None) -> list[Factory]:
        context = info.context
        try:
            allowed = policy.readable_factories(context.principal)
        except policy.AccessDenied as denied:
            raise PermissionError(str(denied)) from None
        query = sa.select(factories).where(allowed).order_by(factories.c.name, factories.c.id)
        if country is not None:
            query = query.where(factories.c.country == country)
        async with context.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings()
            return [
                Factory(id=strawberry.ID(r["id"]), name=r["name"], country=r["country"], address=r["address"])
                for r in rows
            ]


schema = strawberry.Schema(query=Query)
