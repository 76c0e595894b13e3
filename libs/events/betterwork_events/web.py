"""What every service's FastAPI app has in common: errors, health, tracing, background tasks.

Each service calls `service_app` once, in its `create_app(settings)`.
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
from typing import Annotated

import asyncpg
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from betterwork_events.auth import Principal, TokenVerifier
from betterwork_events.consumer import ProjectionRunner
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound
from betterwork_events.factories import REFERENCE_CONSUMER, FactoryReference
from betterwork_events.kafka import events_topic
from betterwork_events.openapi import document_every_answer
from betterwork_events.relay import OutboxRelay
from betterwork_events.settings import CommonSettings
from betterwork_events.shedding import LoadShedding
from betterwork_events.store import CommandContext, EventStore, StreamNotFound, VersionConflict
from betterwork_events.tracing import setup_tracing

log = logging.getLogger(__name__)

BackgroundTask = Callable[[], Awaitable[None]]

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
    background: list[tuple[str, BackgroundTask]] = field(default_factory=list)
    store: EventStore | None = None
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # e.g. closing HTTP clients


def event_sourced(service: str, settings: CommonSettings, *, learns_factories: bool = True) -> Runtime:
    """The runtime of an event-sourced service: its event store, the relay publishing it to
    `<service>.events`, and (usually) the consumer that teaches it which factories exist."""
    engine = create_engine(settings)
    store = EventStore(engine, source=f"/betterwork/{service}", wait_seconds=settings.database_wait_seconds)
    relay = OutboxRelay(store, settings.kafka_bootstrap, settings.topic(events_topic(service)))
    background: list[tuple[str, BackgroundTask]] = [("outbox relay", relay.run)]
    if learns_factories:
        factories = ProjectionRunner(
            engine,
            settings.kafka_bootstrap,
            FactoryReference(name=f"{settings.topic_prefix}{service}.{REFERENCE_CONSUMER}"),
            [settings.topic(events_topic("factory-registry"))],
            dead_letter_topic=settings.topic(f"{service}.dead-letter"),
        )
        background.append(("factory reference", factories.run))
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


def service_app(
    runtime: Runtime, *, title: str, description: str, routers: Sequence[APIRouter], version: str = "0.1.0"
) -> FastAPI:
    setup_tracing(runtime.service, runtime.settings.otlp_endpoint)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What startup made (modules, schemas, the app) lives as long as the process: frozen, it is
        # left out of every later full collection, which otherwise walks it all again each time the
        # relay or a projection has allocated a few batches of events. Collected first, so no garbage
        # is frozen with it.
        gc.collect()
        gc.freeze()
        tasks = []
        if runtime.settings.run_background_tasks:
            tasks = [asyncio.create_task(supervise(name, task), name=name) for name, task in runtime.background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in runtime.on_shutdown:
                await close()
            if runtime.store is not None:
                await runtime.store.close()
            await runtime.engine.dispose()

    app = FastAPI(
        title=title, description=description, version=version, lifespan=lifespan, max_body_size=MAX_BODY_BYTES
    )
    app.state.runtime = runtime
    app.state.store = runtime.store
    app.state.token_verifier = TokenVerifier(runtime.settings)

    @app.get("/health", tags=["operations"], summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": runtime.service}

    @app.get("/ready", tags=["operations"], summary="Readiness: the database answers")
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

    for router in routers:
        app.include_router(router)
    add_error_handlers(app)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health,ready")
    app.add_middleware(LoadShedding, max_in_flight=runtime.settings.max_requests_in_flight)
    document_every_answer(app)
    return app


def add_error_handlers(app: FastAPI) -> None:
    def handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def respond(request: Request, error: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(error)}, status_code=status)

        return respond

    app.add_exception_handler(VersionConflict, handler(409))
    app.add_exception_handler(IllegalStep, handler(409))
    app.add_exception_handler(StreamNotFound, handler(404))
    app.add_exception_handler(NotFound, handler(404))
    app.add_exception_handler(InvalidRequest, handler(422))
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


def command_context(principal: Principal, request: Request) -> CommandContext:
    """Who asks, and the correlation id a caller may pass to tie its requests together."""
    correlation = request.headers.get("x-correlation-id")
    try:
        correlation_id = uuid.UUID(correlation) if correlation else None
    except ValueError:
        raise InvalidRequest("X-Correlation-ID must be a UUID") from None
    return CommandContext(actor=principal.actor, correlation_id=correlation_id)
