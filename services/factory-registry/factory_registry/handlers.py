"""Command handlers: load the stream, ask the domain, append with the version read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import cast

from betterwork_events.errors import IllegalStep
from betterwork_events.store import CommandContext, EventStore

from factory_registry.domain import Factory, FactoryEvent, stream_id

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3a52-3c1e-4d0c-9a43-5f2b3f7f0b11")


@dataclass(frozen=True)
class RegisterFactory:
    name: str
    country: str
    address: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class UpdateFactoryProfile:
    factory_id: str
    expected_version: int
    name: str | None = None
    address: str | None = None


async def load_factory(store: EventStore, factory_id: str) -> Factory:
    envelopes = await store.load(stream_id(factory_id))
    return Factory.rebuild(factory_id, [cast(FactoryEvent, e.contract()) for e in envelopes])


async def register_factory(cmd: RegisterFactory, store: EventStore, context: CommandContext) -> Factory:
    event_ids = None
    factory_id = str(uuid.uuid4())
    if cmd.idempotency_key:
        # The same key from the same caller names the same event, so a retry appends nothing.
        event_id = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{context.actor}|register-factory|{cmd.idempotency_key}")
        event_ids = [event_id]
        factory_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, str(event_id)))
    events = Factory.register(factory_id, cmd.name, cmd.country, cmd.address)
    appended = await store.append(
        stream_id(factory_id), events, expected_version=0, context=context, event_ids=event_ids
    )
    factory = await load_factory(store, factory_id)
    if appended.duplicate and (factory.name, factory.country, factory.address) != (
        cmd.name.strip(),
        cmd.country,
        cmd.address.strip(),
    ):
        raise IdempotencyKeyReused(cmd.idempotency_key or "")
    return factory


async def update_factory_profile(cmd: UpdateFactoryProfile, store: EventStore, context: CommandContext) -> Factory:
    factory = await load_factory(store, cmd.factory_id)
    events = factory.update_profile(cmd.name, cmd.address)
    await store.append(stream_id(cmd.factory_id), events, expected_version=cmd.expected_version, context=context)
    return await load_factory(store, cmd.factory_id)


class IdempotencyKeyReused(IllegalStep):
    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")
