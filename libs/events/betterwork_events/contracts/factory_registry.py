"""Events on `factory-registry.events`: the programme's source of truth about who is who."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from betterwork_events.catalogue import EventContract, contract

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code")]


class FactoryRegistryEvent(EventContract):
    topic_service = "factory-registry"
    factory_id: str = Field(description="The factory's permanent programme id")


@contract("org.betterwork.factory.registered.v1")
class FactoryRegistered(FactoryRegistryEvent):
    """Programme staff registered a factory."""

    name: str = Field(min_length=1, max_length=300)
    country: CountryCode
    address: str = Field(min_length=1, max_length=1000)


@contract("org.betterwork.factory.profile-updated.v1")
class FactoryProfileUpdated(FactoryRegistryEvent):
    """A factory's profile changed; only the fields that changed are given."""

    name: str | None = Field(default=None, min_length=1, max_length=300)
    address: str | None = Field(default=None, min_length=1, max_length=1000)
