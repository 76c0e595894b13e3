"""Retries racing their own first attempt: the same Idempotency-Key, sent many times at once
(a client that timed out and retried while the first request was still running), gets the first
attempt's answer every time, and the command takes effect once, in every service."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from betterwork_events.errors import NotFound
from betterwork_events.factories import known_factory
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from fastapi import FastAPI
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME
from tests.support import eventually, if_match, serve

AT_ONCE = 10
TODAY = dt.datetime.now(dt.UTC).date()
SST = {
    "course": "SST",
    "days": [str(TODAY + dt.timedelta(days=20))],
    "venue": "Better Factories Cambodia training room, Phnom Penh",
    "trainer": "Pich Sopheap",
}


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient

    async def post_at_once(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> list[httpx.Response]:
        return await asyncio.gather(*(self.client.post(path, json=body, headers=headers) for _ in range(AT_ONCE)))

    async def retried_while_the_first_runs(
        self, path: str, body: dict[str, Any], headers: dict[str, str], read_after_the_check: str
    ) -> list[httpx.Response]:
        """The same request AT_ONCE times, the retries sent while the first is still running.

        The test holds the first at its append (it locks `events` against writes) and sends the
        retries then; they are held at their first read of the table `read_after_the_check` (an
        exclusive lock, queued behind the first's own read if it has one) until the first has
        committed. A service that checks the key outside the command's transaction has checked it
        by then and found nothing; one that claims the key with the command waits for the first.
        """

        async def send() -> httpx.Response:
            return await self.client.post(path, json=body, headers=headers)

        dsn = self.app.state.store.dsn
        writes, reads = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            holding_writes, holding_reads = writes.transaction(), reads.transaction()
            before = await writes.fetchval("SELECT count(*) FROM events")
            await holding_writes.start()
            await writes.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            first = asyncio.create_task(send())
            await eventually(lambda: _waiting(writes, 1), what="the first request waiting to append")
            await holding_reads.start()
            locking = asyncio.create_task(reads.execute(f"LOCK TABLE {read_after_the_check} IN ACCESS EXCLUSIVE MODE"))
            retries = [asyncio.create_task(send()) for _ in range(AT_ONCE - 1)]
            await eventually(lambda: _waiting(writes, AT_ONCE), what="the retries waiting")
            await holding_writes.rollback()
            await eventually(lambda: _appended(writes, before), what="the first request's events committing")
            await locking
            await holding_reads.rollback()
            return list(await asyncio.gather(first, *retries))
        finally:
            await writes.close()
            await reads.close()

    async def streams(self, prefix: str) -> list[str]:
        query = sa.text("SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE :prefix ORDER BY stream_id")
        async with self.app.state.runtime.engine.connect() as conn:
            return list((await conn.execute(query, {"prefix": f"{prefix}%"})).scalars())

    async def count_events(self, event_type: str) -> int:
        query = sa.text("SELECT count(*) FROM events WHERE type = :type")
        async with self.app.state.runtime.engine.connect() as conn:
            return int((await conn.execute(query, {"type": event_type})).scalar_one())

    async def knows(self, factory_id: str) -> bool:
        try:
            return (await known_factory(self.app.state.runtime.engine, factory_id)).enrollment == "enrolled"
        except NotFound:
            return False


@dataclass
class Services:
    registry: Service
    assessment: Service
    committee: Service
    training: Service

    async def enrolled_factory(self) -> str:
        """A factory the registry enrolled and every other service has learnt of."""
        created = await self.registry.client.post(
            "/factories", json=CAMBODIAN_FACTORY | {"confirmed_new": True}, headers=PROGRAMME
        )
        assert created.status_code == 201, created.text
        factory_id = created.json()["id"]
        await self.registry.client.post(f"/factories/{factory_id}/enrollment/apply", headers=PROGRAMME | if_match(1))
        enrolled = await self.registry.client.post(
            f"/factories/{factory_id}/enrollment/enroll",
            json={"service_package": "core", "enrolled_on": str(TODAY - dt.timedelta(days=90))},
            headers=PROGRAMME | if_match(2),
        )
        assert enrolled.status_code == 200, enrolled.text
        for service in (self.assessment, self.committee, self.training):
            await eventually(lambda s=service: s.knows(factory_id), what=f"a service learning of {factory_id}")
        return factory_id


@pytest.fixture
async def services(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[Services]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    apps = [
        create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common)),
        create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common)),
        create_committee(CommitteeSettings(database_url=await create_database("committee"), **common)),
        create_training(TrainingSettings(database_url=await create_database("training"), **common)),
    ]
    async with (
        serve(apps[0]) as registry,
        serve(apps[1]) as assessment,
        serve(apps[2]) as committee,
        serve(apps[3]) as training,
    ):
        clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in (registry, assessment, committee, training)]
        try:
            yield Services(*(Service(app, client) for app, client in zip(apps, clients, strict=True)))
        finally:
            for client in clients:
                await client.aclose()


async def _waiting(conn: asyncpg.Connection, count: int) -> bool:
    """Whether at least `count` requests wait for a lock in the connection's database (the test's two aside)."""
    waiting = await conn.fetchval(
        """SELECT count(DISTINCT pid) FROM pg_locks
           WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND pid <> pg_backend_pid() AND pid NOT IN (SELECT pid FROM pg_stat_activity WHERE query LIKE 'LOCK TABLE%')"""
    )
    return bool(waiting >= count)


async def _appended(conn: asyncpg.Connection, before: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM events") > before)


def one_answer(responses: list[httpx.Response], status: int = 201) -> dict[str, Any]:
    """Every response is the same success; returns it."""
    assert [r.status_code for r in responses] == [status] * AT_ONCE, [r.text for r in responses]
    first = responses[0].json()
    assert all(r.json()["id"] == first["id"] for r in responses), [r.json()["id"] for r in responses]
    return first


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_a_registration_retried_while_it_runs_registers_one_factory_and_answers_each_retry_with_it(
    services: Services,
) -> None:
    registry = services.registry
    headers = PROGRAMME | key()

    responses = await registry.retried_while_the_first_runs(
        "/factories", CAMBODIAN_FACTORY, headers, "factory_directory"
    )

    factory = one_answer(responses)
    assert await registry.streams("factory-") == [f"factory-{factory['id']}"]
    reused = await registry.client.post("/factories", json=CAMBODIAN_FACTORY | {"name": "Other"}, headers=headers)
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


async def test_retries_while_the_first_runs_schedule_one_assessment_establish_one_committee_and_one_session(
    services: Services,
) -> None:
    factory_id = await services.enrolled_factory()
    planned = {"factory_id": factory_id, "planned_date": str(TODAY + dt.timedelta(days=9)), "assessors": ["a-sokha"]}
    established = {"factory_id": factory_id, "established_on": str(TODAY - dt.timedelta(days=30))}
    headers = PROGRAMME | key()

    assessments = await services.assessment.retried_while_the_first_runs(
        "/assessments", planned, headers, "known_factories"
    )
    committees = await services.committee.retried_while_the_first_runs(
        "/committees", established, headers, "known_factories"
    )
    sessions = await services.training.retried_while_the_first_runs(
        "/sessions", SST | {"factory_ids": [factory_id]}, headers, "known_factories"
    )

    assessment, committee, session = one_answer(assessments), one_answer(committees), one_answer(sessions)
    assert await services.assessment.streams("assessment-") == [f"assessment-{assessment['id']}"]
    assert await services.committee.streams("committee-") == [f"committee-{committee['id']}"]
    assert await services.training.streams("training-session-") == [f"training-session-{session['id']}"]
    reused = await services.assessment.client.post(
        "/assessments", json=planned | {"assessors": ["a-dara"]}, headers=headers
    )
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


async def test_retries_sent_at_once_of_a_command_on_an_existing_stream_take_effect_once(services: Services) -> None:
    factory_id = await services.enrolled_factory()
    scheduled = await services.training.client.post(
        "/sessions", json=SST | {"factory_ids": [factory_id]}, headers=PROGRAMME
    )
    assert scheduled.status_code == 201, scheduled.text
    participant = {"participant_id": "AA-S-001", "factory_id": factory_id, "role": "supervisor", "sex": "female"}
    path = f"/sessions/{scheduled.json()['id']}/participants"
    headers = PROGRAMME | key() | {"If-Match": scheduled.headers["etag"]}

    one_answer(await services.training.post_at_once(path, participant, headers))

    assert await services.training.count_events("org.betterwork.training.participant-registered.v1") == 1
