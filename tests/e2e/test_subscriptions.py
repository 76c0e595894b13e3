"""GraphQL subscriptions through a real websocket client, against the real gateway, registry and
assessment service over real Kafka and PostgreSQL: each caller is told of what it may read, once
a query can read it, and nothing else; refusals are clear."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from betterwork_events.auth import Audience
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.graphql import subscriptions
from gateway.notices import Watch
from gateway.settings import Settings as GatewaySettings
from websockets.asyncio.client import ClientConnection

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME, bearer
from tests.e2e.test_assessment import question
from tests.e2e.test_brand_feeds import NEVER_FOR_BRANDS, FeedServices, feeds  # noqa: F401  (the fixture)
from tests.support import as_read_now, eventually, serve

PROTOCOL = "graphql-transport-ws"
REPORTS = "subscription ($factory: ID) { assessmentReportPublished(factoryId: $factory) { factoryId report { id publishedOn clusters { clusterId compliancePointsNonCompliant } } } }"
ALERTS = "subscription { zeroToleranceAlertRaised { factoryId assessmentId questionId issue status } }"
HISTORY = "subscription ($factory: ID!) { factoryHistory(factoryId: $factory) { service type summary } }"
QUIET = 2.0  # seconds to listen for something that must not come


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


class Subscriber:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = 0

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": str(self._ids), "type": "subscribe", "payload": payload}))
        return str(self._ids)

    async def message(self, within: float = 30.0) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), within)))

    async def nothing_for(self, seconds: float = QUIET) -> None:
        with contextlib.suppress(TimeoutError):
            raise AssertionError(f"unexpected: {await self.message(within=seconds)}")


@contextlib.asynccontextmanager
async def subscriber(gateway_url: str, headers: dict[str, str]) -> AsyncIterator[Subscriber]:
    async with websockets.connect(ws_url(gateway_url), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "connection_ack"}
        yield Subscriber(ws)


async def closed_with(gateway_url: str, payload: object, protocol: str = PROTOCOL) -> tuple[int, str]:
    """What the gateway closes the connection with after this connection_init."""
    async with websockets.connect(ws_url(gateway_url), subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            await asyncio.wait_for(ws.recv(), 10)
        await ws.wait_closed()
        assert ws.close_code is not None, "the gateway kept the connection open"
        return ws.close_code, ws.close_reason or ""


async def refusal(subscriber: Subscriber, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error a refused subscription answers with (then it completes): its message and code."""
    refused = await subscriber.subscribe(query, variables)
    told, then = await subscriber.message(), await subscriber.message()
    assert told["id"] == refused and told["type"] == "next" and told["payload"].get("data") is None, told
    assert then == {"id": refused, "type": "complete"}
    [error] = told["payload"]["errors"]
    return {"message": error["message"], "code": error.get("extensions", {}).get("code")}


def base_url(services: FeedServices) -> str:
    return str(services.gateway.base_url).rstrip("/")


async def visible_to_programme(services: FeedServices, factory_id: str, count: int) -> None:
    """Wait until a query shows the factory's `count` reports: the subscriptions were told by then."""

    async def shown() -> bool:
        return len(await services.reports_seen_by(PROGRAMME, factory_id) or []) >= count

    await eventually(shown, what=f"{count} reports of {factory_id} in the read model")


class HeldBack:
    """Projection runners that take no batch while `open` is clear. (Held before their transaction
    begins: a transaction left open would hold back every relay of the PostgreSQL server.)"""

    def __init__(self, *runners: Any) -> None:
        self.open = asyncio.Event()
        self.open.set()
        for runner in runners:
            self._hold(runner)

    def _hold(self, runner: Any) -> None:
        handle = runner.handle

        async def held_back(*args: Any) -> None:
            await self.open.wait()
            await handle(*args)

        runner.handle = held_back


@dataclass
class Held(FeedServices):
    directory: HeldBack | None = None  # the gateway's factory directory (and brand feeds), which the test may hold back


@pytest.fixture
async def held(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[Held]:
    """The services of `feeds`, with the gateway's directory behind a gate."""
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    assessment = create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common))
    async with serve(registry) as registry_url:
        gateway_db = await create_database("gateway")
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common))
        # The brand feeds wait for the directory inside their transaction: held back with it.
        gate = HeldBack(gateway.state.projection_runners["factory-directory"], gateway.state.brand_feeds_runner)
        async with (
            serve(assessment) as assessment_url,
            serve(gateway) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as r,
            httpx.AsyncClient(base_url=assessment_url) as a,
            httpx.AsyncClient(base_url=gateway_url) as g,
        ):
            yield Held(r, a, g, kafka, topic_prefix, gateway_db, gate)


