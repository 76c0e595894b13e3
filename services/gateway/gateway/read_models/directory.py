"""Factories, brands, who supplies whom, and who consents to share reports with whom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads this module's tables
    from gateway.policy import Scope

factories = sa.Table(
    "factories",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("local_name", sa.Text),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("sector", sa.Text, nullable=False),
    sa.Column("enrollment", sa.Text),
    sa.Column("workers_total", sa.Integer),
    sa.Column("workers_women", sa.Integer),
    sa.Column("workers_men", sa.Integer),
    sa.Column("merged_into", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

brands = sa.Table(
    "brands",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("partnership", sa.Text, nullable=False),
)

supplier_links = sa.Table(
    "supplier_links",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("brand_id", sa.Text, primary_key=True),
    sa.Column("since", sa.Date, nullable=False),
)

consents = sa.Table(
    "report_sharing_consents",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("brand_id", sa.Text, primary_key=True),
)

ENROLLMENT: dict[type[fr.FactoryRegistryEvent], str] = {
    fr.FactoryEnrollmentApplied: "applied",
    fr.FactoryEnrolled: "enrolled",
    fr.FactoryEnrollmentSuspended: "suspended",
    fr.FactoryEnrollmentReinstated: "enrolled",
    fr.FactoryWithdrawn: "withdrawn",
    fr.FactoryClosed: "closed",
}

# The other ids and names a factory is known by: the records merged into it and its former names,
# oldest first (`position` orders the aliases one event brings). A record merged before the
# registry kept names has name '' (no name is known).
aliases = sa.Table(
    "factory_aliases",
    metadata,
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("alias_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)

projection = Projection("factory-directory", [factories, brands, supplier_links, consents, aliases])


def _profile_columns(profile: fr.FactoryProfile) -> dict[str, object]:
    workforce = profile.workforce
    return {
        "name": profile.name,
        "local_name": profile.local_name,
        "country": profile.country,
        "address": profile.address,
        "sector": profile.sector.value,
        "workers_total": workforce.total if workforce else None,
        "workers_women": workforce.women if workforce else None,
        "workers_men": workforce.men if workforce else None,
    }


async def _update(conn: AsyncConnection, event: Envelope, factory_id: str, **values: object) -> None:
    await advanced(conn, factories, factories.c.id == factory_id, event, **values, updated_at=event.time)


async def _link(conn: AsyncConnection, factory_id: str, brand_id: str, since: object) -> None:
    await conn.execute(
        insert(supplier_links).values(factory_id=factory_id, brand_id=brand_id, since=since).on_conflict_do_nothing()
    )


async def _consent(conn: AsyncConnection, factory_id: str, brand_id: str) -> None:
    await conn.execute(insert(consents).values(factory_id=factory_id, brand_id=brand_id).on_conflict_do_nothing())


async def _alias(
    conn: AsyncConnection, factory_id: str, known_as: Sequence[fr.FactoryAlias], envelope: Envelope
) -> None:
    rows = [
        {
            "factory_id": factory_id,
            "alias_id": a.factory_id,
            "name": a.name or "",
            "recorded_at": envelope.time,
            "position": i,
        }
        for i, a in enumerate(known_as)
    ]
    await conn.execute(insert(aliases).values(rows).on_conflict_do_nothing())


@projection.on(fr.FactoryRegistered)
async def registered(conn: AsyncConnection, event: fr.FactoryRegistered, envelope: Envelope) -> None:
    columns = _profile_columns(event.profile)
    await conn.execute(
        insert(factories)
        .values(id=event.factory_id, **columns, version=envelope.streamversion, updated_at=envelope.time)
        .on_conflict_do_nothing()
    )


@projection.on(fr.FactoryProfileUpdated)
async def profile_updated(conn: AsyncConnection, event: fr.FactoryProfileUpdated, envelope: Envelope) -> None:
    newer = factories.c.version < envelope.streamversion  # an older update arriving late renames nothing
    former = await conn.scalar(sa.select(factories.c.name).where(factories.c.id == event.factory_id, newer))
    if former is not None and former != event.profile.name:
        await _alias(conn, event.factory_id, [fr.FactoryAlias(factory_id=event.factory_id, name=former)], envelope)
    await _update(conn, envelope, event.factory_id, **_profile_columns(event.profile))


@projection.on(*ENROLLMENT)
async def enrollment_changed(conn: AsyncConnection, event: fr.FactoryRegistryEvent, envelope: Envelope) -> None:
    await _update(conn, envelope, envelope.factoryid or "", enrollment=ENROLLMENT[type(event)])


@projection.on(fr.FactoryMerged)
async def merged(conn: AsyncConnection, event: fr.FactoryMerged, envelope: Envelope) -> None:
    survivor = event.surviving_factory_id
    await _update(conn, envelope, event.factory_id, merged_into=survivor)
    await conn.execute(
        factories.update().where(factories.c.merged_into == event.factory_id).values(merged_into=survivor)
    )


@projection.on(fr.FactoryDuplicateAbsorbed)
async def absorbed(conn: AsyncConnection, event: fr.FactoryDuplicateAbsorbed, envelope: Envelope) -> None:
    for brand_id, since in event.brand_links.items():
        await _link(conn, event.factory_id, brand_id, since)
    for brand_id in event.consenting_brands:
        await _consent(conn, event.factory_id, brand_id)
    await _alias(
        conn, event.factory_id, event.aliases or (fr.FactoryAlias(factory_id=event.merged_factory_id),), envelope
    )
    await _update(conn, envelope, event.factory_id)


@projection.on(fr.BrandLinked)
async def linked(conn: AsyncConnection, event: fr.BrandLinked, envelope: Envelope) -> None:
    await _link(conn, event.factory_id, event.brand_id, event.since)


@projection.on(fr.BrandUnlinked)
async def unlinked(conn: AsyncConnection, event: fr.BrandUnlinked, envelope: Envelope) -> None:
    link = supplier_links.c
    await conn.execute(
        supplier_links.delete().where(link.factory_id == event.factory_id, link.brand_id == event.brand_id)
    )


@projection.on(fr.ReportSharingConsentGranted)
async def consent_granted(conn: AsyncConnection, event: fr.ReportSharingConsentGranted, envelope: Envelope) -> None:
    await _consent(conn, event.factory_id, event.brand_id)


@projection.on(fr.ReportSharingConsentRevoked)
async def consent_revoked(conn: AsyncConnection, event: fr.ReportSharingConsentRevoked, envelope: Envelope) -> None:
    await conn.execute(
        consents.delete().where(consents.c.factory_id == event.factory_id, consents.c.brand_id == event.brand_id)
    )


@projection.on(fr.BrandRegistered)
async def brand_registered(conn: AsyncConnection, event: fr.BrandRegistered, envelope: Envelope) -> None:
    values = {"id": event.brand_id, "name": event.name, "partnership": event.partnership.value}
    await conn.execute(insert(brands).values(**values).on_conflict_do_nothing())


@projection.on(fr.BrandPartnershipChanged)
async def partnership_changed(conn: AsyncConnection, event: fr.BrandPartnershipChanged, envelope: Envelope) -> None:
    await conn.execute(brands.update().where(brands.c.id == event.brand_id).values(partnership=event.partnership.value))


# --- queries ------------------------------------------------------------------------------------


def current_factories() -> sa.ColumnElement[bool]:
    """Factories that still stand on their own (not merged into another record)."""
    return factories.c.merged_into.is_(None)


async def factories_by_id(engine: Reader, ids: Sequence[str], readable: sa.ColumnElement[bool]) -> list[Any]:
    """A batch of factories (a DataLoader's), None where not readable or not there. A merged
    record's id finds the factory it was merged into."""
    async with engine.connect() as conn:
        merges = await conn.execute(
            sa.select(factories.c.id, factories.c.merged_into).where(factories.c.id.in_(list(ids)))
        )
        leads_to = {row.id: row.merged_into or row.id for row in merges}
        rows = await conn.execute(sa.select(factories).where(factories.c.id.in_(set(leads_to.values())), readable))
        found = {row.id: row for row in rows}
    return [found.get(leads_to.get(i, i)) for i in ids]


async def aliases_of(engine: Reader, scope: Scope, factory_ids: Sequence[str]) -> list[list[Any]]:
    """A batch of factories' aliases, oldest first; none of a factory the caller may not read."""
    query = (
        sa.select(aliases)
        .join(factories, factories.c.id == aliases.c.factory_id)
        .where(aliases.c.factory_id.in_(list(factory_ids)), scope.factories())
        .order_by(aliases.c.recorded_at, aliases.c.position)
    )
    async with engine.connect() as conn:
        rows = list(await conn.execute(query))
    return [[r for r in rows if r.factory_id == f] for f in factory_ids]


BRANDS_BY_NAME = Order((brands.c.name, brands.c.id))
SUPPLIERS_BY_NAME = Order((factories.c.name, factories.c.id))


def readable_brands(scope: Scope) -> sa.Select[Any]:
    return sa.select(brands).where(scope.brand(brands.c.id))


async def brands_by_id(engine: Reader, scope: Scope, ids: Sequence[str]) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(readable_brands(scope).where(brands.c.id.in_(list(ids))))
        found = {row.id: row for row in rows}
    return [found.get(i) for i in ids]


async def suppliers_of_brands(
    engine: Reader, scope: Scope, brand_ids: Sequence[str], request: PageRequest
) -> list[Page]:
    """Each brand's linked suppliers that the caller may read, by name (for a brand itself: those
    that consent to share their reports with it, as everywhere)."""
    query = (
        sa.select(factories, supplier_links.c.brand_id, supplier_links.c.since)
        .join(supplier_links, supplier_links.c.factory_id == factories.c.id)
        .where(scope.factories(), current_factories())
    )
    return await pages_per_parent(engine, query, supplier_links.c.brand_id, brand_ids, SUPPLIERS_BY_NAME, request)
