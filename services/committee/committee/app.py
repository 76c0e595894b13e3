"""create_app(settings): the one place where the committee service is wired together."""

from __future__ import annotations

from betterwork_events.consumer import ProjectionRunner
from betterwork_events.factories import FactoryReference
from betterwork_events.kafka import events_topic
from betterwork_events.relay import OutboxRelay
from betterwork_events.store import EventStore
from betterwork_events.web import Runtime, create_engine, service_app
from fastapi import FastAPI

from committee import api
from committee.settings import Settings

SERVICE = "committee"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_engine(settings)
    store = EventStore(engine, source=f"/betterwork/{SERVICE}")
    relay = OutboxRelay(store, settings.kafka_bootstrap, settings.topic(events_topic(SERVICE)))
    # Which factories exist, where, enrolled or not, and their workforce: learnt from the registry's events.
    factories = ProjectionRunner(
        engine,
        settings.kafka_bootstrap,
        FactoryReference(name=f"{settings.topic_prefix}committee.factory-reference"),
        [settings.topic(events_topic("factory-registry"))],
        dead_letter_topic=settings.topic("committee.dead-letter"),
    )
    runtime = Runtime(
        SERVICE,
        settings,
        engine,
        background=[("outbox relay", relay.run), ("factory reference projection", factories.run)],
    )
    app = service_app(
        runtime,
        title="Better Work committees",
        description="Worker-management committees (PICCs): members, elections, meetings, action items and "
        "their health checks.",
        routers=[api.router],
    )
    app.state.store = store
    app.state.relay = relay
    app.state.factory_reference = factories
    app.state.health_policy = settings.health_policy()
    return app