async def test_a_brand_is_told_of_its_consenting_suppliers_new_reports_only_and_not_after_a_revocation(
    held: Held,
) -> None:
    angkor = await held.enrolled_factory("Angkor Apparel Co., Ltd.")  # consents, then revokes
    mekong = await held.enrolled_factory("Mekong Knitwear Ltd.")  # linked, never consents
    tonle = await held.enrolled_factory("Tonle Sap Garments")  # consents throughout
    northwind = await held.brand("Northwind Outfitters")
    for factory in (angkor, mekong, tonle):
        await held.link(factory, northwind)
    await held.consent(angkor, northwind)
    await held.consent(tonle, northwind)
    brand = bearer(Audience.BRAND, northwind)
    wage = question(cluster="compensation")

    async def directory_knows() -> bool:
        query = "{ factories(first: 10) { nodes { factoryId } } }"
        response = await held.gateway.post("/graphql", json={"query": query}, headers=brand)
        return {f["factoryId"] for f in response.json()["data"]["factories"]["nodes"]} == {angkor, tonle}

    await eventually(directory_knows, what="the gateway's directory applying the links and consents")

    async with subscriber(base_url(held), brand) as northwinds:
        reports = await northwinds.subscribe(REPORTS)
        of_angkor = await northwinds.subscribe(REPORTS, {"factory": angkor})
        first = await held.schedule_when_known(angkor)
        await held.publish_visit(first, {wage})
        told = {m["id"]: m for m in [await northwinds.message(), await northwinds.message()]}
        assert set(told) == {reports, of_angkor}, told
        assert told[reports]["payload"] == told[of_angkor]["payload"]
        published = told[reports]["payload"]["data"]["assessmentReportPublished"]
        # What the brand is told is what its query reads, no more.
        [read] = await held.reports_seen_by(brand, angkor) or []
        assert published["factoryId"] == angkor and published["report"]["id"] == read["id"] == first["id"]
        compensation = [c for c in published["report"]["clusters"] if c["clusterId"] == "compensation"]
        assert compensation == [{"clusterId": "compensation", "compliancePointsNonCompliant": 1}]

        # A supplier that does not consent: its report is in the read model, never on the brand's flow.
        unshared = await held.schedule_when_known(mekong)
        await held.publish_visit(unshared, set())
        await visible_to_programme(held, mekong, 1)

        # Angkor revokes, and its next report is published while the gateway's directory has not
        # applied the revocation yet: the registry's word, asked on each event, keeps it from the brand.
        assert held.directory is not None
        held.directory.open.clear()
        await held.consent(angkor, northwind, granted=False)
        second = await held.schedule_when_known(angkor)
        await held.publish_visit(second, set())
        await visible_to_programme(held, angkor, 2)

        # The flow goes on for a supplier that still consents, and it is the next thing told.
        third = await held.schedule_when_known(tonle)
        await held.publish_visit(third, set())
        told = await northwinds.message()
        assert told["payload"]["data"]["assessmentReportPublished"]["factoryId"] == tonle, told
        assert told["payload"]["data"]["assessmentReportPublished"]["report"]["id"] == third["id"]
        assert await held.reports_seen_by(brand, angkor) is None  # and queries agree

        # Once the directory applies the revocation, the subscription to Angkor alone completes.
        held.directory.open.set()
        assert await northwinds.message() == {"id": of_angkor, "type": "complete"}
        await northwinds.nothing_for()


