"""The catalogue of public event contracts: one pydantic model per event type and version.

A contract declares its CloudEvents type when it is defined:

    @contract("org.betterwork.factory.registered.v1")
    class FactoryRegistered(FactoryRegistryEvent):
        factory_id: str
        ...

Stored and published events keep the type they were written with. When a contract changes
incompatibly it gets a new type (`...v2`) and an upcaster from the old one, so readers only ever
see current contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]

SCHEMA_URI = "urn:org.betterwork:schema:{type}"


class UnknownEventType(LookupError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"no contract in the catalogue for event type {event_type!r}")
        self.event_type = event_type


class InvalidEventData(ValueError):
    def __init__(self, event_type: str, error: ValidationError) -> None:
        super().__init__(f"data does not match the contract of {event_type}: {error}")
        self.event_type = event_type


class EventContract(BaseModel):
    """Base of every event contract. Events are facts: immutable and strict about their shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    # Which service's topic carries the event: set once on each service's base contract.
    topic_service: ClassVar[str]
    # Whether the event's `factory_id` is its Kafka key. A stream that spans several factories (a
    # training session for three factories) sets False: its events, even those naming one factory,
    # are then keyed by their stream, so that the stream stays in order in one partition.
    keyed_by_factory: ClassVar[bool] = True

    @property
    def factory_id_key(self) -> str | None:
        """The factory this event is about, used as the Kafka key so a factory's events stay ordered."""
        if not self.keyed_by_factory:
            return None
        value = getattr(self, "factory_id", None)
        return str(value) if value is not None else None


class Catalogue:
    def __init__(self) -> None:
        self._contracts: dict[str, type[EventContract]] = {}
        self._upcasters: dict[str, tuple[str, Upcaster]] = {}

    def register(self, contract: type[EventContract]) -> None:
        existing = self._contracts.get(contract.event_type)
        if existing is not None and existing is not contract:
            raise ValueError(f"event type {contract.event_type} is already registered by {existing.__qualname__}")
        self._contracts[contract.event_type] = contract

    def register_upcaster(self, old_type: str, new_type: str, upcast: Upcaster) -> None:
        """Read events of `old_type` as `new_type`, converting their data with `upcast`."""
        self._upcasters[old_type] = (new_type, upcast)

    def contract(self, event_type: str) -> type[EventContract]:
        try:
            return self._contracts[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def contracts(self) -> list[type[EventContract]]:
        return sorted(self._contracts.values(), key=lambda c: c.event_type)

    def upcast(self, event_type: str, data: JsonObject) -> tuple[str, JsonObject]:
        seen = set()
        while event_type in self._upcasters:
            if event_type in seen:
                raise ValueError(f"upcasters loop at {event_type}")
            seen.add(event_type)
            event_type, upcast = self._upcasters[event_type]
            data = upcast(data)
        return event_type, data

    def decode(self, event_type: str, data: JsonObject) -> EventContract:
        event_type, data = self.upcast(event_type, data)
        contract = self.contract(event_type)
        try:
            return contract.model_validate(data)
        except ValidationError as error:
            raise InvalidEventData(event_type, error) from error


catalogue = Catalogue()

Contract = TypeVar("Contract", bound=type[EventContract])


def contract(event_type: str) -> Callable[[Contract], Contract]:
    """Class decorator: give a contract its CloudEvents type and enter it in the catalogue."""

    def register(cls: Contract) -> Contract:
        cls.event_type = event_type
        catalogue.register(cls)
        return cls

    return register


def load_all_contracts() -> Catalogue:
    """Import every contract module so the catalogue is complete."""
    from betterwork_events import contracts  # noqa: F401

    return catalogue
