"""The relay and the consumers running as processes of their own, apart from the API processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator

import httpx
import pytest
from betterwork_events.auth import Audience
from betterwork_events.contracts.factory_registry import FactoryProfileUpdated, FactoryRegistered
from betterwork_events.worker import main as worker_main
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME, bearer
from tests.e2e.test_subscriptions import HISTORY, subscriber
from tests.support import eventually, graphql_answer, read_topic, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running(service: str, what: str, argv: list[str], env: dict[str, str]) -> AsyncIterator[str]:
    """`python <argv> --port <a free one>` as a subprocess of `service`, once its /ready answers; its URL."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *argv, "--port", str(port),
            env={**os.environ, **env, "BW_ENVIRONMENT": "development"}, stderr=log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url) as probe:

                async def ready() -> bool:
                    if process.returncode is not None:
                        raise AssertionError(f"the {what} exited with {process.returncode}")
                    try:
                        return (await probe.get("/ready")).json() == {"status": "ready", "service": service}
                    except httpx.TransportError:
                        return False

                await eventually(ready, within=60, what=f"the {what} answering /ready")
            yield url
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
        log.seek(0)
        output = log.read().decode()
    # SIGTERM (what Kubernetes sends) is a clean shutdown: uvicorn stops the tasks, then re-raises it.
    assert process.returncode == -signal.SIGTERM and "Application shutdown complete" in output, output


@contextlib.asynccontextmanager
async def worker(service: str, role: str, env: dict[str, str]) -> AsyncIterator[None]:
    """`python -m betterwork_events.worker service role` as a subprocess, once its probes answer."""
    argv = ["-m", "betterwork_events.worker", service, role]
    async with running(service, f"{service} {role} worker", argv, env):
        yield


def gateway_api(env: dict[str, str]) -> contextlib.AbstractAsyncContextManager[str]:
    """The gateway's API as its pods run it (uvicorn, no background tasks of its own); its URL."""
    argv = ["-m", "uvicorn", "gateway.app:create_app", "--factory", "--host", "127.0.0.1"]
    return running("gateway", "gateway API", argv, env | {"BW_RUN_BACKGROUND_TASKS": "false"})


async def test_the_apis_without_background_tasks_and_the_workers_apart_still_publish_and_project(
    create_database, kafka: str, topic_prefix: str
) -> None:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix, "run_background_tasks": False}
    registry_db, gateway_db = await create_database("factory-registry"), await create_database("gateway")
    registry = create_registry(RegistrySettings(database_url=registry_db, **common))
    async with serve(registry) as registry_url, httpx.AsyncClient(base_url=registry_url) as registry_client:
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common))
        async with serve(gateway) as gateway_url, httpx.AsyncClient(base_url=gateway_url) as gateway_client:
            response = await registry_client.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)
            assert response.status_code == 201, response.text
            factory_id = response.json()["id"]
            topic = f"{topic_prefix}factory-registry.events"

            async def published() -> list[dict[str, bytes]]:
                return [dict(record.headers) for record in await read_topic(kafka, topic)]

            async def seen_in_graphql() -> list[dict[str, str]]:
                query = "{ factories(first: 10) { nodes { factoryId name } } }"
                answer = await gateway_client.post("/graphql", json={"query": query}, headers=PROGRAMME)
                assert answer.status_code == 200, answer.text
                return answer.json()["data"]["factories"]["nodes"]

            # The API processes alone publish and project nothing.
            await asyncio.sleep(2)
            assert await published() == []
            assert await seen_in_graphql() == []

            env = {"BW_KAFKA_BOOTSTRAP": kafka, "BW_TOPIC_PREFIX": topic_prefix}
            async with (
                worker("factory-registry", "relay", env | {"BW_DATABASE_URL": registry_db}),
                worker("gateway", "consumers", env | {"BW_DATABASE_URL": gateway_db, "BW_REGISTRY_URL": registry_url}),
            ):
                await eventually(lambda: _truthy(published()), what="the relay worker publishing")
                [headers] = await published()
                assert headers["ce_type"] == FactoryRegistered.event_type.encode()
                assert headers["ce_factoryid"] == factory_id.encode()

                async def projected() -> bool:
                    return await seen_in_graphql() == [{"factoryId": factory_id, "name": CAMBODIAN_FACTORY["name"]}]

                await eventually(projected, what="the consumer worker projecting the factory")


async def _truthy(pending: object) -> bool:
    return bool(await pending)  # type: ignore[misc]


def test_a_worker_for_a_role_the_service_does_not_have_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setenv("BW_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/never-connected")
    monkeypatch.setenv("BW_ENVIRONMENT", "development")
    with pytest.raises(SystemExit) as refused:
        worker_main(["gateway", "relay"])
    assert refused.value.code == 2
    assert "gateway has no relay to run" in capsys.readouterr().err


async def test_with_the_consumers_apart_each_api_process_delivers_a_subscription_once_a_query_shows_it(
    create_database, kafka: str, topic_prefix: str
) -> None:
    """Two API processes without projections of their own, the gateway's consumers in a worker."""
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    async with serve(registry) as registry_url, httpx.AsyncClient(base_url=registry_url) as registry_client:
        env = {
            "BW_KAFKA_BOOTSTRAP": kafka,
            "BW_TOPIC_PREFIX": topic_prefix,
            "BW_DATABASE_URL": await create_database("gateway"),
            "BW_REGISTRY_URL": registry_url,
        }
        async with (
            gateway_api(env) as first_url,
            gateway_api(env) as second_url,
            worker("gateway", "consumers", env),
            httpx.AsyncClient(base_url=first_url) as first,
            httpx.AsyncClient(base_url=second_url) as second,
        ):
            response = await registry_client.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)
            assert response.status_code == 201, response.text
            factory_id = response.json()["id"]
            own = bearer(Audience.FACTORY, factory_id)

            async def history(gateway: httpx.AsyncClient) -> list[dict[str, str]]:
                query = (
                    "query ($id: ID!) { factory(id: $id) { history(first: 10) { nodes { service type summary } } } }"
                )
                answer = graphql_answer(
                    await gateway.post("/graphql", json={"query": query, "variables": {"id": factory_id}}, headers=own)
                )
                return list(answer["data"]["factory"]["history"]["nodes"]) if answer["data"]["factory"] else []

            async def registered_in_both() -> bool:
                return all([len(await history(gateway)) == 1 for gateway in (first, second)])

            await eventually(registered_in_both, what="the consumer worker projecting the registration")

            async with subscriber(first_url, own) as on_first, subscriber(second_url, own) as on_second:
                for each in (on_first, on_second):
                    await each.subscribe(HISTORY, {"factory": factory_id})
                changed = {"products": ["knitted t-shirts", "polo shirts"]}
                read = await registry_client.get(f"/factories/{factory_id}", headers=own)
                response = await registry_client.patch(
                    f"/factories/{factory_id}", json=changed, headers=own | {"If-Match": read.headers["etag"]}
                )
                assert response.status_code == 200, response.text
                updated = {
                    "service": "FACTORY_REGISTRY",
                    "type": FactoryProfileUpdated.event_type,
                    "summary": "Profile updated: products",
                }
                for each, gateway in ((on_first, first), (on_second, second)):
                    told = await each.message()
                    assert told["type"] == "next" and told["payload"]["data"] == {"factoryHistory": updated}, told
                    assert (await history(gateway))[0] == updated  # a query shows it as soon as it is told
                # Once each: neither process is told it again, nor of the registration before it.
                await on_first.nothing_for()
                await on_second.nothing_for()
