"""Brands and their supply base: brand -> suppliers, as far as the caller may read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import strawberry

from gateway import policy
from gateway.graphql.context import Context
from gateway.graphql.factories import Factory
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, from_global_id, global_id
from gateway.read_models import directory, pages
from gateway.read_models.pages import PageRequest
from gateway.read_models.snapshot import Reader

Info = strawberry.Info[Context, None]


@strawberry.type(description="A brand or retailer buying from programme factories")
class Brand(Node):
    brand_id: strawberry.ID = strawberry.field(description="The registry's id, e.g. BR-0001")
    name: str
    partnership: str = strawberry.field(description="Its partnership with the programme")

    @strawberry.field(
        description="Its linked suppliers you may read, by name: for the brand itself, those that consent to share "
        "their reports with it"
    )
    async def suppliers(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Factory]:
        loader = info.context.pages(directory.suppliers_of_brands)
        return connection(await loader.load((str(self.brand_id), PageRequest.of(first, after))), Factory.of)

    @classmethod
    def of(cls, row: Any) -> Brand:
        return cls(
            id=global_id("Brand", row.id),
            brand_id=strawberry.ID(row.id),
            name=row.name,
            partnership=row.partnership,
        )


async def brands_batch(engine: Reader, scope: policy.Scope, ids: Sequence[str]) -> list[Any]:
    return await directory.brands_by_id(engine, scope, ids)


async def brand(info: Info, brand_id: str) -> Brand | None:
    """None whether it does not exist or is out of the caller's reach: the two answer alike."""
    row = await info.context.loader(brands_batch).load(brand_id)
    return Brand.of(row) if row is not None else None


@strawberry.type
class Query:
    @strawberry.field(description="The brands you may read, by name: all for programme staff, yourself for a brand")
    async def brands(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Brand]:
        context = info.context
        query = directory.readable_brands(context.scope)
        page = await pages.page(context.reads, query, directory.BRANDS_BY_NAME, PageRequest.of(first, after))
        return connection(page, Brand.of)

    @strawberry.field(description="One brand, by its registry id or its global id")
    async def brand(self, info: Info, id: strawberry.ID) -> Brand | None:
        found = from_global_id(id)
        return await brand(info, found[1] if found is not None and found[0] == "Brand" else id)
