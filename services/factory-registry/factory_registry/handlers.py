"""Command handlers: load the stream, ask the domain, append with the version read.

Each append and the directory rows it changes commit in one transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from betterwork_events import history
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts.factory_registry import (
    BrandKind,
    FactoryProfile,
    FactoryProfileUpdated,
    PartnershipStatus,
)
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, NotFound
from betterwork_events.history import Change
from betterwork_events.store import Appended, CommandContext, EventStore, StreamNotFound, VersionConflict
from sqlalchemy.ext.asyncio import AsyncConnection

from factory_registry import directory, programme_id
from factory_registry.domain import Brand, BrandEvent, Factory, FactoryEvent, brand_stream, factory_stream
from factory_registry.matching import Candidate, FactoryRecord, likely_duplicates

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3a52-3c1e-4d0c-9a43-5f2b3f7f0b11")


class LikelyDuplicates(IllegalStep):
    def __init__(self, candidates: list[Candidate]) -> None:
        super().__init__(
            f"{len(candidates)} registered factor{'y looks' if len(candidates) == 1 else 'ies look'} like this one; "
            "check the candidates, and register again with confirmed_new=true if it is a different factory"
        )
        self.candidates = candidates


class RegistrationNumberTaken(LikelyDuplicates):
    """The same registration number in the same country is the same factory, whatever its name:
    confirmed_new does not override it."""

    def __init__(self, number: str, holder: FactoryRecord) -> None:
        IllegalStep.__init__(
            self,
            f"registration number {number} is already registered to {holder.factory_id} ({holder.name}); "
            "a factory's registration number cannot be another factory's, so confirmed_new does not override it",
        )
        reasons = (f"the same registration number ({number})",)
        self.candidates = [Candidate(holder.factory_id, holder.name, holder.address, 1.0, reasons)]


async def refuse_taken_registration_numbers(
    conn: AsyncConnection, profile: FactoryProfile, factory_id: str | None = None
) -> None:
    if taken := await directory.holder_of_registration_number(conn, profile, other_than=factory_id):
        raise RegistrationNumberTaken(*taken)


def idempotent_event_id(context: CommandContext, command: str, key: str | None) -> uuid.UUID | None:
    """The same key from the same caller names the same event, so a retry appends nothing."""
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|{command}|{key}") if key else None


async def append(
    store: EventStore,
    conn: AsyncConnection,
    stream_id: str,
    events: Sequence[EventContract],
    expected_version: int,
    context: CommandContext,
    event_id: uuid.UUID | None = None,
) -> Appended:
    appended = await store.append(
        stream_id,
        events,
        expected_version,
        context=context,
        connection=conn,
        event_ids=[event_id] if event_id and len(events) == 1 else None,
    )
    if not appended.duplicate:
        await directory.record(conn, events)
    return appended


# --- factories --------------------------------------------------------------------------------


async def load_factory(store: EventStore, factory_id: str) -> Factory:
    try:
        envelopes = await store.load(factory_stream(factory_id))
    except StreamNotFound:
        raise NotFound(f"no factory {factory_id}") from None
    return Factory.rebuild(factory_id, [cast(FactoryEvent, e.contract()) for e in envelopes])


async def factory_history(store: EventStore, factory_id: str) -> list[Change]:
    """Every change to a factory: what, when and by whom."""
    try:
        return history.whole(await store.load(factory_stream(factory_id)))
    except StreamNotFound:
        raise NotFound(f"no factory {factory_id}") from None


@dataclass(frozen=True)
class RegisterFactory:
    profile: FactoryProfile
    confirmed_new: bool = False
    idempotency_key: str | None = None


async def register_factory(cmd: RegisterFactory, store: EventStore, context: CommandContext) -> Factory:
    event_id = idempotent_event_id(context, "register-factory", cmd.idempotency_key)
    year = dt.datetime.now(dt.UTC).year
    # The key is claimed before it is checked: a retry waits here for the first attempt, then
    # answers with its factory instead of matching that factory as a duplicate of itself.
    async with store.claim(event_id) as conn:
        if event_id and (earlier := await store.stream_of(event_id)):
            first_profile = cast(FactoryEvent, (await store.load(earlier))[0].contract())
            if getattr(first_profile, "profile", None) != cmd.profile:
                raise IdempotencyKeyReused(cmd.idempotency_key or "")
            return await load_factory(store, earlier.removeprefix("factory-"))
        await refuse_taken_registration_numbers(conn, cmd.profile)
        if not cmd.confirmed_new:
            profile = cmd.profile
            existing = await directory.possible_duplicates(conn, profile.country, profile.name, profile.local_name)
            candidates = likely_duplicates(
                profile.name, profile.address, profile.country, existing, local_name=profile.local_name
            )
            if candidates:
                raise LikelyDuplicates(candidates)
        number = await directory.next_factory_number(conn, cmd.profile.country, year)
        factory_id = programme_id.programme_id(cmd.profile.country, year, number)
        events = Factory.register(factory_id, cmd.profile)
        appended = await append(store, conn, factory_stream(factory_id), events, 0, context, event_id)
    return await load_factory(store, appended.stream_id.removeprefix("factory-"))


async def change_factory(
    store: EventStore,
    factory_id: str,
    expected_version: int,
    decide: Callable[[Factory], list[FactoryEvent]],
    context: CommandContext,
) -> Factory:
    """Load a factory, check it is at the version the caller read, let the domain decide, append."""
    factory = await load_factory(store, factory_id)
    _expect(factory_stream(factory_id), expected_version, factory.version)
    events = decide(factory)
    async with store.engine.begin() as conn:
        for event in events:
            if isinstance(event, FactoryProfileUpdated):
                await refuse_taken_registration_numbers(conn, event.profile, factory_id)
        await append(store, conn, factory_stream(factory_id), events, factory.version, context)
    for event in events:
        factory.apply(event)
    return factory


def _expect(stream_id: str, expected_version: int, version: int) -> None:
    if expected_version != version:
        raise VersionConflict(stream_id, expected_version, version)


async def merge_factories(
    store: EventStore, duplicate_id: str, expected_version: int, surviving_id: str, reason: str, context: CommandContext
) -> Factory:
    """Merge the duplicate (at the version the caller read) into the survivor (as it is now)."""
    duplicate, survivor = await load_factory(store, duplicate_id), await load_factory(store, surviving_id)
    _expect(factory_stream(duplicate_id), expected_version, duplicate.version)
    merged, absorbed = duplicate.merge_into(survivor, reason)
    async with store.engine.begin() as conn:  # both streams or neither
        await append(store, conn, factory_stream(duplicate_id), merged, duplicate.version, context)
        await append(store, conn, factory_stream(surviving_id), absorbed, survivor.version, context)
    for event in absorbed:
        survivor.apply(event)
    return survivor


async def resolve_factory_id(store: EventStore, factory_id: str) -> str:
    async with store.engine.connect() as conn:
        return await directory.resolve(conn, factory_id)


# --- brands -----------------------------------------------------------------------------------


async def load_brand(store: EventStore, brand_id: str) -> Brand:
    try:
        envelopes = await store.load(brand_stream(brand_id))
    except StreamNotFound:
        raise NotFound(f"no brand {brand_id}") from None
    return Brand.rebuild(brand_id, [cast(BrandEvent, e.contract()) for e in envelopes])


async def factories_sharing_reports_with(store: EventStore, brand_id: str) -> list[str]:
    """Asked by the gateway on every read of a brand: one connection, two index lookups."""
    async with store.engine.connect() as conn:
        if not await directory.brand_exists(conn, brand_id):
            raise NotFound(f"no brand {brand_id}")  # not an empty list: the caller named nobody
        return await directory.sharing_reports_with(conn, brand_id)


@dataclass(frozen=True)
class RegisterBrand:
    name: str
    kind: BrandKind
    partnership: PartnershipStatus
    headquarters_country: str | None = None
    idempotency_key: str | None = None


async def register_brand(cmd: RegisterBrand, store: EventStore, context: CommandContext) -> Brand:
    event_id = idempotent_event_id(context, "register-brand", cmd.idempotency_key)
    async with store.claim(event_id) as conn:
        if event_id and (earlier := await store.stream_of(event_id)):
            first = (await store.load(earlier))[0].contract()
            brand_id = getattr(first, "brand_id", "")
            if first != Brand.register(brand_id, cmd.name, cmd.kind, cmd.partnership, cmd.headquarters_country)[0]:
                raise IdempotencyKeyReused(cmd.idempotency_key or "")
            return await load_brand(store, earlier.removeprefix("brand-"))
        if existing := await directory.brand_named(conn, cmd.name):
            raise IllegalStep(f"brand {cmd.name!r} is already registered as {existing}")
        brand_id = f"BR-{await directory.next_brand_number(conn):04d}"
        events = Brand.register(brand_id, cmd.name, cmd.kind, cmd.partnership, cmd.headquarters_country)
        await append(store, conn, brand_stream(brand_id), events, 0, context, event_id)
    return await load_brand(store, brand_id)


async def change_brand_partnership(
    store: EventStore, brand_id: str, expected_version: int, partnership: PartnershipStatus, context: CommandContext
) -> Brand:
    brand = await load_brand(store, brand_id)
    _expect(brand_stream(brand_id), expected_version, brand.version)
    events = brand.change_partnership(partnership)
    async with store.engine.begin() as conn:
        await append(store, conn, brand_stream(brand_id), events, brand.version, context)
    for event in events:
        brand.apply(event)
    return brand
