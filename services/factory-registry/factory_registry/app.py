"""create_app(settings): the one place where the factory registry is wired together."""

from __future__ import annotations

from betterwork_events.web import event_sourced, service_app
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from factory_registry import api, handlers, importer
from factory_registry.settings import Settings

SERVICE = "factory-registry"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = event_sourced(SERVICE, settings, learns_factories=False)
    app = service_app(
        runtime,
        title="Better Work factory registry",
        description="The programme's source of truth about factories, brands, supplier links and consent.",
        routers=[api.router],
    )
    app.add_exception_handler(handlers.LikelyDuplicates, likely_duplicates)
    app.add_exception_handler(importer.ImportRejected, import_rejected)
    return app


async def likely_duplicates(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, handlers.LikelyDuplicates)
    candidates = [
        {"factory_id": c.factory_id, "name": c.name, "address": c.address, "score": c.score, "reasons": list(c.reasons)}
        for c in error.candidates
    ]
    return JSONResponse({"detail": str(error), "candidates": candidates}, status_code=409)


async def import_rejected(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, importer.ImportRejected)
    return JSONResponse({"detail": str(error)} | error.report.as_json(), status_code=422)