async def test_alerts_reach_the_programme_only_and_a_factory_is_told_of_its_own_history_only(
    feeds: FeedServices,  # noqa: F811  (the fixture of test_brand_feeds)
) -> None:
    angkor = await feeds.enrolled_factory("Angkor Apparel Co., Ltd.")
    mekong = await feeds.enrolled_factory("Mekong Knitwear Ltd.")
    northwind = await feeds.brand("Northwind Outfitters")
    await feeds.link(angkor, northwind)
    await feeds.consent(angkor, northwind)
    url = base_url(feeds)
    async with (
        subscriber(url, PROGRAMME) as programme,
        subscriber(url, bearer(Audience.BRAND, northwind)) as brand,
        subscriber(url, bearer(Audience.FACTORY, angkor)) as own,
        subscriber(url, bearer(Audience.FACTORY, mekong)) as other,
        subscriber(url, bearer(Audience.GOVERNMENT, "KH")) as government,
    ):
        alerts = await programme.subscribe(ALERTS)
        assert await refusal(brand, ALERTS) == {
            "message": "zero-tolerance alerts are for programme staff only",
            "code": "FORBIDDEN",
        }
        refused = await refusal(government, HISTORY, {"factory": angkor})
        assert refused["message"].startswith("government users see country aggregates only"), refused
        await own.subscribe(HISTORY, {"factory": angkor})
        await other.subscribe(HISTORY, {"factory": angkor})  # another factory's timeline

        child_labour = question(issue="child-labour")
        visit = await feeds.schedule_when_known(angkor)
        await feeds.publish_visit(visit, {child_labour})

        told = await programme.message()
        assert told["id"] == alerts, told
        assert told["payload"]["data"]["zeroToleranceAlertRaised"] == {
            "factoryId": angkor,
            "assessmentId": visit["id"],
            "questionId": child_labour,
            "issue": "CHILD_LABOUR",
            "status": "OPEN",
        }
        # The factory hears of its published report, not of the visit being scheduled or assessed
        # (programme-only, like everything a brand never receives).
        entries = []
        while not any(e["type"] == "org.betterwork.assessment.completed.v1" for e in entries):
            told = await own.message()
            assert told["type"] == "next", told
            entries.append(told["payload"]["data"]["factoryHistory"])
        # (Its registration may come too, if the history read model applies it only now.)
        assert not {e["type"] for e in entries} & NEVER_FOR_BRANDS, entries
        assert all(visit["planned_date"] not in e["summary"] for e in entries)
        await other.nothing_for()


