"""The registry's directory is a read model: dropped and rebuilt from the events, it is the same."""

from __future__ import annotations

import sqlalchemy as sa
from betterwork_events.contracts.factory_registry import BrandKind, FactoryProfile, PartnershipStatus
from betterwork_events.store import CommandContext, EventStore
from factory_registry import directory, handlers
from sqlalchemy.ext.asyncio import create_async_engine

STAFF = CommandContext(actor="programme:staff-7")


async def snapshot(store: EventStore) -> list[tuple]:
    async with store.engine.connect() as conn:
        factories = await conn.execute(
            sa.select(*[c for c in directory.factories.c if c.name != "updated_at"]).order_by(directory.factories.c.id)
        )
        brands = await conn.execute(sa.select(directory.brands).order_by(directory.brands.c.id))
        return [tuple(r) for r in factories] + [tuple(r) for r in brands]


async def test_the_directory_rebuilt_from_events_equals_the_one_kept_in_step(create_database) -> None:
    engine = create_async_engine(await create_database("factory-registry"))
    store = EventStore(engine, source="/betterwork/factory-registry")
    try:
        ids = []
        for name in ["Dhaka Knit Composite", "Gazipur Denim Mills", "Ashulia Sweaters"]:
            profile = FactoryProfile(name=name, country="BD", address=f"{name} Road, Gazipur")
            ids.append(
                (
                    await handlers.register_factory(handlers.RegisterFactory(profile, confirmed_new=True), store, STAFF)
                ).id
            )
        await handlers.register_brand(
            handlers.RegisterBrand("Northwind Outfitters", BrandKind.RETAILER, PartnershipStatus.PARTNER), store, STAFF
        )
        await handlers.change_factory(store, ids[0], None, lambda f: f.apply_for_enrollment(), STAFF)
        await handlers.merge_factories(store, ids[2], ids[1], "same site", STAFF)
        kept = await snapshot(store)

        replayed = await directory.rebuild(store)

        assert replayed == 7
        assert await snapshot(store) == kept
        assert len(kept) == 4 and any(row[0] == ids[2] and row[-1] == ids[1] for row in kept)
    finally:
        await store.close()
        await engine.dispose()
