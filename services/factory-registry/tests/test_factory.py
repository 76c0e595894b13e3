"""The factory aggregate's rules, without I/O."""

import pytest
from betterwork_events.contracts.factory_registry import FactoryProfileUpdated, FactoryRegistered
from betterwork_events.errors import IllegalStep
from factory_registry.domain import Factory


def angkor() -> Factory:
    return Factory.rebuild("KH-1", Factory.register("KH-1", " Angkor Apparel ", "KH", "Phnom Penh"))


def test_registering_records_the_factory_as_given_without_stray_whitespace() -> None:
    assert Factory.register("KH-1", " Angkor Apparel ", "KH", "Phnom Penh ") == [
        FactoryRegistered(factory_id="KH-1", name="Angkor Apparel", country="KH", address="Phnom Penh")
    ]


def test_an_update_records_only_what_changed() -> None:
    events = angkor().update_profile(name="Angkor Apparel", address="Kambol, Phnom Penh")

    assert events == [FactoryProfileUpdated(factory_id="KH-1", name=None, address="Kambol, Phnom Penh")]


def test_an_update_that_changes_nothing_is_refused() -> None:
    with pytest.raises(IllegalStep, match="changes nothing"):
        angkor().update_profile(name="Angkor Apparel", address=None)


def test_state_is_rebuilt_from_events() -> None:
    factory = angkor()
    for event in factory.update_profile(name="Angkor Apparel II", address=None):
        factory.apply(event)

    assert (factory.name, factory.address, factory.version) == ("Angkor Apparel II", "Phnom Penh", 2)
