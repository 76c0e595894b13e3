"""A service under more requests than it handles at once answers the excess 503 with Retry-After at
once, instead of queueing them past the clients' timeouts; and a request whose client hung up stops.

The registry's requests are held in flight the way an overload holds them: waiting on the database
(here, for a lock another session keeps on the directory)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
from factory_registry import directory
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from sqlalchemy.engine import make_url

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME
from tests.support import eventually, serve

NEW = {**CAMBODIAN_FACTORY, "confirmed_new": True}


async def connect(url: str) -> asyncpg.Connection:
    parts = make_url(url)
    return await asyncpg.connect(host=parts.host, port=parts.port, user=parts.username, database=parts.database)


async def registered_names(url: str) -> list[str]:
    conn = await connect(url)
    try:
        return sorted(await conn.fetchval(f"SELECT coalesce(array_agg(name), '{{}}') FROM {directory.factories.name}"))
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def directory_locked(url: str) -> AsyncIterator[asyncpg.Connection]:
    """Another session holding the directory, so every registration waits for it; yields that session."""
    conn = await connect(url)
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {directory.factories.name} IN ACCESS EXCLUSIVE MODE")
            yield conn
    finally:
        await conn.close()


async def waiting_on_the_lock(conn: asyncpg.Connection) -> int:
    """Sessions of this database waiting for a lock: on the directory, or behind one that waits on it
    (registrations take their numbers in turn). pg_locks, not pg_stat_activity: that one is read once
    per transaction, and this session keeps one open."""
    query = (
        "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int(await conn.fetchval(query))


async def test_requests_beyond_the_limit_are_answered_503_at_once_and_the_rest_complete(create_database) -> None:
    url = await create_database("factory-registry")
    app = create_registry(RegistrySettings(database_url=url, run_background_tasks=False, max_requests_in_flight=2))

    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        async with directory_locked(url) as lock:
            held = [
                asyncio.create_task(client.post("/factories", json=NEW | {"name": name}, headers=PROGRAMME))
                for name in ("Angkor Apparel", "Bayon Knitwear")
            ]
            await eventually(lambda: _waiting(lock, 2), within=10, what="two registrations waiting on the directory")

            started = asyncio.get_running_loop().time()
            shed = await client.post("/factories", json=NEW | {"name": "Mekong Denim"}, headers=PROGRAMME)
            answered_in = asyncio.get_running_loop().time() - started
            health = await client.get("/health")

        assert shed.status_code == 503, shed.text
        assert shed.headers["content-type"] == "application/json"
        assert "busy" in shed.json()["detail"]
        assert int(shed.headers["retry-after"]) >= 1
        assert answered_in < 1.0  # at once, not after the two ahead of it
        assert health.status_code == 200  # liveness is never shed

        assert [r.status_code for r in await asyncio.gather(*held)] == [201, 201]
        # Once they are done the service takes requests again.
        after = await client.post("/factories", json=NEW | {"name": "Mekong Denim"}, headers=PROGRAMME)
        assert after.status_code == 201, after.text
    assert await registered_names(url) == ["Angkor Apparel", "Bayon Knitwear", "Mekong Denim"]


async def test_a_request_whose_client_hung_up_is_cancelled_and_changes_nothing(create_database) -> None:
    url = await create_database("factory-registry")
    app = create_registry(RegistrySettings(database_url=url, run_background_tasks=False))

    async with serve(app) as base:
        async with directory_locked(url) as lock:
            async with httpx.AsyncClient(base_url=base, timeout=0.5) as impatient:
                try:
                    await impatient.post("/factories", json=NEW, headers=PROGRAMME)
                    raise AssertionError("the registration should still be waiting for the directory")
                except httpx.ReadTimeout:
                    pass  # the client gives up and closes its connection
            # The registration stops waiting on the database: its statement is cancelled, its transaction gone.
            await eventually(lambda: _waiting(lock, 0), within=10, what="the abandoned registration to stop")

        assert await registered_names(url) == []
        async with httpx.AsyncClient(base_url=base) as client:  # and the service is whole: the next one goes through
            assert (await client.post("/factories", json=NEW, headers=PROGRAMME)).status_code == 201


async def _waiting(lock: asyncpg.Connection, count: int) -> bool:
    return await waiting_on_the_lock(lock) == count
