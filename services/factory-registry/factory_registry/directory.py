"""The registry's directory: who exists, by country, updated in the same transaction as the
events it follows. It answers what commands must know across streams (the next programme
number, likely duplicates, where a merged id now points, which factories share their reports
with a brand now) and lists for the API. Like every read model it can be rebuilt from the
events (`rebuild`)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from betterwork_events.catalogue import EventContract
from betterwork_events.commands import rebuild_directory
from betterwork_events.contracts.factory_registry import (
    BrandLinked,
    BrandPartnershipChanged,
    BrandRegistered,
    BrandUnlinked,
    FactoryClosed,
    FactoryDuplicateAbsorbed,
    FactoryEnrolled,
    FactoryEnrollmentApplied,
    FactoryEnrollmentReinstated,
    FactoryEnrollmentSuspended,
    FactoryMerged,
    FactoryProfile,
    FactoryProfileUpdated,
    FactoryRegistered,
    FactoryWithdrawn,
    ReportSharingConsentGranted,
    ReportSharingConsentRevoked,
)
from betterwork_events.store import EventStore
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from factory_registry import matching, programme_id
from factory_registry.matching import FactoryRecord

metadata = sa.MetaData()
factories = sa.Table(
    "factory_directory",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("country", sa.Text),
    sa.Column("year", sa.Integer),
    sa.Column("number", sa.Integer),
    sa.Column("name", sa.Text),
    sa.Column("local_name", sa.Text),
    sa.Column("address", sa.Text),
    # What duplicate matching looks factories up by (matching.name_key, matching.local_name_key).
    sa.Column("name_key", sa.Text),
    sa.Column("local_name_key", sa.Text),
    sa.Column("sector", sa.Text),
    sa.Column("enrollment", sa.Text),
    sa.Column("merged_into", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
brands = sa.Table(
    "brand_directory",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer),
    sa.Column("name", sa.Text),
    sa.Column("partnership", sa.Text),
)
# A brand reads a factory's reports while both rows exist: the factory supplies it, and consents.
supplier_links = sa.Table(
    "supplier_links",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("brand_id", sa.Text, primary_key=True),
)
# A factory's registration numbers with the country's authorities, as duplicate detection compares them
# (number_key): the same number in the same country is the same factory whatever its name. Not unique in
# the database: events from before the rule may hold a number twice, and the directory is rebuilt from them.
registration_numbers = sa.Table(
    "factory_registration_numbers",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("number_key", sa.Text, primary_key=True),
    sa.Column("country", sa.Text),
    sa.Column("number", sa.Text),
)
report_consents = sa.Table(
    "report_consents",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("brand_id", sa.Text, primary_key=True),
)

ENROLLMENT_BY_EVENT = {
    FactoryEnrollmentApplied: "applied",
    FactoryEnrolled: "enrolled",
    FactoryEnrollmentSuspended: "suspended",
    FactoryEnrollmentReinstated: "enrolled",
    FactoryWithdrawn: "withdrawn",
    FactoryClosed: "closed",
}


async def record(conn: AsyncConnection, events: Sequence[EventContract]) -> None:
    for event in events:
        match event:
            case FactoryRegistered(factory_id=factory_id, profile=profile):
                year = int(factory_id.split("-")[1])
                await conn.execute(
                    insert(factories).values(
                        id=factory_id,
                        country=profile.country,
                        year=year,
                        number=programme_id.number_of(factory_id),
                        name=profile.name,
                        local_name=profile.local_name,
                        address=profile.address,
                        sector=profile.sector.value,
                        **_match_keys(profile.name, profile.local_name, profile.country),
                    )
                )
                await _record_registration_numbers(conn, factory_id, profile)
            case FactoryProfileUpdated(factory_id=factory_id, profile=profile):
                await _update(
                    conn,
                    factory_id,
                    name=profile.name,
                    local_name=profile.local_name,
                    address=profile.address,
                    sector=profile.sector.value,
                    **_match_keys(profile.name, profile.local_name, profile.country),
                )
                await _record_registration_numbers(conn, factory_id, profile)
            case FactoryMerged(factory_id=factory_id, surviving_factory_id=survivor):
                await _update(conn, factory_id, merged_into=survivor)
                # What carries over came with the survivor's event; a merged record's registration
                # numbers are not a second factory's to hold.
                for table in (supplier_links, report_consents, registration_numbers):
                    await conn.execute(table.delete().where(table.c.factory_id == factory_id))
                # Ids that already pointed at the merged record now point at the survivor.
                await conn.execute(
                    factories.update().where(factories.c.merged_into == factory_id).values(merged_into=survivor)
                )
            case BrandLinked(factory_id=factory_id, brand_id=brand_id):
                await _add(conn, supplier_links, factory_id, [brand_id])
            case BrandUnlinked(factory_id=factory_id, brand_id=brand_id):
                await _remove(conn, supplier_links, factory_id, brand_id)
            case ReportSharingConsentGranted(factory_id=factory_id, brand_id=brand_id):
                await _add(conn, report_consents, factory_id, [brand_id])
            case ReportSharingConsentRevoked(factory_id=factory_id, brand_id=brand_id):
                await _remove(conn, report_consents, factory_id, brand_id)
            case FactoryDuplicateAbsorbed(factory_id=factory_id, brand_links=links, consenting_brands=consenting):
                await _add(conn, supplier_links, factory_id, list(links))
                await _add(conn, report_consents, factory_id, list(consenting))
            case BrandRegistered(brand_id=brand_id, name=name, partnership=partnership):
                await conn.execute(
                    insert(brands).values(
                        id=brand_id, number=int(brand_id.split("-")[1]), name=name, partnership=partnership.value
                    )
                )
            case BrandPartnershipChanged(brand_id=brand_id, partnership=partnership):
                await conn.execute(brands.update().where(brands.c.id == brand_id).values(partnership=partnership.value))
            case (
                FactoryEnrollmentApplied()
                | FactoryEnrolled()
                | FactoryEnrollmentSuspended()
                | FactoryEnrollmentReinstated()
                | FactoryWithdrawn()
                | FactoryClosed()
            ):
                await _update(conn, event.factory_id, enrollment=ENROLLMENT_BY_EVENT[type(event)])


async def _record_registration_numbers(conn: AsyncConnection, factory_id: str, profile: FactoryProfile) -> None:
    await conn.execute(registration_numbers.delete().where(registration_numbers.c.factory_id == factory_id))
    numbers = registration_number_keys(profile)
    rows = [
        {"factory_id": factory_id, "number_key": k, "country": profile.country, "number": n} for k, n in numbers.items()
    ]
    if rows:
        await conn.execute(insert(registration_numbers).values(rows))


def registration_number_keys(profile: FactoryProfile) -> dict[str, str]:
    """The profile's registration numbers as duplicate detection compares them (case, spaces and
    punctuation aside: "KH 0001-2345/b" is "kh00012345b"), each with the number as written."""
    keys = {"".join(c for c in r.number.casefold() if c.isalnum()): r.number for r in profile.registration_numbers}
    keys.pop("", None)  # a "number" of punctuation alone names nothing
    return keys


async def holder_of_registration_number(
    conn: AsyncConnection, profile: FactoryProfile, other_than: str | None = None
) -> tuple[str, FactoryRecord] | None:
    """The number of `profile` another live factory of its country holds, and that factory, if any.

    Each number is held (an advisory lock, sorted so two registrations never wait on each other
    in a circle) until the transaction ends: of two registrations racing with one number, the
    second looks only once the first has committed, and finds it."""
    keys = sorted(registration_number_keys(profile))
    for key in keys:
        await _hold(conn, f"registration:{profile.country}:{key}")
    if not keys:
        return None
    query = (
        sa.select(registration_numbers.c.number, factories.c.id, factories.c.name, factories.c.address)
        .join(factories, factories.c.id == registration_numbers.c.factory_id)
        .where(
            registration_numbers.c.country == profile.country,
            registration_numbers.c.number_key.in_(keys),
            factories.c.merged_into.is_(None),
            factories.c.id != other_than if other_than else sa.true(),
        )
        .order_by(factories.c.id)
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return row.number, FactoryRecord(factory_id=row.id, country=profile.country, name=row.name, address=row.address)


async def _add(conn: AsyncConnection, table: sa.Table, factory_id: str, brand_ids: list[str]) -> None:
    if brand_ids:
        rows = [{"factory_id": factory_id, "brand_id": brand_id} for brand_id in brand_ids]
        await conn.execute(insert(table).values(rows).on_conflict_do_nothing())


async def _remove(conn: AsyncConnection, table: sa.Table, factory_id: str, brand_id: str) -> None:
    await conn.execute(table.delete().where(table.c.factory_id == factory_id, table.c.brand_id == brand_id))


async def sharing_reports_with(conn: AsyncConnection, brand_id: str) -> list[str]:
    """The factories whose reports the brand may read now: its suppliers that consent."""
    query = (
        sa.select(supplier_links.c.factory_id)
        .join(
            report_consents,
            sa.and_(
                report_consents.c.factory_id == supplier_links.c.factory_id,
                report_consents.c.brand_id == supplier_links.c.brand_id,
            ),
        )
        .where(supplier_links.c.brand_id == brand_id)
        .order_by(supplier_links.c.factory_id)
    )
    return list((await conn.execute(query)).scalars())


async def _update(conn: AsyncConnection, factory_id: str, **values: object) -> None:
    await conn.execute(
        factories.update().where(factories.c.id == factory_id).values(**values, updated_at=sa.func.now())
    )


async def _numbering(conn: AsyncConnection, series: str) -> None:
    """Take the series' numbering until the transaction ends. Registrations racing for the next number
    of one series would each lose to a single winner in turn: a burst of them (clients retrying after
    an outage) ran out of attempts and was refused. Taken in turn, each costs one short wait."""
    await _hold(conn, f"numbering:{series}")


async def _hold(conn: AsyncConnection, name: str) -> None:
    """Wait for, then hold until the transaction ends, the advisory lock of `name`."""
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(name))))


async def next_factory_number(conn: AsyncConnection, country: str, year: int) -> int:
    """The next programme number of the country and year, held for this transaction."""
    await _numbering(conn, f"factory:{country}-{year}")
    query = sa.select(sa.func.coalesce(sa.func.max(factories.c.number), 0)).where(
        factories.c.country == country, factories.c.year == year
    )
    return int((await conn.execute(query)).scalar_one()) + 1


async def next_brand_number(conn: AsyncConnection) -> int:
    await _numbering(conn, "brand")
    return int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(brands.c.number), 0)))).scalar_one()) + 1


async def brand_exists(conn: AsyncConnection, brand_id: str) -> bool:
    return bool((await conn.execute(sa.select(sa.exists().where(brands.c.id == brand_id)))).scalar())


async def brand_named(conn: AsyncConnection, name: str) -> str | None:
    return (await conn.execute(sa.select(brands.c.id).where(sa.func.lower(brands.c.name) == name.lower()))).scalar()


async def country_of(conn: AsyncConnection, factory_id: str) -> str | None:
    return (await conn.execute(sa.select(factories.c.country).where(factories.c.id == factory_id))).scalar()


async def resolve(conn: AsyncConnection, factory_id: str) -> str:
    """The id to use for `factory_id`: itself, or the factory it was merged into."""
    merged_into = (await conn.execute(sa.select(factories.c.merged_into).where(factories.c.id == factory_id))).scalar()
    return merged_into or factory_id


def _match_keys(name: str, local_name: str | None, country: str) -> dict[str, str | None]:
    return {"name_key": matching.name_key(name, country), "local_name_key": matching.local_name_key(local_name)}


# How many of the nearest names (by trigrams, through the index) a registration is compared with, besides
# every factory of the same normalised name or local-script name. A likely duplicate scores at least 0.7
# in name similarity; fifty names nearer than it in one country would be fifty candidates of their own.
NEAREST_NAMES = 50


async def possible_duplicates(
    conn: AsyncConnection, country: str, name: str, local_name: str | None
) -> list[FactoryRecord]:
    """The country's factories (merged records excluded) that `name` could duplicate, found by index, so a
    registration reads about as many rows with 100 factories in the country as with 100,000."""
    rows = await conn.execute(possible_duplicates_query(country, name, local_name))
    return [
        FactoryRecord(factory_id=r.id, country=r.country, name=r.name, address=r.address, local_name=r.local_name)
        for r in rows
    ]


def possible_duplicates_query(country: str, name: str, local_name: str | None) -> sa.CompoundSelect:
    """The same normalised name, the same local-script name, and the names nearest by pg_trgm distance."""
    live = sa.and_(factories.c.country == country, factories.c.merged_into.is_(None))
    key = matching.name_key(name, country)
    columns = (factories.c.id, factories.c.country, factories.c.name, factories.c.address, factories.c.local_name)
    lookups = [
        sa.select(*columns).where(live).order_by(factories.c.name_key.op("<->")(key)).limit(NEAREST_NAMES),
        sa.select(*columns).where(live, factories.c.name_key == key),
    ]
    if local_key := matching.local_name_key(local_name):
        lookups.append(sa.select(*columns).where(live, factories.c.local_name_key == local_key))
    return sa.union(*lookups)


async def rebuild(store: EventStore) -> int:
    """Drop the directory and replay every event into it; returns how many events were replayed."""
    tables = "factory_directory, brand_directory, supplier_links, report_consents, factory_registration_numbers"
    return await rebuild_directory(store, tables, record)
