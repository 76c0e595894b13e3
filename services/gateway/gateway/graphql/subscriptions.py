"""GraphQL subscriptions: new events as they become readable, to whoever may read them.

Over the graphql-transport-ws protocol only (the legacy graphql-ws one is refused, 4406). The
caller authenticates in `connection_init`, its payload carrying `{"Authorization": "Bearer …"}`
(browsers cannot set headers on a websocket); a missing or invalid token closes the connection
with 4401, one connection too many for the caller with 4429. Each connection carries at most
`subscriptions_per_connection` operations (over that, the `subscribe` gets an error), and only
subscriptions: queries and mutations go over HTTP POST, where their limits apply.

What a subscription delivers is read, when the event comes, through the same read-model
queries and the same `policy.Scope` as a query would be, so it never shows what a query would
not: an event is announced only once its projection has committed (notices.py: every API
process watches the topics and the projections' offsets itself, wherever the projections run),
and for a brand the registry confirms the factory still shares its reports with it, on every
event, so that a revocation stops the flow at once, as it stops reads; a brand's subscription to one factory
completes once the directory has applied the revocation (or the end of the link). The token is checked again on every event:
once it expires, the subscription ends with an error.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import strawberry
from betterwork_events.auth import Audience, InvalidToken, Principal, TokenVerifier
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import factory_registry as fr
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage
from strawberry.types.unset import UNSET, UnsetType

from gateway import policy
from gateway.graphql.assessments import ZeroToleranceAlert
from gateway.graphql.context import Context
from gateway.graphql.history import HistoryEntry
from gateway.graphql.reports import AssessmentReport
from gateway.notices import FellBehind, Watch
from gateway.read_models import assessments, directory, history, reports
from gateway.registry import Registry, RegistryUnavailable

PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
# What ends a brand's view of a factory (and so a brand's subscription to one factory).
ENDS_SHARING = (fr.ReportSharingConsentRevoked, fr.BrandUnlinked)
# A websocket close reason holds at most 123 bytes.
REASON_BYTES = 120
# A subscription's query is parsed before strawberry's own checks to learn its operation type:
# bounded like a query's (schema.MOST_TOKENS), so that parsing cannot tie up the gateway.
MOST_TOKENS = 5_000
# What subscriptions are told of: the read models they read or follow (the watch follows their topics).
READ_MODELS = (reports.projection, assessments.projection, history.projection, directory.projection)
# How long a connection waits, at its connection_init, for the process to follow the topics (only
# just after it started, or while Kafka cannot be reached since), before it is told to come back.
WATCH_WAIT_SECONDS = 5.0


class Refused(Exception):
    """The connection is refused: closed with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason.encode()[:REASON_BYTES].decode(errors="ignore")


@dataclass
class Live:
    """What the subscriptions of every connection share: the watch telling them of events, who
    checks tokens and sharing, and how many connections each caller holds."""

    watch: Watch
    verifier: TokenVerifier
    registry: Registry
    connections_per_principal: int
    _connections: collections.Counter[str] = field(default_factory=collections.Counter)

    async def watching(self) -> None:
        """Refused while this process does not follow the topics yet: it would miss events."""
        try:
            async with asyncio.timeout(WATCH_WAIT_SECONDS):
                await self.watch.listening.wait()
        except TimeoutError:
            raise Refused(1013, "cannot follow new events yet (Kafka unreachable); connect again shortly") from None

    def connect(self, context: LiveContext) -> None:
        """Authenticate a connection at its connection_init, and count it against its caller's cap."""
        scheme, _, token = str((context.connection_params or {}).get("Authorization", "")).partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Refused(4401, 'connection_init needs the payload {"Authorization": "Bearer <token>"}')
        try:
            principal = self.verifier.verify(token)
        except InvalidToken as error:
            raise Refused(4401, f"invalid token: {error}") from None
        if self._connections[principal.actor] >= self.connections_per_principal:
            raise Refused(4429, f"at most {self.connections_per_principal} subscription connections per caller")
        self._connections[principal.actor] += 1
        context.principal, context.token, context.counted = principal, token, principal.actor

    def disconnect(self, context: LiveContext) -> None:
        if context.counted is not None:
            self._connections[context.counted] -= 1
            if self._connections[context.counted] <= 0:
                del self._connections[context.counted]
            context.counted = None


@dataclass
class LiveContext(Context):
    """A websocket connection's context: the caller is known once connection_init is accepted."""

    live: Live | None = None
    connection_params: dict[str, Any] | None = None  # connection_init's payload, set by strawberry
    counted: str | None = None  # the caller whose connection cap counts this one

    def __post_init__(self) -> None:
        super().__post_init__()
        # A connection lasts for hours: each event is read fresh, never from the first one's state.
        self.reads = self.engine

    @property
    def shared(self) -> Live:
        assert self.live is not None, "the gateway's websocket context carries its Live"
        return self.live

    def verified(self) -> Principal:
        """The caller, its token checked again: a subscription lasts longer than a token may."""
        try:
            return self.shared.verifier.verify(self.token or "")
        except InvalidToken as error:
            raise policy.AccessDenied(
                f"the token is no longer valid ({error}); subscribe again with a new one"
            ) from None

    def scope_for(self, factory_id: str) -> policy.Scope:
        """The caller's scope for one event of this factory: for a brand, provided the registry
        confirms the factory shares its reports with it (`still_shared`)."""
        return policy.Scope(self.verified(), frozenset({factory_id}))

    async def still_shared(self, factory_id: str) -> bool:
        """For a brand, whether the registry says this factory shares its reports with it now."""
        principal = self.verified()
        if principal.audience is not Audience.BRAND:
            return True
        try:
            sharing = await self.shared.registry.factories_sharing_reports_with(str(principal.scope), self.token or "")
        except RegistryUnavailable:
            raise policy.AccessDenied(
                "cannot confirm which factories share their reports with you now; subscribe again shortly"
            ) from None
        return factory_id in sharing


