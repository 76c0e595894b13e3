"""create_app(settings): the one place where the gateway is wired together."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable

from betterwork_events.auth import Audience, InvalidToken, TokenVerifier, bearer_token, token_required
from betterwork_events.consumer import ProjectionRunner
from betterwork_events.kafka import events_topic
from betterwork_events.web import Background, Runtime, create_engine, service_app
from cross_web import AsyncHTTPRequestAdapter
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from graphql import OperationType
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from starlette.requests import HTTPConnection, Request
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from gateway import exports, ide, read_models
from gateway.brand_feeds import BrandFeeds, DirectoryCaughtUp
from gateway.commands import Services
from gateway.consistency import Consistency
from gateway.graphql import exports as graphql_exports
from gateway.graphql import subscriptions
from gateway.graphql.context import Context
from gateway.graphql.limits import Limits
from gateway.graphql.schema import NUL_REFUSED, schema
from gateway.notices import Notices, Watch
from gateway.read_models import directory
from gateway.registry import Registry, RegistryUnavailable
from gateway.settings import Settings

SERVICE = "gateway"

log = logging.getLogger(__name__)


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class GatewayRouter(GraphQLRouter[Context, None]):
    def decode_json(self, data: str | bytes) -> object:
        """A body nested too deeply for the JSON parser, or not UTF-8, is a 400 like any unreadable
        body, not a 500; so is a NUL character in a variable, which no read model can hold."""
        try:
            decoded = json.loads(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None
        except UnicodeDecodeError:
            raise StrawberryHTTPException(400, "the request body is not UTF-8") from None
        if isinstance(decoded, dict) and _holds_nul(decoded.get("variables")):
            raise StrawberryHTTPException(400, NUL_REFUSED)
        return decoded

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return ide.page(request)  # GraphiQL from the gateway's own files, not a CDN

    graphql_transport_ws_handler_class = subscriptions.TransportWS  # type: ignore[assignment]

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if subscriptions.operation_type(request_data.query, request_data.operation_name) is OperationType.SUBSCRIPTION:
            raise StrawberryHTTPException(400, subscriptions.SUBSCRIPTION_OVER_HTTP)
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def on_ws_connect(self, context: Context) -> UnsetType:
        return await subscriptions.on_connect(context)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A GET with a persisted query's hash and no text is a query, not a browser opening the page."""
        return super().should_render_graphql_ide(request) and not _asks_a_query(request)


