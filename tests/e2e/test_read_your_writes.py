"""Read-your-writes: a query presenting the consistency token of a write sees that write, however
far behind the read models are; and one trace runs from the mutation into the service and on to
the projection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME
from tests.support import eventually, if_match, serve

# Each projection pauses this long before each event it applies: a read right after a write
# without its token sees the old name (asserted below, so the lag is real).
PROJECTION_DELAY = 0.15
# The gateway's bound on waiting for a token. Generous: the relay publishes only below the
# server-wide snapshot horizon, so other tests' long transactions on the shared PostgreSQL delay it.
WAIT = 30.0
RUNS = 30

RENAME = """mutation ($id: String!, $name: String!, $version: Int!) {
  updateFactory(input: {factoryId: $id, changes: {name: $name}, expectedVersion: $version}) {
    id version consistencyToken } }"""
NAME = "query ($id: ID!) { factory(id: $id) { name } }"


@dataclass
class Lagging:
    registry: httpx.AsyncClient
    gateway: httpx.AsyncClient
    settings: GatewaySettings

    async def graphql(
        self, query: str, variables: dict[str, Any], headers: dict[str, str] = PROGRAMME, **body: Any
    ) -> dict[str, Any]:
        response = await self.gateway.post(
            "/graphql", json={"query": query, "variables": variables, **body}, headers=headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def name(self, factory_id: str, headers: dict[str, str] = PROGRAMME, **body: Any) -> Any:
        answer = await self.graphql(NAME, {"id": factory_id}, headers, **body)
        assert "errors" not in answer, answer
        factory = answer["data"]["factory"]
        return factory and factory["name"]


@pytest.fixture
async def lagging(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[Lagging]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    gateway_db = await create_database("gateway")
    async with serve(registry) as registry_url:
        settings = GatewaySettings(
            database_url=gateway_db,
            registry_url=registry_url,
            projection_delay_seconds=PROJECTION_DELAY,
            consistency_wait_seconds=WAIT,
            **common,
        )
        async with (
            serve(create_gateway(settings)) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as r,
            httpx.AsyncClient(base_url=gateway_url, timeout=30) as g,
        ):
            yield Lagging(r, g, settings)


async def _registered(lagging: Lagging) -> str:
    response = await lagging.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)
    assert response.status_code == 201, response.text
    factory_id: str = response.json()["id"]
    # Generous: the relay waits for the snapshot horizon of the shared server (see WAIT).
    await eventually(lambda: _shows(lagging, factory_id), within=90, what="the factory in the read models")
    return factory_id


async def _shows(lagging: Lagging, factory_id: str) -> bool:
    return await lagging.name(factory_id) is not None


async def test_a_query_with_the_mutations_token_always_sees_the_write(lagging: Lagging) -> None:
    factory_id = await _registered(lagging)
    stale_without_token = 0
    for run in range(RUNS):
        name = f"Angkor Apparel, line {run}"
        renamed = await lagging.graphql(RENAME, {"id": factory_id, "name": name, "version": run + 1})
        token = renamed["data"]["updateFactory"]["consistencyToken"]
        assert token.startswith("factory-registry:")
        if run % 2:
            stale_without_token += await lagging.name(factory_id) != name  # at once, without the token
        seen = await lagging.name(factory_id, PROGRAMME | {"Consistency-Token": token})
        assert seen == name, f"run {run}: the query with the token read {seen!r}"
    # Without the token the lagging read models answer the old name: the token is what made the difference.
    assert stale_without_token >= RUNS // 4


async def test_a_rest_writes_token_works_the_same_in_a_header_or_the_extensions(lagging: Lagging) -> None:
    factory_id = await _registered(lagging)
    tokens: list[str] = []
    for version, how in enumerate(("header", "extension", "several"), start=1):
        name = f"Angkor Apparel ({how})"
        patched = await lagging.registry.patch(
            f"/factories/{factory_id}", json={"name": name}, headers=PROGRAMME | if_match(version)
        )
        assert patched.status_code == 200, patched.text
        token = patched.headers["Consistency-Token"]
        tokens.append(token)
        service, position = token.split(":")
        assert service == "factory-registry" and int(position) > 0
        if how == "header":
            seen = await lagging.name(factory_id, PROGRAMME | {"Consistency-Token": token})
        elif how == "extension":
            seen = await lagging.name(factory_id, extensions={"consistency": token})
        else:  # the earlier writes' tokens too: all must be applied
            seen = await lagging.name(factory_id, PROGRAMME | {"Consistency-Token": ", ".join(tokens)})
        assert seen == name

    # A read answers no token; a refused command neither.
    read = await lagging.registry.get(f"/factories/{factory_id}", headers=PROGRAMME)
    refused = await lagging.registry.patch(
        f"/factories/{factory_id}", json={"name": ""}, headers=PROGRAMME | if_match(4)
    )
    assert refused.status_code == 422
    assert "Consistency-Token" not in read.headers and "Consistency-Token" not in refused.headers


async def test_a_write_the_read_models_never_show_is_a_consistency_timeout(lagging: Lagging) -> None:
    factory_id = await _registered(lagging)
    impatient = lagging.settings.model_copy(update={"consistency_wait_seconds": 1.0, "run_background_tasks": False})
    async with serve(create_gateway(impatient)) as url, httpx.AsyncClient(base_url=url) as gateway:
        other = Lagging(lagging.registry, gateway, impatient)
        never = "factory-registry:999999999"
        answer = await other.graphql(NAME, {"id": factory_id}, PROGRAMME | {"Consistency-Token": never})
        assert answer["data"] is None
        [error] = answer["errors"]
        assert error["extensions"] == {"code": "CONSISTENCY_TIMEOUT", "tokens": [never]}
        assert "within 1s" in error["message"]

        for bad in ("registry:1", "factory-registry:first", "factory-registry"):
            answer = await other.graphql(NAME, {"id": factory_id}, PROGRAMME | {"Consistency-Token": bad})
            assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        answer = await other.graphql(NAME, {"id": factory_id}, extensions={"consistency": {"position": 1}})
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_one_trace_runs_from_the_mutation_through_the_service_to_the_projection(lagging: Lagging, spans) -> None:
    factory_id = await _registered(lagging)
    spans.clear()
    renamed = await lagging.graphql(RENAME, {"id": factory_id, "name": "Angkor Apparel", "version": 1})
    token = renamed["data"]["updateFactory"]["consistencyToken"]
    assert await lagging.name(factory_id, PROGRAMME | {"Consistency-Token": token}) == "Angkor Apparel"

    def finished(name: str, kind: SpanKind | None = None) -> list[ReadableSpan]:
        return [s for s in spans.get_finished_spans() if s.name == name and (kind is None or s.kind == kind)]

    [mutation, _query] = finished("POST /graphql", SpanKind.SERVER)
    [forwarded] = finished("PATCH", SpanKind.CLIENT)  # the gateway's call to the registry
    [command] = finished("PATCH /factories/{factory_id}", SpanKind.SERVER)  # in the registry
    [append] = finished("event_store.append")
    trace_id = mutation.context.trace_id
    assert forwarded.context.trace_id == command.context.trace_id == append.context.trace_id == trace_id
    assert command.parent is not None and command.parent.span_id == forwarded.context.span_id

    def in_the_trace(suffix: str) -> list[ReadableSpan]:
        found = [s for s in spans.get_finished_spans() if s.name.endswith(suffix)]
        return [s for s in found if s.context.trace_id == trace_id]

    async def projected() -> bool:
        return bool(in_the_trace("gateway.factory-directory process"))

    await eventually(projected, what="the projection's span in the mutation's trace")
    [published] = in_the_trace("factory-registry.events publish")  # the relay, to Kafka
    assert any(s.parent is not None and s.parent.span_id == published.context.span_id for s in in_the_trace("process"))
