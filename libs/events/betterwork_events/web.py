"""What every service's FastAPI app has in common: errors, health, tracing, background tasks.

Each service calls `service_app` once, in its `create_app(settings)`. Its background tasks (the
outbox relay, projection consumers) run inside the API process, or apart in a worker process
(`python -m betterwork_events.worker`) when the API runs with `BW_RUN_BACKGROUND_TASKS=false`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

import asyncpg
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from betterwork_events.auth import CurrentPrincipal, Principal, TokenVerifier
from betterwork_events.commands import CommandRequest
from betterwork_events.consumer import ProjectionRunner
from betterwork_events.errors import Forbidden, IllegalStep, InvalidRequest, NotFound, PreconditionRequired
from betterwork_events.factories import REFERENCE_CONSUMER, FactoryReference
from betterwork_events.kafka import events_topic
from betterwork_events.openapi import document_every_answer
from betterwork_events.relay import OutboxRelay
from betterwork_events.settings import CommonSettings
from betterwork_events.shedding import LoadShedding
from betterwork_events.store import (
    CommandContext,
    EventStore,
    StreamNotFound,
    VersionConflict,
    tracking_positions,
)
from betterwork_events.tracing import setup_tracing

log = logging.getLogger(__name__)

# How long a cancelled background task may take to stop at shutdown.
STOP_WITHIN_SECONDS = 10.0

BackgroundTask = Callable[[], Awaitable[None]]
# What a background task does, and so which worker process runs it when they run apart: the relay
# (one leader per service, by advisory lock) or the consumers (a consumer group, one member per
# partition at most).
Role = Literal["relay", "consumers"]
ROLES: tuple[Role, ...] = ("relay", "consumers")


@dataclass(frozen=True)
class Background:
    name: str
    role: Role
    run: BackgroundTask


# The largest request body any route takes (413 beyond it): a country's whole factory list as
# CSV is a few megabytes. Bodies are read before the token is checked, so without a bound anyone
# could make a service hold any amount in memory.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class Runtime:
    """The things a service wires together once and its routes use (on `app.state.runtime`)."""

    service: str
    settings: CommonSettings
    engine: AsyncEngine
    background: list[Background] = field(default_factory=list)
    store: EventStore | None = None
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # e.g. closing HTTP clients

    @contextlib.asynccontextmanager
    async def running(self, roles: Sequence[Role]) -> AsyncIterator[None]:
        """Run the background tasks of these roles (supervised) while inside; then close everything."""
        tasks = [asyncio.create_task(supervise(b.name, b.run), name=b.name) for b in self.background if b.role in roles]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # A task that does not stop when cancelled must not hold the process up for ever (a pod
            # would be killed at its grace period, a test would hang): say which, and go on.
            if tasks:
                _, stuck = await asyncio.wait(tasks, timeout=STOP_WITHIN_SECONDS)
                for task in stuck:
                    log.error("%s did not stop within %s s of being cancelled", task.get_name(), STOP_WITHIN_SECONDS)
            for close in self.on_shutdown:
                await close()
            if self.store is not None:
                await self.store.close()
            await self.engine.dispose()


def event_sourced(service: str, settings: CommonSettings, *, learns_factories: bool = True) -> Runtime:
    """The runtime of an event-sourced service: its event store, the relay publishing it to
    `<service>.events`, and (usually) the consumer that teaches it which factories exist."""
    engine = create_engine(settings)
    store = EventStore(engine, source=f"/betterwork/{service}", wait_seconds=settings.database_wait_seconds)
    relay = OutboxRelay(store, settings.kafka_bootstrap, settings.topic(events_topic(service)))
    background = [Background("outbox relay", "relay", relay.run)]
    if learns_factories:
        factories = ProjectionRunner(
            engine,
            settings.kafka_bootstrap,
            FactoryReference(name=f"{settings.topic_prefix}{service}.{REFERENCE_CONSUMER}"),
            [settings.topic(events_topic("factory-registry"))],
            dead_letter_topic=settings.topic(f"{service}.dead-letter"),
        )
        background.append(Background("factory reference", "consumers", factories.run))
    return Runtime(service, settings, engine, background, store)


# Request pieces every service uses the same way.

IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="Retrying with the same key returns the first result, changing nothing"),
]
# What If-Match takes: the ETag as the service wrote it, a version in quotes (weak or not).
ETAG = re.compile(r'(W/)?"([0-9]{1,9})"')
IfMatch = Annotated[
    str | None,
    Header(
        description="The ETag of the resource as you read it; 409 if it changed since",
        examples=['"3"'],
        json_schema_extra={"pattern": f"^{ETAG.pattern}$"},
    ),
]


def _calendar_day(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


# A day in a query string: only YYYY-MM-DD (pydantic alone reads `0` or a Unix time as a day in 1970).
Day = Annotated[dt.date, BeforeValidator(_calendar_day)]


class Command(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Problem(BaseModel):
    detail: str = Field(description="What is wrong, in words a user can act on")


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (its ETag), or None without one."""
    if if_match is None:
        return None
    if not (etag := ETAG.fullmatch(if_match.strip())):
        raise InvalidRequest('If-Match must be the ETag you read, e.g. "3"')
    return int(etag.group(2))


