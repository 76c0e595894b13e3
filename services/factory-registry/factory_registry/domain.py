"""Factories as the programme knows them: plain Python, events in, events out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from betterwork_events.contracts.factory_registry import FactoryProfileUpdated, FactoryRegistered
from betterwork_events.errors import IllegalStep

FactoryEvent: TypeAlias = FactoryRegistered | FactoryProfileUpdated


def stream_id(factory_id: str) -> str:
    return f"factory-{factory_id}"


@dataclass
class Factory:
    id: str
    name: str = ""
    country: str = ""
    address: str = ""
    version: int = 0

    @classmethod
    def register(cls, factory_id: str, name: str, country: str, address: str) -> list[FactoryEvent]:
        return [FactoryRegistered(factory_id=factory_id, name=name.strip(), country=country, address=address.strip())]

    def update_profile(self, name: str | None, address: str | None) -> list[FactoryEvent]:
        changed_name = name.strip() if name is not None and name.strip() != self.name else None
        changed_address = address.strip() if address is not None and address.strip() != self.address else None
        if changed_name is None and changed_address is None:
            raise IllegalStep("the update changes nothing")
        return [FactoryProfileUpdated(factory_id=self.id, name=changed_name, address=changed_address)]

    def apply(self, event: FactoryEvent) -> None:
        match event:
            case FactoryRegistered():
                self.name, self.country, self.address = event.name, event.country, event.address
            case FactoryProfileUpdated():
                self.name = event.name if event.name is not None else self.name
                self.address = event.address if event.address is not None else self.address
        self.version += 1

    @classmethod
    def rebuild(cls, factory_id: str, events: list[FactoryEvent]) -> Factory:
        factory = cls(id=factory_id)
        for event in events:
            factory.apply(event)
        return factory
