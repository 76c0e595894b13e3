"""Helpers for the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run an app on a real socket (with its lifespan and background tasks); yields its base URL."""
    # A connection left open (a websocket, a keep-alive request still being answered) is closed after
    # 10 s at shutdown rather than waited for without end.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0, what: str = "condition") -> None:
    """Wait for something asynchronous (a projection, a relay) to happen, failing after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {within}s")
        await asyncio.sleep(0.1)


def registered(
    factory_id: str, name: str = "Angkor Apparel Co., Ltd.", country: str = "KH", address: str = "Phnom Penh"
):
    from betterwork_events.contracts.factory_registry import FactoryProfile, FactoryRegistered

    return FactoryRegistered(factory_id=factory_id, profile=FactoryProfile(name=name, country=country, address=address))


def renamed(factory_id: str, name: str, country: str = "KH", address: str = "Phnom Penh"):
    from betterwork_events.contracts.factory_registry import FactoryProfile, FactoryProfileUpdated

    profile = FactoryProfile(name=name, country=country, address=address)
    return FactoryProfileUpdated(factory_id=factory_id, profile=profile, changed=("name",))


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record on a topic now, partition by partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described[0]["error_code"] != 0:
        return []  # no such topic yet
    partitions = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


def graphql_answer(response: httpx.Response) -> dict[str, Any]:
    """A GraphQL answer without `extensions.cost`, which every answer carries (what the query cost
    and what is left of the caller's budget, which differs with what the caller asked before), so
    that answers compare by what they say. tests/e2e/test_gateway_limits.py checks the cost itself."""
    assert response.status_code == 200, response.text
    answer = dict(response.json())
    extensions = dict(answer.pop("extensions"))
    assert set(extensions.pop("cost")) == {"requestedQueryCost", "actualQueryCost", "throttleStatus"}
    if extensions:
        answer["extensions"] = extensions
    return answer


def if_match(version: int) -> dict[str, str]:
    """The If-Match header of a change to a resource read at `version` (its ETag)."""
    return {"If-Match": f'"{version}"'}


async def as_read_now(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, str]:
    """`headers` with If-Match naming the resource at `path` as it reads now: what a client that
    reads, then changes, sends."""
    read = await client.get(path, headers=headers)
    assert read.status_code == 200, read.text
    return headers | {"If-Match": read.headers["etag"]}
