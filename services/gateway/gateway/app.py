"""create_app(settings): the one place where the gateway is wired together."""

from __future__ import annotations

import json
import logging

from betterwork_events.auth import Audience, InvalidToken, TokenVerifier, bearer_token, token_required
from betterwork_events.consumer import ProjectionRunner
from betterwork_events.kafka import events_topic
from betterwork_events.web import Runtime, create_engine, service_app
from cross_web import AsyncHTTPRequestAdapter
from cross_web import HTTPException as StrawberryHTTPException
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from graphql import OperationType
from starlette.requests import HTTPConnection, Request
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from gateway import ide, read_models
from gateway.brand_feeds import BrandFeeds, DirectoryCaughtUp
from gateway.graphql import subscriptions
from gateway.graphql.context import Context
from gateway.graphql.schema import NUL_REFUSED, schema
from gateway.notices import Notices
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_engine(settings)
    dead_letters = settings.topic("gateway.dead-letter")

    def topics(services: list[str]) -> list[str]:
        return [settings.topic(events_topic(service)) for service in services]

    consumers = {p.name: p.consumer(settings.topic_prefix) for p in read_models.PROJECTIONS}
    notices = Notices()  # what each read model has committed, for the subscriptions
    runners = {
        name: ProjectionRunner(
            engine,
            settings.kafka_bootstrap,
            consumer,
            topics(consumer.projection.services),
            dead_letter_topic=dead_letters,
            on_committed=notices.committed(name),
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
    live = subscriptions.Live(notices, verifier, registry, settings.subscription_connections_per_principal)

    async def context(request: HTTPConnection) -> Context:
        if request.scope["type"] == "websocket":  # the caller authenticates at connection_init
            return subscriptions.LiveContext(principal=None, engine=engine, live=live)
        if request.scope["method"] == "GET":
            return Context(principal=None, engine=engine)  # the GraphiQL page; queries need POST
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
            return Context(principal=principal, engine=engine)
        try:
            sharing_now = await registry.factories_sharing_reports_with(principal.scope, token)
        except RegistryUnavailable as error:
            log.warning("brand read refused: %s", error)
            raise HTTPException(
                503, "cannot confirm which factories share their reports with you now; try again shortly"
            ) from None
        return Context(principal=principal, engine=engine, sharing_now=sharing_now)

    graphql = GatewayRouter(
        schema,
        path="/graphql",
        context_getter=context,
        graphql_ide="graphiql",
        allow_queries_via_get=False,
        subscription_protocols=subscriptions.PROTOCOLS,
        max_subscriptions_per_connection=settings.subscriptions_per_connection,
    )
    sdl = APIRouter()

    @sdl.get("/graphql/schema.graphql", response_class=PlainTextResponse, tags=["graphql"])
    async def schema_sdl() -> str:
        """The GraphQL schema in SDL, for partner systems' code generators."""
        return schema.as_str()

    runtime = Runtime(
        SERVICE,
        settings,
        engine,
        background=[
            *((f"{name} projection", runner.run) for name, runner in runners.items()),
            ("brand feeds", brand_feeds),
        ],
        on_shutdown=[registry.close],
    )
    app = service_app(
        runtime,
        title="Better Work gateway",
        description="GraphQL for the programme, brands and governments, built from the services' events.",
        routers=[sdl, ide.assets, graphql],
    )
    app.state.projection_runners = runners
    app.state.brand_feeds_runner = feeds_runner
    return app
