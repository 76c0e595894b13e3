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
from betterwork_events.contracts.factory_registry import FactoryRegistered
from betterwork_events.worker import main as worker_main
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME
from tests.support import eventually, read_topic, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def worker(service: str, role: str, env: dict[str, str]) -> AsyncIterator[None]:
    """`python -m betterwork_events.worker service role` as a subprocess, once its probes answer."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "betterwork_events.worker", service, role, "--port", str(port),
            env={**os.environ, **env, "BW_ENVIRONMENT": "development"}, stderr=log,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:

                async def ready() -> bool:
                    if process.returncode is not None:
                        raise AssertionError(f"the {service} {role} worker exited with {process.returncode}")
                    try:
                        return (await probe.get("/ready")).json() == {"status": "ready", "service": service}
                    except httpx.TransportError:
                        return False

                await eventually(ready, within=60, what=f"the {service} {role} worker answering /ready")
            yield
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
        log.seek(0)
        output = log.read().decode()
    # SIGTERM (what Kubernetes sends) is a clean shutdown: uvicorn stops the tasks, then re-raises it.
    assert process.returncode == -signal.SIGTERM and "Application shutdown complete" in output, output


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