async def on_connect(context: Context) -> UnsetType:
    """strawberry's on_ws_connect: an accepted connection is acknowledged without a payload."""
    assert isinstance(context, LiveContext)
    await context.shared.watching()
    context.shared.connect(context)
    return UNSET


class TransportWS(BaseGraphQLTransportWSHandler[LiveContext, None]):
    """strawberry's graphql-transport-ws handler, with the gateway's refusals."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except Refused as refusal:
            await self.websocket.close(code=refusal.code, reason=refusal.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and not _subscription(message):
            error = GraphQLError("only subscriptions go over the websocket: send queries and mutations over HTTP POST")
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            self.context.shared.disconnect(self.context)


def operation_type(query: object, operation_name: object = None) -> OperationType | None:
    """The type of the operation a request runs, or None if it does not parse (strawberry then
    answers why)."""
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    try:
        operation = get_operation_ast(parse(query, max_tokens=MOST_TOKENS), operation_name)
    except GraphQLError:
        return None
    return operation.operation if operation is not None else None


def _subscription(message: SubscribeMessage) -> bool:
    payload = message.get("payload") or {}
    found = operation_type(payload.get("query"), payload.get("operationName"))
    return found in (None, OperationType.SUBSCRIPTION)


SUBSCRIPTION_OVER_HTTP = "subscriptions go over a websocket (graphql-transport-ws) at this path, not HTTP"


Info = strawberry.Info[LiveContext, None]


def _live(info: Info) -> LiveContext:
    if not isinstance(info.context, LiveContext):
        raise policy.AccessDenied("subscriptions go over a websocket (graphql-transport-ws)")
    return info.context


async def _committed(
    context: LiveContext, read_model: str, contract: type[EventContract] | None, factory_id: str | None = None
) -> AsyncIterator[Any]:
    """The events of this type (or all) that `read_model` commits from now on, the token checked on
    each. Of one factory for a brand: until the factory stops sharing with it (the directory has
    applied the revocation or the end of the link), when the flow completes."""
    with context.shared.watch.notices.listening(read_model, directory.projection.name) as listener:
        try:
            async for notice in listener:
                principal = context.verified()
                event = notice.event.contract()
                if notice.read_model == directory.projection.name:
                    if (
                        isinstance(event, ENDS_SHARING)
                        and principal.audience is Audience.BRAND
                        and (event.brand_id, event.factory_id) == (principal.scope, factory_id)
                    ):
                        return
                elif contract is None or isinstance(event, contract):
                    yield notice.event, event
        except FellBehind as error:  # the client stopped reading: it catches up with a query
            raise GraphQLError(f"{error}; subscribe again", extensions={"code": "FELL_BEHIND"}) from None


@strawberry.type(description="A factory's assessment report, just published")
class PublishedReport:
    factory_id: strawberry.ID
    report: AssessmentReport


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Assessment reports as they are published, of the factories you may read (a brand: its "
        "consenting suppliers, for as long as they consent); of one factory if you give its id"
    )
    async def assessment_report_published(
        self, info: Info, factory_id: strawberry.ID | None = None
    ) -> AsyncGenerator[PublishedReport, None]:
        context = _live(info)
        context.scope.factory(sa.literal(""))  # refused at once for those who read no factory's reports
        committed = _committed(context, reports.projection.name, ae.AssessmentCompleted, factory_id)
        async for _, event in committed:
            if factory_id is not None and event.factory_id != factory_id:
                continue
            row = await reports.report(context.reads, context.scope_for(event.factory_id), event.assessment_id)
            if row is not None and await context.still_shared(event.factory_id):
                yield PublishedReport(factory_id=strawberry.ID(event.factory_id), report=AssessmentReport.of(row))

    @strawberry.subscription(description="Zero-tolerance issues as they are raised: programme staff only")
    async def zero_tolerance_alert_raised(
        self, info: Info, country: str | None = None
    ) -> AsyncGenerator[ZeroToleranceAlert, None]:
        context = _live(info)
        context.scope.zero_tolerance_alerts()  # refused at once for anyone else
        async for _, event in _committed(context, assessments.projection.name, ae.ZeroToleranceIssueRaised):
            scope = context.scope_for(event.factory_id)
            row = await assessments.alert(context.reads, scope, event.assessment_id, event.question_id)
            if row is not None and country in (None, row.country):
                yield ZeroToleranceAlert.of(row, dt.datetime.now(dt.UTC).date())

    @strawberry.subscription(
        description="New entries of a factory's history, as far as you may read them (as Factory.history)"
    )
    async def factory_history(self, info: Info, factory_id: strawberry.ID) -> AsyncGenerator[HistoryEntry, None]:
        context = _live(info)
        context.scope.history(history.factory_history.c.visibility)  # refused at once for governments
        async for envelope, event in _committed(context, history.projection.name, None, factory_id):
            if factory_id not in history.factories_named(event):
                continue
            scope = context.scope_for(factory_id)
            rows = await history.entries_of_event(context.reads, scope, factory_id, str(envelope.id))
            if rows and await context.still_shared(factory_id):
                for row in rows:
                    yield HistoryEntry.of(row)
