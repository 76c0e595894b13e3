"""create_app(settings): the one place where the committee service is wired together."""

from __future__ import annotations

from betterwork_events.web import event_sourced, service_app
from fastapi import FastAPI

from committee import advisory_api, api
from committee.handlers import Service
from committee.settings import Settings

SERVICE = "committee"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = event_sourced(SERVICE, settings)
    app = service_app(
        runtime,
        title="Better Work committees",
        description="Worker-management committees (PICCs): members, elections, meetings, action items and "
        "their health checks; and advisory services: each factory's advisory plan per cycle, its visits, and the "
        "factory's commitments and their follow-up.",
        routers=[api.router, advisory_api.router],
    )
    assert runtime.store is not None
    app.state.committees = Service.on_postgres(runtime.store, runtime.engine, settings.health_policy())
    return app
