"""Run a service's relay or its projection consumers as a process of their own.

    python -m betterwork_events.worker assessment relay
    python -m betterwork_events.worker gateway consumers --port 8001

The worker wires the service exactly as its API does (its `create_app`), then runs only the
background tasks of one role and serves nothing but /health and /ready, for probes. The API
process then runs with `BW_RUN_BACKGROUND_TASKS=false`, so API replicas scale on requests while
relays (one leader per service, by advisory lock; more replicas only stand by) and consumers
(a consumer group: one member per partition at most does work) scale on their own.
Settings come from the same environment variables as the service's API.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence

import uvicorn
from fastapi import FastAPI

from betterwork_events.web import ROLES, Role, Runtime, freeze_startup, operations

# Each service's name (its topic, its logs) and the Python package whose `app.create_app` wires it.
SERVICES = {
    "factory-registry": "factory_registry",
    "assessment": "assessment",
    "committee": "committee",
    "training": "training",
    "gateway": "gateway",
}


class NothingToRun(Exception):
    """The service has no background task of that role (the gateway publishes no events; nothing
    in the registry consumes)."""


def service_runtime(service: str) -> Runtime:
    """The service's runtime, wired by its own create_app from the environment's settings."""
    api: FastAPI = importlib.import_module(f"{SERVICES[service]}.app").create_app()
    runtime: Runtime = api.state.runtime
    return runtime


def worker_app(runtime: Runtime, role: Role) -> FastAPI:
    """An app that runs the runtime's background tasks of `role` and answers the probes."""
    if not any(b.role == role for b in runtime.background):
        raise NothingToRun(f"{runtime.service} has no {role} to run")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_startup()
        async with runtime.running([role]):
            yield

    app = FastAPI(title=f"{runtime.service} {role}", lifespan=lifespan, openapi_url=None, docs_url=None)
    app.include_router(operations(runtime))
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m betterwork_events.worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument(
        "role",
        choices=ROLES,
        help="relay: publish the service's event store to Kafka; consumers: its projections and other consumers",
    )
    parser.add_argument("--host", default="127.0.0.1", help="where /health and /ready listen (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="(default %(default)s; 0 picks a free one)")
    args = parser.parse_args(argv)
    try:
        app = worker_app(service_runtime(args.service), args.role)
    except NothingToRun as error:
        parser.error(str(error))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=20)


if __name__ == "__main__":
    main()
