"""create_app(settings): the one place where the training service is wired together."""

from __future__ import annotations

import datetime as dt

from betterwork_events.web import event_sourced, service_app
from fastapi import FastAPI

from training import api
from training.settings import Settings

SERVICE = "training"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = event_sourced(SERVICE, settings)
    app = service_app(
        runtime,
        title="Better Work training",
        description="The course catalogue, and training sessions for factories: scheduling, participants, "
        "attendance, tests and feedback, delivery. Programme staff manage them; a factory reads its own.",
        routers=[api.router],
    )
    app.state.clock = lambda: dt.datetime.now(dt.UTC)  # tests may set another
    return app
