"""Duplicate matching reads the factories it compares through an index: a registration in a country of
20,000 factories reads about as many directory rows as in one of 200, and still finds its duplicate."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import sqlalchemy as sa
from betterwork_events.contracts.factory_registry import FactoryProfile, FactoryRegistered
from betterwork_events.store import CommandContext, EventStore
from factory_registry import directory, handlers, programme_id
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

STAFF = CommandContext(actor="programme:staff-7")
FIRST = ["Angkor", "Bayon", "Mekong", "Tonle", "Sokha", "Kampot", "Kep", "Preah", "Sen", "Chey", "Vattanac", "Sorya"]
SECOND = ["Golden", "Lotus", "River", "Star", "Royal", "Pearl", "Jade", "Phoenix", "Dragon", "Crown", "Silk", "Orchid"]
THIRD = ["Garment", "Apparel", "Textile", "Knitwear", "Fashion", "Sewing", "Clothing", "Denim", "Industry", "Wear"]
STREETS = ["National Road 4", "Veng Sreng Blvd", "Street 598", "Russian Blvd", "Chbar Ampov", "Por Sen Chey"]


def kh_factory(n: int) -> FactoryRegistered:
    """The n-th of a country's worth of Cambodian factories with names that share their words widely."""
    first, second, third = FIRST[n % 12], SECOND[n // 12 % 12], THIRD[n // 144 % 10]
    name = f"{first} {second} {third} {n // 1440 + 1} Co., Ltd."
    address = f"{STREETS[n % 6]}, Phnom Penh"
    profile = FactoryProfile(name=name, country="KH", address=address)
    return FactoryRegistered(factory_id=programme_id.programme_id("KH", 2019, n + 1), profile=profile)


async def grow_country(conn: AsyncConnection, numbers: range) -> None:
    await directory.record(conn, [kh_factory(n) for n in numbers])
    await conn.execute(sa.text("ANALYZE factory_directory"))  # as autovacuum would after such a growth


def rows_read(plan: dict[str, Any]) -> int:
    """Rows the plan's scans of tables returned or read and threw away, over all their loops."""
    read = 0
    if "Relation Name" in plan:
        kept = (
            plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
        )
        read += kept * plan["Actual Loops"]
    return read + sum(rows_read(child) for child in plan.get("Plans", []))


def scans(plan: dict[str, Any]) -> set[str]:
    return {plan["Node Type"]} | set(itertools.chain.from_iterable(scans(c) for c in plan.get("Plans", [])))


async def explain(conn: AsyncConnection, name: str, local_name: str | None = None) -> dict[str, Any]:
    query = directory.possible_duplicates_query("KH", name, local_name).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    answer = (await conn.execute(sa.text(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}"))).scalar_one()
    return (json.loads(answer) if isinstance(answer, str) else answer)[0]["Plan"]


async def test_among_twenty_thousand_factories_a_registration_reads_few_rows_and_finds_its_duplicate(
    create_database,
) -> None:
    engine = create_async_engine(await create_database("factory-registry"))
    store = EventStore(engine, source="/betterwork/factory-registry")
    try:
        async with engine.begin() as conn:
            await grow_country(conn, range(20_000))
            plans = [await explain(conn, "Sokha Royal Garments Co., Ltd.", local) for local in (None, "សុខា រ៉ូយ៉ាល់")]
        # The fifty nearest names and the exact ones, through indexes; a scan of the country reads 20,000.
        for plan in plans:
            assert rows_read(plan) <= directory.NEAREST_NAMES + 20, plan
            assert "Seq Scan" not in scans(plan), plan

        known = kh_factory(52)
        assert known.profile.name == "Sokha Royal Garment 1 Co., Ltd."
        spelt_otherwise = FactoryProfile(
            name="SOKHA ROYAL GARMENTS 1 COMPANY LIMITED", country="KH", address="Phnom Penh"
        )
        with pytest.raises(handlers.LikelyDuplicates) as refused:
            await handlers.register_factory(handlers.RegisterFactory(spelt_otherwise), store, STAFF)
        assert known.factory_id in [c.factory_id for c in refused.value.candidates]

        typo = FactoryProfile(name="Sokha Roayl Garment 1", country="KH", address=known.profile.address)
        with pytest.raises(handlers.LikelyDuplicates) as refused:
            await handlers.register_factory(handlers.RegisterFactory(typo), store, STAFF)
        assert refused.value.candidates[0].factory_id == known.factory_id

        new = FactoryProfile(name="Battambang Rice Sacks", country="KH", address="Route 5, Battambang")
        assert (await handlers.register_factory(handlers.RegisterFactory(new), store, STAFF)).profile == new
    finally:
        await engine.dispose()