@pytest.fixture
async def gateway_alone(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[str]:
    settings = GatewaySettings(
        database_url=await create_database("gateway"),
        kafka_bootstrap=kafka,
        topic_prefix=topic_prefix,
        subscriptions_per_connection=2,
        subscription_connections_per_principal=2,
    )
    async with serve(create_gateway(settings)) as url:
        yield url


@contextlib.asynccontextmanager
async def never_applied(
    create_database: Any, kafka: str, topic_prefix: str, **settings: Any
) -> AsyncIterator[tuple[str, Watch, httpx.AsyncClient]]:
    """A gateway API whose projections run nowhere (no background tasks, no worker), beside the
    registry: its subscriptions' events never become readable."""
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    async with serve(registry) as registry_url, httpx.AsyncClient(base_url=registry_url) as registry_client:
        gateway = create_gateway(
            GatewaySettings(
                database_url=await create_database("gateway"),
                registry_url=registry_url,
                run_background_tasks=False,
                **common,
                **settings,
            )
        )
        async with serve(gateway) as gateway_url:
            yield gateway_url, gateway.state.subscriptions_watch, registry_client


async def registered(registry: httpx.AsyncClient) -> str:
    response = await registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def update_profile(registry: httpx.AsyncClient, factory_id: str, products: list[str]) -> None:
    staff = await as_read_now(registry, f"/factories/{factory_id}", PROGRAMME)
    response = await registry.patch(f"/factories/{factory_id}", json={"products": products}, headers=staff)
    assert response.status_code == 200, response.text


async def ended_behind(subscriber: Subscriber, subscription: str) -> str:
    """The FELL_BEHIND error a subscription ends with (nothing told before it): its message."""
    told, then = await subscriber.message(), await subscriber.message()
    assert told["id"] == subscription and told["type"] == "next", told
    [error] = told["payload"]["errors"]
    assert error["extensions"]["code"] == "FELL_BEHIND", error
    assert then == {"id": subscription, "type": "complete"}
    return str(error["message"])


async def test_a_subscription_whose_read_model_never_applies_an_event_ends_after_the_wait_and_says_so(
    create_database, kafka: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with never_applied(create_database, kafka, topic_prefix, subscription_wait_seconds=1) as (url, _, registry):
        factory_id = await registered(registry)
        async with subscriber(url, PROGRAMME) as programme:
            history = await programme.subscribe(HISTORY, {"factory": factory_id})
            await asyncio.sleep(0.5)  # the subscription listening before the event comes
            await update_profile(registry, factory_id, ["denim jeans"])
            message = await ended_behind(programme, history)
    assert "factory-history is behind (an event waited more than 1 s for it); subscribe again" in message, message
    [logged] = [
        r.getMessage() for r in caplog.records if r.name == "gateway.notices" and "factory-history" in r.getMessage()
    ]
    assert logged.startswith(f"subscriptions: {topic_prefix}gateway.factory-history has not applied "), logged
    assert "the subscriptions to factory-history in this process end with FELL_BEHIND" in logged, logged


async def test_a_subscription_whose_read_model_lags_past_the_events_held_ends_and_says_so(
    create_database, kafka: str, topic_prefix: str
) -> None:
    async with never_applied(create_database, kafka, topic_prefix) as (url, watch, registry):
        watch.most_waiting = 3  # (10,000 by default) what the process holds, of every read model
        factory_id = await registered(registry)
        async with subscriber(url, PROGRAMME) as programme:
            history = await programme.subscribe(HISTORY, {"factory": factory_id})
            await asyncio.sleep(0.5)
            # Each update waits for two read models, the history and the directory.
            await update_profile(registry, factory_id, ["denim jeans"])
            await update_profile(registry, factory_id, ["denim jackets"])
            message = await ended_behind(programme, history)
    assert "is behind (3 events were waiting for read models to apply them); subscribe again" in message, message


async def test_a_process_that_cannot_follow_the_topics_refuses_connections_rather_than_miss_events(
    create_database,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on: Kafka unreachable
        closed.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{closed.getsockname()[1]}"
    settings = GatewaySettings(
        database_url=await create_database("gateway"), kafka_bootstrap=nowhere, run_background_tasks=False
    )
    async with serve(create_gateway(settings)) as url:
        assert await closed_with(url, PROGRAMME) == (
            1013,
            "cannot follow new events yet (Kafka unreachable); connect again shortly",
        )


async def test_the_legacy_protocol_and_callers_without_a_valid_token_are_refused(gateway_alone: str) -> None:
    code, reason = await closed_with(gateway_alone, PROGRAMME, protocol="graphql-ws")
    assert code == 4406, reason
    assert await closed_with(gateway_alone, {}) == (
        4401,
        'connection_init needs the payload {"Authorization": "Bearer <token>"}',
    )
    code, reason = await closed_with(gateway_alone, {"Authorization": "Bearer not-a-jwt"})
    assert code == 4401 and reason.startswith("invalid token"), reason
    assert "not-a-jwt" not in reason

    # Subscribing without connection_init is refused, and so is a query over the websocket.
    async with websockets.connect(ws_url(gateway_alone), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ALERTS}}))
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        await ws.wait_closed()
        assert ws.close_code == 4401
    async with subscriber(gateway_alone, PROGRAMME) as programme:
        await programme.subscribe("{ factories(first: 1) { totalCount } }")
        told = await programme.message()
        assert told["type"] == "error" and "over HTTP POST" in told["payload"][0]["message"], told
    # Nor does a subscription go over HTTP.
    async with httpx.AsyncClient(base_url=gateway_alone) as http:
        response = await http.post("/graphql", json={"query": ALERTS}, headers=PROGRAMME)
    assert (response.status_code, response.text) == (400, subscriptions.SUBSCRIPTION_OVER_HTTP)


async def test_subscriptions_per_connection_and_connections_per_caller_are_capped(gateway_alone: str) -> None:
    async with subscriber(gateway_alone, PROGRAMME) as first, subscriber(gateway_alone, PROGRAMME):
        await first.subscribe(ALERTS)
        await first.subscribe(ALERTS)
        third = await first.subscribe(ALERTS)
        told = await first.message()
        assert told == {"id": third, "type": "error", "payload": [{"message": "Subscription limit reached"}]}

        # A third connection of the same caller is refused; another caller is not counted with it.
        assert await closed_with(gateway_alone, PROGRAMME) == (4429, "at most 2 subscription connections per caller")
        async with subscriber(gateway_alone, bearer(Audience.FACTORY, "KH-2026-0042-5")):
            pass

    # Closing connections gives their places back.
    async with subscriber(gateway_alone, PROGRAMME), subscriber(gateway_alone, PROGRAMME):
        pass
