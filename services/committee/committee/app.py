"""create_app(settings): the one place where the committee service is wired together.

A skeleton so far: its event store, outbox relay and health checks run; its domain is to come.
"""

from __future__ import annotations

from betterwork_events.kafka import events_topic
from betterwork_events.relay import OutboxRelay
from betterwork_events.store import EventStore
from betterwork_events.web import Runtime, create_engine, service_app
from fastapi import FastAPI

from committee.settings import Settings

SERVICE = "committee"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_engine(settings)
    store = EventStore(engine, source=f"/betterwork/{SERVICE}")
    relay = OutboxRelay(store, settings.kafka_bootstrap, settings.topic(events_topic(SERVICE)))
    runtime = Runtime(SERVICE, settings, engine, background=[("outbox relay", relay.run)])
    app = service_app(
        runtime,
        title="Better Work committees",
        description="Worker-management committees: members, elections, meetings and action items.",
        routers=[],
    )
    app.state.store = store
    app.state.relay = relay
    return app
