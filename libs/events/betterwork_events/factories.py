"""What a service must know of factories, learnt from `factory-registry.events`.

Services never ask the registry synchronously whether a factory exists or is enrolled: each
keeps this small reference table, filled by `FactoryReference` (a projection run by the
service's consumer), and decides from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from betterwork_events.catalogue import EventContract
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import Envelope
from betterwork_events.errors import IllegalStep, NotFound

# The name of the consumer that fills `known_factories`: `<topic prefix><service>.factory-reference`.
REFERENCE_CONSUMER = "factory-reference"

metadata = sa.MetaData()
known_factories = sa.Table(
    "known_factories",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("enrollment", sa.Text),
    sa.Column("merged_into", sa.Text),
    sa.Column("workers_total", sa.Integer),
    sa.Column("workers_women", sa.Integer),
    sa.Column("service_package", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
)

_ENROLLMENT: dict[type[EventContract], str] = {
    fr.FactoryEnrollmentApplied: "applied",
    fr.FactoryEnrolled: "enrolled",
    fr.FactoryEnrollmentSuspended: "suspended",
    fr.FactoryEnrollmentReinstated: "enrolled",
    fr.FactoryWithdrawn: "withdrawn",
    fr.FactoryClosed: "closed",
}


def create_factory_reference(op: Operations) -> None:
    """For a service's migration: the table `FactoryReference` fills (plus processed_events)."""
    op.execute(
        """
        CREATE TABLE known_factories (
            id             text PRIMARY KEY,
            name           text NOT NULL,
            country        text NOT NULL,
            enrollment     text,
            merged_into    text,
            workers_total  integer,
            workers_women  integer,
            version        integer NOT NULL
        )
        """
    )


def learn_service_packages(op: Operations) -> None:
    """For a service's migration: `known_factories.service_package`, the package of the factory's
    latest enrollment.

    The new column is empty, so the reference reads the registry's topic again from its beginning
    (topics keep every event): its offsets and processed events are forgotten and every row's
    version set back to 0, so that each event applies once more, in order, and the rows end as they
    were, with their packages. Nothing is deleted: a row whose events a topic no longer holds keeps
    what it has. While the replay runs (a partition's batch applies in one transaction), a factory
    whose history spans two batches may briefly read as it was in between."""
    op.execute("ALTER TABLE known_factories ADD COLUMN service_package text")
    op.execute("UPDATE known_factories SET version = 0")
    for table in ("consumer_offsets", "processed_events"):
        op.execute(f"DELETE FROM {table} WHERE consumer LIKE '%{REFERENCE_CONSUMER}'")


@dataclass(frozen=True)
class KnownFactory:
    id: str
    name: str
    country: str
    enrollment: str | None
    workers_total: int | None
    workers_women: int | None
    service_package: fr.ServicePackage | None = None  # of the latest enrollment

    @property
    def enrolled(self) -> bool:
        return self.enrollment == "enrolled"


class FactoryReference:
    """Keeps `known_factories` in step with the registry's events."""

    handles = frozenset(
        [fr.FactoryRegistered.event_type, fr.FactoryProfileUpdated.event_type, fr.FactoryMerged.event_type]
        + [c.event_type for c in _ENROLLMENT]
    )

    def __init__(self, name: str) -> None:
        self.name = name

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        contract = event.contract()
        match contract:
            case fr.FactoryRegistered(factory_id=factory_id, profile=profile):
                await conn.execute(
                    insert(known_factories)
                    .values(id=factory_id, version=event.streamversion, **_profile(profile))
                    .on_conflict_do_nothing()
                )
            case fr.FactoryProfileUpdated(factory_id=factory_id, profile=profile):
                await _update(conn, event, factory_id, **_profile(profile))
            case fr.FactoryMerged(factory_id=factory_id, surviving_factory_id=survivor):
                await _update(conn, event, factory_id, merged_into=survivor)
            case fr.FactoryEnrolled(factory_id=factory_id, service_package=package):
                await _update(conn, event, factory_id, enrollment="enrolled", service_package=str(package))
            case _ if type(contract) in _ENROLLMENT:
                await _update(conn, event, event.factoryid or "", enrollment=_ENROLLMENT[type(contract)])


def _profile(profile: fr.FactoryProfile) -> dict[str, object]:
    workforce = profile.workforce
    return {
        "name": profile.name,
        "country": profile.country,
        "workers_total": workforce.total if workforce else None,
        "workers_women": workforce.women if workforce else None,
    }


async def _update(conn: AsyncConnection, event: Envelope, factory_id: str, **values: object) -> None:
    await conn.execute(
        known_factories.update()
        .where(known_factories.c.id == factory_id, known_factories.c.version < event.streamversion)
        .values(**values, version=event.streamversion)
    )


def unknown_factory(factory_id: str) -> NotFound:
    """What a service answers of a factory it has not heard of (and of one out of the caller's reach)."""
    return NotFound(f"no factory {factory_id} is known here (yet: the registry's events may still be on their way)")


async def known_factory(engine: AsyncEngine, factory_id: str) -> KnownFactory:
    """The factory as this service knows it (following merges); NotFound if it never heard of it."""
    async with engine.connect() as conn:
        for _ in range(10):  # merges can chain; each hop is one lookup
            row = (await conn.execute(sa.select(known_factories).where(known_factories.c.id == factory_id))).first()
            if row is None:
                raise unknown_factory(factory_id)
            if row.merged_into is None:
                package = fr.ServicePackage(row.service_package) if row.service_package else None
                return KnownFactory(
                    row.id, row.name, row.country, row.enrollment, row.workers_total, row.workers_women, package
                )
            factory_id = row.merged_into
    raise IllegalStep(f"factory {factory_id} merges in a loop")
