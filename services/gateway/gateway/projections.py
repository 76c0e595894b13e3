"""Projections: events from the services' topics into the gateway's read models."""

from __future__ import annotations

from betterwork_events.contracts.factory_registry import FactoryProfileUpdated, FactoryRegistered
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_model import factories


class FactoryDirectory:
    """Every registered factory with its current profile."""

    handles = frozenset({FactoryRegistered.event_type, FactoryProfileUpdated.event_type})

    def __init__(self, name: str = "gateway.factory-directory") -> None:
        self.name = name

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        match event.contract():
            case FactoryRegistered() as registered:
                await conn.execute(
                    insert(factories)
                    .values(
                        id=registered.factory_id,
                        name=registered.name,
                        country=registered.country,
                        address=registered.address,
                        version=event.streamversion,
                        updated_at=event.time,
                    )
                    .on_conflict_do_nothing()
                )
            case FactoryProfileUpdated() as updated:
                changes = {k: v for k, v in {"name": updated.name, "address": updated.address}.items() if v is not None}
                await conn.execute(
                    factories.update()
                    .where(factories.c.id == updated.factory_id, factories.c.version < event.streamversion)
                    .values(**changes, version=event.streamversion, updated_at=event.time)
                )
