"""The envelope and the catalogue, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from betterwork_events.catalogue import Catalogue, EventContract, InvalidEventData, UnknownEventType, catalogue
from betterwork_events.contracts.factory_registry import FactoryProfile, FactoryRegistered
from betterwork_events.envelope import Envelope, MalformedEnvelope


def envelope_of(event: FactoryRegistered) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        source="/betterwork/factory-registry",
        type=event.event_type,
        subject=f"factory-{event.factory_id}",
        time=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
        data_json=event.model_dump_json(),
        streamversion=1,
        position=42,
        factoryid=event.factory_id,
        correlationid=uuid.uuid4(),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        actor="programme:staff-7",
    )


REGISTERED = FactoryRegistered(
    factory_id="KH-1", profile=FactoryProfile(name="Angkor Apparel", country="KH", address="Phnom Penh")
)


def test_an_envelope_survives_kafka_binary_mode() -> None:
    envelope = envelope_of(REGISTERED)
    headers = envelope.kafka_headers()

    assert dict(headers)["ce_type"] == b"org.betterwork.factory.registered.v1"
    assert dict(headers)["ce_specversion"] == b"1.0"
    assert dict(headers)["ce_factoryid"] == b"KH-1"
    assert dict(headers)["content-type"] == b"application/json"
    assert envelope.key == "KH-1"
    again = Envelope.from_kafka(envelope.kafka_value(), headers)
    assert again == envelope
    assert again.contract() == REGISTERED
    assert again.dataschema == "urn:org.betterwork:schema:org.betterwork.factory.registered.v1"


def test_a_message_that_is_not_an_event_is_malformed() -> None:
    with pytest.raises(MalformedEnvelope):
        Envelope.from_kafka(b"{}", [("ce_type", b"x")])
    with pytest.raises(MalformedEnvelope):
        Envelope.from_kafka(b"[1, 2]", envelope_of(REGISTERED).kafka_headers())


def test_data_that_breaks_its_contract_is_refused() -> None:
    with pytest.raises(InvalidEventData, match="country"):
        data = REGISTERED.model_dump()
        catalogue.decode(REGISTERED.event_type, data | {"profile": data["profile"] | {"country": "Cambodia"}})
    with pytest.raises(UnknownEventType):
        catalogue.decode("org.betterwork.factory.vanished.v1", {})


def test_old_versions_are_upcast_on_read() -> None:
    local = Catalogue()

    class WorkforceCounted(EventContract):
        event_type = "org.example.workforce-counted.v2"
        factory_id: str
        women: int
        men: int

    local.register(WorkforceCounted)
    # v1 had one total; v2 counts women and men, and v1's total is taken as unknown split.
    local.register_upcaster(
        "org.example.workforce-counted.v1",
        "org.example.workforce-counted.v2",
        lambda data: {"factory_id": data["factory_id"], "women": 0, "men": 0},
    )

    event = local.decode("org.example.workforce-counted.v1", {"factory_id": "BD-9", "total": 2400})

    assert event == WorkforceCounted(factory_id="BD-9", women=0, men=0)


def test_every_contract_in_the_catalogue_names_a_versioned_betterwork_type_and_a_topic() -> None:
    for contract in catalogue.contracts():
        assert contract.event_type.startswith("org.betterwork.")
        assert contract.event_type.rsplit(".", 1)[1].startswith("v")
        assert contract.topic_service in {"factory-registry", "assessment", "committee", "training"}
