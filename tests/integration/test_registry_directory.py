"""The registry's directory is a read model: dropped and rebuilt from the events, it is the same."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from betterwork_events.contracts.factory_registry import BrandKind, FactoryProfile, PartnershipStatus
from betterwork_events.migrations import upgrade
from betterwork_events.store import CommandContext, EventStore
from factory_registry import directory, handlers
from factory_registry.domain import Brand
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import MIGRATIONS

STAFF = CommandContext(actor="programme:staff-7")


async def snapshot(store: EventStore) -> list[tuple]:
    async with store.engine.connect() as conn:
        factories = await conn.execute(
            sa.select(*[c for c in directory.factories.c if c.name != "updated_at"]).order_by(directory.factories.c.id)
        )
        rows = [tuple(r) for r in factories]
        for table in (directory.brands, directory.supplier_links, directory.report_consents):
            rows += [(table.name, *r) for r in await conn.execute(sa.select(table).order_by(*table.primary_key))]
        return rows


async def register(store: EventStore, name: str) -> str:
    profile = FactoryProfile(name=name, country="BD", address=f"{name} Road, Gazipur")
    return (await handlers.register_factory(handlers.RegisterFactory(profile, confirmed_new=True), store, STAFF)).id


async def brand(store: EventStore, name: str) -> Brand:
    command = handlers.RegisterBrand(name, BrandKind.RETAILER, PartnershipStatus.PARTNER)
    return await handlers.register_brand(command, store, STAFF)


async def sharing(store: EventStore, brand_id: str) -> list[str]:
    return await handlers.factories_sharing_reports_with(store, brand_id)


async def test_the_directory_rebuilt_from_events_equals_the_one_kept_in_step(create_database) -> None:
    engine = create_async_engine(url := await create_database("factory-registry"))
    store = EventStore(engine, source="/betterwork/factory-registry")
    try:
        dhaka, gazipur, ashulia = [
            await register(store, name) for name in ["Dhaka Knit Composite", "Gazipur Denim Mills", "Ashulia Sweaters"]
        ]
        northwind, harbour = await brand(store, "Northwind Outfitters"), await brand(store, "Harbour & Pine")
        await handlers.change_factory(store, dhaka, None, lambda f: f.apply_for_enrollment(), STAFF)
        for step in [
            lambda f: f.link_brand(northwind, dt.date(2025, 1, 15)),
            lambda f: f.grant_consent(northwind),
            lambda f: f.link_brand(harbour, dt.date(2025, 2, 1)),
            lambda f: f.grant_consent(harbour),
            lambda f: f.revoke_consent(harbour.id),
        ]:
            await handlers.change_factory(store, dhaka, None, step, STAFF)
        for step in [
            lambda f: f.link_brand(northwind, dt.date(2025, 1, 15)),
            lambda f: f.grant_consent(northwind),
            lambda f: f.unlink_brand(northwind.id, dt.date(2025, 6, 30)),
        ]:
            await handlers.change_factory(store, gazipur, None, step, STAFF)
        for step in [lambda f: f.link_brand(harbour, dt.date(2025, 3, 1)), lambda f: f.grant_consent(harbour)]:
            await handlers.change_factory(store, ashulia, None, step, STAFF)
        await handlers.merge_factories(store, ashulia, gazipur, "same site", STAFF)  # the link comes, not consent

        assert (await sharing(store, northwind.id), await sharing(store, harbour.id)) == ([dhaka], [])
        await handlers.change_factory(store, gazipur, None, lambda f: f.grant_consent(harbour), STAFF)
        assert await sharing(store, harbour.id) == [gazipur]
        kept = await snapshot(store)

        replayed = await directory.rebuild(store)

        assert replayed == 19
        assert await snapshot(store) == kept
        assert any(row[0] == ashulia and row[-1] == gazipur for row in kept)

        # The migration that added links and consents to the directory filled them from the events, and the
        # one that added the keys duplicate matching looks factories up by computed them for every factory.
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE supplier_links, report_consents"))
            await conn.execute(
                sa.text("ALTER TABLE factory_directory DROP COLUMN name_key, DROP COLUMN local_name_key")
            )
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))
        await asyncio.to_thread(upgrade, MIGRATIONS["factory-registry"], url)
        assert await snapshot(store) == kept
    finally:
        await store.close()
        await engine.dispose()