def read_version(if_match: IfMatch = None) -> int:
    """FastAPI dependency of a change of an existing resource: the version its caller read (If-Match),
    required (428 without it) so that nobody overwrites a change they have not seen."""
    version = expected_version(if_match)
    if version is None:
        raise PreconditionRequired(
            'send If-Match with the ETag you read (e.g. "3"), so that no change is overwritten unseen'
        )
    return version


ReadVersion = Annotated[int, Depends(read_version)]


def create_engine(settings: CommonSettings) -> AsyncEngine:
    # No pre-ping: it costs three round trips per checkout. A connection the server dropped fails
    # one statement and is replaced; pool_recycle retires connections before idle timeouts do.
    # Waiting for a pooled connection, or for the server to accept a new one, is bounded well below
    # a client's timeout: a database that is down or overloaded answers 503, not a dropped connection.
    return create_async_engine(
        settings.database_url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=300,
        pool_timeout=settings.database_wait_seconds,
        connect_args={"timeout": settings.database_wait_seconds},
    )


HEALTHY_AFTER = 60.0  # seconds a background task must run before a failure counts as a first one again


async def supervise(
    name: str,
    task: BackgroundTask,
    *,
    healthy_after: float = HEALTHY_AFTER,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Keep a background task running: restart it with backoff when it fails. The backoff grows
    while the task keeps failing and starts again from the shortest once it had run for `healthy_after`."""
    delay = 1.0
    while True:
        started = clock()
        try:
            await task()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if clock() - started >= healthy_after:
                delay = 1.0
            log.exception("%s failed; restarting in %.0fs", name, delay)
            await sleep(delay)
            delay = min(delay * 2, 30)


def freeze_startup() -> None:
    # What startup made (modules, schemas, the app) lives as long as the process: frozen, it is
    # left out of every later full collection, which otherwise walks it all again each time the
    # relay or a projection has allocated a few batches of events. Collected first, so no garbage
    # is frozen with it.
    gc.collect()
    gc.freeze()


def service_app(
    runtime: Runtime, *, title: str, description: str, routers: Sequence[APIRouter], version: str = "0.1.0"
) -> FastAPI:
    setup_tracing(runtime.service, runtime.settings.otlp_endpoint)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_startup()
        async with runtime.running(ROLES if runtime.settings.run_background_tasks else ()):
            yield

    app = FastAPI(
        title=title, description=description, version=version, lifespan=lifespan, max_body_size=MAX_BODY_BYTES
    )
    app.state.runtime = runtime
    app.state.store = runtime.store
    app.state.token_verifier = TokenVerifier(runtime.settings)
    app.include_router(operations(runtime))
    for router in routers:
        app.include_router(router)
    add_error_handlers(app)
    app.add_middleware(ConsistencyTokens, service=runtime.service)
    _document_consistency_tokens(app)
    app.add_middleware(LoadShedding, max_in_flight=runtime.settings.max_requests_in_flight)
    document_every_answer(app)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health,ready")
    return app


def operations(runtime: Runtime) -> APIRouter:
    """The probes: /health (the process is up) and /ready (its database answers)."""
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": runtime.service}

    @router.get("/ready", summary="Readiness: the database answers")
    async def ready() -> JSONResponse:
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception:
            # Anyone may ask: the driver's words (database, host, user) go to the log only.
            log.exception("readiness: the database does not answer")
            return JSONResponse(
                {"status": "unavailable", "reason": DATABASE_UNAVAILABLE},
                status_code=503,
                headers={"Retry-After": RETRY_AFTER},
            )
        return JSONResponse({"status": "ready", "service": runtime.service})

    return router


# Read-your-writes: every accepted command answers which events its answer reflects, as
# `<service>:<global position>` (the greatest position it appended, or read when it changed
# nothing). A GraphQL query presenting the token waits until the gateway's read models have
# applied that event (see the gateway's consistency.py).
CONSISTENCY_TOKEN = "Consistency-Token"
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ConsistencyTokens:
    """Adds `Consistency-Token` to each successful command's response, from the positions the
    event store noted while the request ran (store.tracking_positions)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in COMMAND_METHODS:
            await self.app(scope, receive, send)
            return
        with tracking_positions() as touched:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] < 400 and touched.highest:
                    MutableHeaders(scope=message).append(CONSISTENCY_TOKEN, f"{self.service}:{touched.highest}")
                await send(message)

            await self.app(scope, receive, sending)


def _document_consistency_tokens(app: FastAPI) -> None:
    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            for operations in document.get("paths", {}).values():
                for method, operation in operations.items():
                    if method.upper() not in COMMAND_METHODS:
                        continue
                    for code, answer in operation.get("responses", {}).items():
                        if code.startswith("2"):
                            answer.setdefault("headers", {})[CONSISTENCY_TOKEN] = CONSISTENCY_TOKEN_HEADER
        return app.openapi_schema  # type: ignore[return-value]  # set by FastAPI.openapi

    app.openapi = openapi  # type: ignore[method-assign]


