"""The registry's directory is a read model: dropped and rebuilt from the events, it is the same."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from betterwork_events.contracts.factory_registry import (
    BrandKind,
    FactoryProfile,
    PartnershipStatus,
    RegistrationNumber,
)
from betterwork_events.migrations import upgrade
from betterwork_events.store import CommandContext, EventStore
from factory_registry import directory, handlers
from factory_registry.domain import Brand, Factory, FactoryEvent
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import MIGRATIONS

STAFF = CommandContext(actor="programme:staff-7")


async def snapshot(store: EventStore) -> list[tuple]:
    async with store.engine.connect() as conn:
        factories = await conn.execute(
            sa.select(*[c for c in directory.factories.c if c.name != "updated_at"]).order_by(directory.factories.c.id)
        )
        rows = [tuple(r) for r in factories]
        for table in (
            directory.brands,
            directory.supplier_links,
            directory.report_consents,
            directory.registration_numbers,
        ):
            rows += [(table.name, *r) for r in await conn.execute(sa.select(table).order_by(*table.primary_key))]
        return rows


async def register(store: EventStore, name: str) -> str:
    number = RegistrationNumber(authority="RJSC", number=f"C-{len(name)}{name[:3]}/2019")
    profile = FactoryProfile(name=name, country="BD", address=f"{name} Road, Gazipur", registration_numbers=(number,))
    return (await handlers.register_factory(handlers.RegisterFactory(profile, confirmed_new=True), store, STAFF)).id


async def change(store: EventStore, factory_id: str, decide: Callable[[Factory], list[FactoryEvent]]) -> None:
    """A change at the version read just before (what is tested here is the directory, not concurrency)."""
    version = (await handlers.load_factory(store, factory_id)).version
    await handlers.change_factory(store, factory_id, version, decide, STAFF)


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
        await change(store, dhaka, lambda f: f.apply_for_enrollment())
        renumbered = (
            RegistrationNumber(authority="RJSC", number="C-2020/88"),
            RegistrationNumber(authority="BEPZA", number="E 17"),
        )
        await change(store, dhaka, lambda f: f.update_profile({"registration_numbers": renumbered}))
        for step in [
            lambda f: f.link_brand(northwind, dt.date(2025, 1, 15)),
            lambda f: f.grant_consent(northwind),
            lambda f: f.link_brand(harbour, dt.date(2025, 2, 1)),
            lambda f: f.grant_consent(harbour),
            lambda f: f.revoke_consent(harbour.id),
        ]:
            await change(store, dhaka, step)
        for step in [
            lambda f: f.link_brand(northwind, dt.date(2025, 1, 15)),
            lambda f: f.grant_consent(northwind),
            lambda f: f.unlink_brand(northwind.id, dt.date(2025, 6, 30)),
        ]:
            await change(store, gazipur, step)
        for step in [lambda f: f.link_brand(harbour, dt.date(2025, 3, 1)), lambda f: f.grant_consent(harbour)]:
            await change(store, ashulia, step)
        ashulia_version = (await handlers.load_factory(store, ashulia)).version
        # The link comes, not consent; its registration number is no longer a factory's of its own.
        await handlers.merge_factories(store, ashulia, ashulia_version, gazipur, "same site", STAFF)

        assert (await sharing(store, northwind.id), await sharing(store, harbour.id)) == ([dhaka], [])
        await change(store, gazipur, lambda f: f.grant_consent(harbour))
        assert await sharing(store, harbour.id) == [gazipur]
        kept = await snapshot(store)

        replayed = await directory.rebuild(store)

        assert replayed == 20
        assert await snapshot(store) == kept
        assert any(row[0] == ashulia and row[-1] == gazipur for row in kept)
        numbers = [row[1:] for row in kept if row[0] == "factory_registration_numbers"]
        assert sorted((factory_id, key) for factory_id, key, _, _ in numbers) == sorted(
            [(dhaka, "c202088"), (dhaka, "e17"), (gazipur, "c19gaz2019")]
        )

        # The migration that added links and consents to the directory filled them from the events, the
        # one that added the keys duplicate matching looks factories up by computed them for every factory,
        # and the one that added registration numbers took each live factory's latest from the events.
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE supplier_links, report_consents, factory_registration_numbers"))
            await conn.execute(
                sa.text("ALTER TABLE factory_directory DROP COLUMN name_key, DROP COLUMN local_name_key")
            )
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))
        await asyncio.to_thread(upgrade, MIGRATIONS["factory-registry"], url)
        assert await snapshot(store) == kept
    finally:
        await store.close()
        await engine.dispose()
