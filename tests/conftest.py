"""Fixtures for tests against the real PostgreSQL and Kafka (started once per run if not up).

Each test gets its own fresh, migrated database and its own topic prefix, so tests never see
each other's data and can run against a developer's `make run` stack without disturbing it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parents[1]
PG_PORT = int(os.environ.get("BW_PG_PORT", "25432"))
KAFKA = f"127.0.0.1:{os.environ.get('BW_KAFKA_PORT', '29092')}"
RUN = uuid.uuid4().hex[:8]
_counter = itertools.count(1)

MIGRATIONS = {
    service: ROOT / "services" / service / module / "migrations"
    for service, module in [
        ("factory-registry", "factory_registry"),
        ("assessment", "assessment"),
        ("committee", "committee"),
        ("training", "training"),
        ("gateway", "gateway"),
    ]
}


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{PG_PORT}/{database}"


@pytest.fixture(scope="session")
def infrastructure() -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), "infra"], check=True, stdout=subprocess.DEVNULL
    )


CreateDatabase = Callable[[str], Awaitable[str]]


@pytest.fixture(scope="session")
async def create_database(infrastructure: None) -> AsyncIterator[CreateDatabase]:
    """Make a fresh database migrated like `service`'s; returns its SQLAlchemy URL.

    Each service's migrations run once a session, into a template database that every test's
    database is then a copy of: copying takes a tenth of the time migrating took, and tests make
    hundreds of databases."""
    from betterwork_events.migrations import upgrade

    created: list[str] = []
    templates: dict[str, str] = {}
    admin = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", database="postgres")

    async def create(service: str) -> str:
        suffix = service.replace("-", "_")
        if service not in templates:
            template = f"t_{RUN}_template_{suffix}"
            await admin.execute(f'CREATE DATABASE "{template}"')
            created.append(template)
            await asyncio.to_thread(upgrade, MIGRATIONS[service], pg_url(template))
            templates[service] = template
        name = f"t_{RUN}_{next(_counter)}_{suffix}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{templates[service]}"')
        created.append(name)
        return pg_url(name)

    yield create
    for name in reversed(created):
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{RUN}-{next(_counter)}."


@pytest.fixture(scope="session")
async def kafka(infrastructure: None) -> AsyncIterator[str]:
    """The broker's address; topics the run created are deleted at the end."""
    yield KAFKA
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(f"t{RUN}-")]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