def _asks_a_query(request: BaseRequestProtocol | HTTPConnection) -> bool:
    return any(name in request.query_params for name in ("query", "extensions"))


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """`clock` times the callers' query budgets (tests pass their own)."""
    settings = settings or Settings()
    limits = Limits.of(settings, clock)
    production = settings.environment == "production"
    engine = create_engine(settings)
    dead_letters = settings.topic("gateway.dead-letter")

    def topics(services: list[str]) -> list[str]:
        return [settings.topic(events_topic(service)) for service in services]

    consumers = {
        p.name: p.consumer(settings.topic_prefix, delay=settings.projection_delay_seconds)
        for p in read_models.PROJECTIONS
    }
    services = settings.service_urls()
    consistency = Consistency(
        engine,
        {service: settings.topic(events_topic(service)) for service in services},
        {
            topic: [c.name for c in consumers.values() if topic in topics(c.projection.services)]
            for topic in topics(list(services))
        },
        wait_seconds=settings.consistency_wait_seconds,
    )
    # What the read models subscriptions follow have committed, as this process learns it from the
    # topics and consumer_offsets, wherever the projections run (notices.py). Inline too, rather
    # than from the runners directly: they would tell only the replica whose consumer has the
    # event's partition, and a runner's commit makes the watch look at once, so it is no slower.
    watch = Watch(
        Notices(),
        engine,
        settings.kafka_bootstrap,
        topics(sorted({service for p in subscriptions.READ_MODELS for service in p.services})),
        {p.name: consumers[p.name] for p in subscriptions.READ_MODELS},
        wait_seconds=settings.subscription_wait_seconds,
    )
    runners = {
        name: ProjectionRunner(
            engine,
            settings.kafka_bootstrap,
            consumer,
            topics(consumer.projection.services),
            dead_letter_topic=dead_letters,
            recording=consistency.recorder(consumer.name),
            on_committed=watch.look,
        )
        for name, consumer in consumers.items()
    }
    # Brand feeds decide recipients from the links and consents the directory keeps, once it
    # has applied what the registry published (see brand_feeds.py).
    registry_events = settings.topic(events_topic("factory-registry"))
    feeds = BrandFeeds(
        name=f"{settings.topic_prefix}gateway.brand-feeds",
        bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        directory=DirectoryCaughtUp(
            engine, settings.kafka_bootstrap, consumers[directory.projection.name].name, registry_events
        ),
    )
    feeds_runner = ProjectionRunner(
        engine,
        settings.kafka_bootstrap,
        feeds,
        topics(["assessment", "factory-registry"]),
        dead_letter_topic=dead_letters,
    )

    async def brand_feeds() -> None:
        async with feeds.publishing():
            await feeds_runner.run()

    verifier = TokenVerifier(settings)
    registry = Registry(settings.registry_url)
    live = subscriptions.Live(watch, verifier, registry, settings.subscription_connections_per_principal)
    commands = Services(services)  # where mutations go
    # The trace of a query or mutation continues in the service it asks (W3C traceparent).
    for client in (registry.client, commands.client):
        HTTPXClientInstrumentor.instrument_client(client)

    async def context(request: HTTPConnection) -> Context:
        if request.scope["type"] == "websocket":  # the caller authenticates at connection_init
            return subscriptions.LiveContext(principal=None, engine=engine, limits=limits, live=live)
        if request.scope["method"] == "GET" and not _asks_a_query(request):
            return Context(principal=None, engine=engine, limits=limits)  # the GraphiQL page
        return await caller(request)

    async def caller(request: HTTPConnection) -> Context:
        """Who is asking, from the bearer token; for a brand, what shares with it now."""
        token = bearer_token(request)
        if token is None:
            raise token_required()
        try:
            principal = verifier.verify(token)
        except InvalidToken as error:
            raise HTTPException(
                401, f"invalid token: {error}", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None
        if principal.audience is not Audience.BRAND or not principal.scope:
            return Context(
                principal=principal,
                engine=engine,
                limits=limits,
                token=token,
                services=commands,
                consistency=consistency,
            )
        try:
            sharing_now = await registry.factories_sharing_reports_with(principal.scope, token)
        except RegistryUnavailable as error:
            log.warning("brand read refused: %s", error)
            raise HTTPException(
                503, "cannot confirm which factories share their reports with you now; try again shortly"
            ) from None
        return Context(
            principal=principal,
            engine=engine,
            sharing_now=sharing_now,
            limits=limits,
            token=token,
            services=commands,
            consistency=consistency,
        )

    graphql = GatewayRouter(
        schema,
        path="/graphql",
        context_getter=context,
        graphql_ide=None if production else "graphiql",  # off in production, with introspection (limits.py)
        allow_queries_via_get=True,  # queries only (never mutations), for persisted queries' cacheable GETs
        subscription_protocols=subscriptions.PROTOCOLS,
        max_subscriptions_per_connection=settings.subscriptions_per_connection,
        # Subscriptions are served where GraphQL is, never in a worker: so is the watch telling them.
        lifespan=lambda _: watch.running(),
    )
    sdl = APIRouter()
    downloads = APIRouter()

    @downloads.get("/bulk-exports/{export_id}.jsonl", tags=["graphql"], response_class=StreamingResponse)
    async def bulk_export(export_id: str, request: Request) -> StreamingResponse:
        """A ready bulk export's JSON Lines, for the token that started it (see `startBulkExport`)."""
        return await exports.download(engine, (await caller(request)).scope, export_id)

    exporter = exports.Exporter(engine, graphql_exports.KINDS, lifetime=dt.timedelta(hours=settings.bulk_export_hours))

    @sdl.get("/graphql/schema.graphql", response_class=PlainTextResponse, tags=["graphql"])
    async def schema_sdl() -> str:
        """The GraphQL schema in SDL, for partner systems' code generators."""
        return schema.as_str()

    runtime = Runtime(
        SERVICE,
        settings,
        engine,
        background=[
            *(Background(f"{name} projection", "consumers", runner.run) for name, runner in runners.items()),
            Background("brand feeds", "consumers", brand_feeds),
            Background("bulk exports", "consumers", exporter.run),
        ],
        on_shutdown=[registry.close, commands.close],
    )
    app = service_app(
        runtime,
        title="Better Work gateway",
        description="GraphQL for the programme, brands and governments, built from the services' events.",
        routers=[sdl, downloads, graphql] if production else [sdl, ide.assets, downloads, graphql],
    )
    app.state.projection_runners = runners
    app.state.brand_feeds_runner = feeds_runner
    app.state.bulk_exporter = exporter
    app.state.subscriptions_watch = watch
    return app
