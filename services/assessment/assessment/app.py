"""create_app(settings): the one place where the assessment service is wired together."""

from __future__ import annotations

from betterwork_events.web import event_sourced, service_app
from fastapi import FastAPI

from assessment import api, surveys_api
from assessment.settings import Settings

SERVICE = "assessment"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = event_sourced(SERVICE, settings)
    app = service_app(
        runtime,
        title="Better Work assessments",
        description="Unannounced compliance assessments, findings, improvement plans and remediation; "
        "and the research surveys of workers and managers that the country teams run on their visits.",
        routers=[api.router, surveys_api.router],
    )
    return app
