"""The services running on real sockets, against the real PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from betterwork_events import kafka as kafka_clients
from betterwork_events.auth import Audience, mint
from betterwork_events.settings import CommonSettings
from betterwork_events.store import EventStore
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

from tests.e2e.read_side import SERVICES, ReadSide
from tests.support import graphql_answer, serve

SETTINGS = CommonSettings(database_url="unused")
PROGRAMME = {"Authorization": f"Bearer {mint(SETTINGS, Audience.PROGRAMME, subject='assessor-sokha')}"}
CAMBODIAN_FACTORY = {
    "name": "Angkor Apparel Co., Ltd.",
    "country": "KH",
    "address": "National Road 4, Kambol, Phnom Penh",
}


# For tests that ask for every field at once (the attack matrix, the read models' own): far over
# what one partner's query may cost, and not what they test; test_gateway_limits.py tests the limits.
UNMETERED: dict[str, int] = {
    "max_query_cost": 10**12,
    "query_budget": 10**12,
    "query_budget_restore_per_minute": 10**12,
}


def bearer(audience: Audience, scope: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SETTINGS, audience, scope)}"}


@dataclass
class Stack:
    registry: httpx.AsyncClient
    gateway: httpx.AsyncClient
    registry_store: EventStore

    async def graphql(self, query: str, headers: dict[str, str]) -> dict[str, Any]:
        return graphql_answer(await self.gateway.post("/graphql", json={"query": query}, headers=headers))

    async def factories_seen_by(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        return (await self.graphql("{ factories(first: 100) { nodes { id: factoryId name country } } }", headers))[
            "data"
        ]["factories"]["nodes"]


@pytest.fixture
async def stack(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[Stack]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    gateway_db = await create_database("gateway")
    async with serve(registry) as registry_url:
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common))
        async with (
            serve(gateway) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as r,
            httpx.AsyncClient(base_url=gateway_url) as g,
        ):
            yield Stack(r, g, registry.state.store)


@pytest.fixture
async def read_side(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[ReadSide]:
    """The registry and the gateway on real sockets; the other services' events published on Kafka.
    Unmetered: these tests read whole read models at once (every field of a plan costs 261,334)."""
    await kafka_clients.ensure_topics(kafka, *(f"{topic_prefix}{s}.events" for s in SERVICES))
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    gateway_db = await create_database("gateway")
    async with serve(registry) as registry_url:
        gateway = create_gateway(
            GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common, **UNMETERED)
        )
        async with (
            serve(gateway) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as r,
            httpx.AsyncClient(base_url=gateway_url) as g,
        ):
            yield ReadSide(kafka, topic_prefix, r, g, gateway)
