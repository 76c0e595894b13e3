"""The OpenAPI documents of the services' REST command APIs, exported for partners who call them.

    python -m betterwork_events.openapi --out libs/events/docs/openapi           # regenerate
    python -m betterwork_events.openapi --out libs/events/docs/openapi --check   # exit 1 if out of date

Building an app opens no connection (the database engine is lazy), so this needs no running
infrastructure.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI

from betterwork_events.docs import run, to_json

# Service name -> the module with its create_app(settings).
SERVICE_APPS = {
    "factory-registry": "factory_registry.app",
    "assessment": "assessment.app",
    "committee": "committee.app",
    "training": "training.app",
}

OWNED = ("*.openapi.json",)


# The answers every route may give besides its own, written once here rather than on each route:
# what the shared dependencies and error mapping (auth.py, web.py) answer. Each says when it applies.
PROBLEM = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}
_COMMON: list[tuple[str, Callable[[str, dict[str, Any]], bool], dict[str, Any]]] = [
    (
        "400",
        lambda method, op: "requestBody" in op,
        {"description": "The body could not be read (not JSON, not UTF-8)"},
    ),
    ("401", lambda method, op: "security" in op, {"description": "No bearer token, or one that is not valid"}),
    (
        "403",
        lambda method, op: "security" in op,
        {"description": "The caller's audience may not do this (reads out of reach answer 404 instead)"},
    ),
    (
        "404",
        lambda method, op: any(p.get("in") == "path" for p in op.get("parameters", [])),
        {"description": "No such resource, or none the caller may reach"},
    ),
    (
        "409",
        lambda method, op: method in ("post", "put", "patch", "delete"),
        {
            "description": "The step is not allowed now, the version changed since it was read (If-Match), or an "
            "Idempotency-Key was reused for another command"
        },
    ),
    (
        "503",
        lambda method, op: op.get("operationId") != "health_health_get",  # liveness never waits on anything
        {
            "description": "The database is unavailable or the service is busy; retry after Retry-After seconds",
            "headers": {"Retry-After": RETRY_AFTER},
        },
    ),
]


def complete_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """An app's OpenAPI document with every answer its routes really give: the common ones above, and
    422 as either body it takes (FastAPI's list of field errors, or one message)."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Problem",
        {
            "type": "object",
            "properties": {"detail": {"type": "string", "description": "What is wrong, in words a user can act on"}},
            "required": ["detail"],
            "title": "Problem",
        },
    )
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, applies, answer in _COMMON:
                if status not in responses and applies(method, operation):
                    responses[status] = {**answer, "content": {"application/json": {"schema": PROBLEM}}}
            if "422" in responses:
                content = responses["422"].setdefault("content", {}).setdefault("application/json", {})
                own = content.get("schema")
                content["schema"] = {"anyOf": [own, PROBLEM]} if own and own != PROBLEM else PROBLEM
            elif operation.get("parameters") or "requestBody" in operation:
                responses["422"] = {
                    "description": "The request is not valid",
                    "content": {"application/json": {"schema": PROBLEM}},
                }
            conflict = responses.get("409", {}).get("content", {}).get("application/json", {})
            if conflict.get("schema") not in (None, PROBLEM):  # a route's own 409 body, or the plain one
                conflict["schema"] = {"anyOf": [conflict["schema"], PROBLEM]}
    return schema


def document_every_answer(app: FastAPI) -> None:
    """Make `app.openapi()` return its document (as built so far) completed, once (FastAPI caches too)."""
    documented = app.openapi
    completed: dict[str, Any] | None = None

    def openapi() -> dict[str, Any]:
        nonlocal completed
        if completed is None:
            completed = complete_answers(documented())
        return completed

    app.openapi = openapi  # type: ignore[method-assign]


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is not installed
        return False


def generated_files() -> dict[str, str]:
    """`<service>.openapi.json` for every service whose app module exists yet.

    A module that exists but fails to import is an error, not a service to skip.
    """
    # The apps are built only to read their routes; they verify no token and serve nothing.
    os.environ.setdefault("BW_ENVIRONMENT", "development")
    files = {}
    for service, module in SERVICE_APPS.items():
        if not _exists(module):
            continue
        app = importlib.import_module(module).create_app()
        files[f"{service}.openapi.json"] = to_json(app.openapi())
    return files


def main(argv: Sequence[str] | None = None) -> int:
    return run(
        argv,
        prog="betterwork_events.openapi",
        description="Write the OpenAPI document of every service's REST API (<service>.openapi.json) "
        "from its create_app().",
        generate=generated_files,
        owned=OWNED,
    )


if __name__ == "__main__":
    sys.exit(main())