CONSISTENCY_TOKEN_HEADER = {
    "description": "`<service>:<global position>` of the events this answer reflects. Send it to the "
    "gateway as the `Consistency-Token` header (several comma-separated) and the query waits until "
    "its read models show this change.",
    "schema": {"type": "string", "examples": ["assessment:1042"]},
}


def add_error_handlers(app: FastAPI) -> None:
    def handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def respond(request: Request, error: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(error)}, status_code=status)

        return respond

    app.add_exception_handler(VersionConflict, handler(409))
    app.add_exception_handler(IllegalStep, handler(409))  # IdempotencyKeyReused among them
    app.add_exception_handler(StreamNotFound, handler(404))
    app.add_exception_handler(NotFound, handler(404))
    app.add_exception_handler(Forbidden, handler(403))
    app.add_exception_handler(InvalidRequest, handler(422))
    app.add_exception_handler(PreconditionRequired, handler(428))
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(asyncpg.PostgresError, database_error)  # the store's appends use asyncpg directly
    # What a database that is down, restarting or out of connections raises before any statement:
    # the server refused or dropped the connection (asyncpg's own errors, the socket's), or no
    # pooled connection came free in time.
    for unavailable in (asyncpg.InterfaceError, OSError, TimeoutError, PoolTimeout):
        app.add_exception_handler(unavailable, database_unavailable)


# How much of the offending input a 422 quotes back: enough to recognise it, never the megabytes sent.
QUOTED_INPUT_CHARS = 200


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 body, each error quoting at most a short prefix of the input it is about."""
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": [_quoting_briefly(e) for e in error.errors()]}, status_code=422)


def _quoting_briefly(error: dict[str, object]) -> object:
    encoded = jsonable_encoder(error)
    if "input" in encoded:
        value = encoded["input"]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > QUOTED_INPUT_CHARS:
            encoded["input"] = f"{text[:QUOTED_INPUT_CHARS]}… ({len(text)} characters)"
    return encoded


DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"
RETRY_AFTER = "5"  # seconds
# SQLSTATEs of a database that cannot serve anyone right now: connection exceptions (08), too many
# connections, and the server shutting down, crashed or starting up (57P01-57P03).
UNAVAILABLE_STATES = {"53300", "57P01", "57P02", "57P03"}


def unavailable(error: Exception) -> bool:
    """Whether a database error says the database is unavailable, rather than refusing a statement."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if isinstance(error.orig, Exception) else error
        error = error.__cause__ if isinstance(error.__cause__, Exception) else error
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in UNAVAILABLE_STATES)


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """503 with a body a client can read and a time to retry after; the driver's words go to the log."""
    log.warning("%s %s: the database is unavailable: %r", request.method, request.url.path, error)
    return JSONResponse({"detail": DATABASE_UNAVAILABLE}, status_code=503, headers={"Retry-After": RETRY_AFTER})


# PostgreSQL refuses the NUL character in text (character_not_in_repertoire) and in JSON
# (untranslatable_character): it arrives in an id or a text field the caller sent.
REFUSED_TEXT = {"22021", "22P05"}


async def database_error(request: Request, error: Exception) -> JSONResponse:
    """The caller's text PostgreSQL cannot store is a 422; any other database error a 500 that says nothing
    of the database (the statement and its parameters go to the log, never to the caller)."""
    if unavailable(error):
        return await database_unavailable(request, error)
    sqlstate = getattr(error, "sqlstate", None) or getattr(getattr(error, "orig", None), "sqlstate", None)
    if sqlstate in REFUSED_TEXT:
        return JSONResponse({"detail": "text may not contain the NUL character (\\u0000)"}, status_code=422)
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def command_request(
    principal: CurrentPrincipal, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> CommandRequest:
    """FastAPI dependency: the command a request sends, for the command runner (commands.py). Its name
    is the route's, so an Idempotency-Key reused on another route is a different request."""
    route = request.scope.get("route")
    return CommandRequest(
        name=f"{request.method} {getattr(route, 'path', request.url.path)}",
        context=command_context(principal, request),
        expected_version=expected_version(if_match),
        idempotency_key=idempotency_key,
        path=dict(request.path_params),
    )


IncomingCommand = Annotated[CommandRequest, Depends(command_request)]


def command_context(principal: Principal, request: Request) -> CommandContext:
    """Who asks, and the correlation id a caller may pass to tie its requests together."""
    correlation = request.headers.get("x-correlation-id")
    try:
        correlation_id = uuid.UUID(correlation) if correlation else None
    except ValueError:
        raise InvalidRequest("X-Correlation-ID must be a UUID") from None
    return CommandContext(actor=principal.actor, correlation_id=correlation_id)
