"""create_app(settings): the one place where the training service is wired together."""

from __future__ import annotations

import datetime as dt

from betterwork_events.consumer import ProjectionRunner
from betterwork_events.factories import FactoryReference
from betterwork_events.kafka import events_topic
from betterwork_events.relay import OutboxRelay
from betterwork_events.store import EventStore
from betterwork_events.web import Runtime, create_engine, service_app
from fastapi import FastAPI

from training import api
from training.settings import Settings

SERVICE = "training"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_engine(settings)
    store = EventStore(engine, source=f"/betterwork/{SERVICE}")
    relay = OutboxRelay(store, settings.kafka_bootstrap, settings.topic(events_topic(SERVICE)))
    # Which factories exist and are enrolled, learnt from the registry's events (never asked of it).
    factories = ProjectionRunner(
        engine,
        settings.kafka_bootstrap,
        FactoryReference(name=f"{settings.topic_prefix}training.factory-reference"),
        [settings.topic(events_topic("factory-registry"))],
        dead_letter_topic=settings.topic("training.dead-letter"),
    )
    runtime = Runtime(
        SERVICE, settings, engine, background=[("outbox relay", relay.run), ("factory reference", factories.run)]
    )
    app = service_app(
        runtime,
        title="Better Work training",
        description="The course catalogue, and training sessions for factories: scheduling, participants, "
        "attendance, tests and feedback, delivery. Programme staff manage them; a factory reads its own.",
        routers=[api.router],
    )
    app.state.store = store
    app.state.relay = relay
    app.state.factory_reference = factories
    app.state.clock = lambda: dt.datetime.now(dt.UTC)  # tests may set another
    return app
