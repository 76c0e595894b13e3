"""The gateway's limits over HTTP, against its real (empty) PostgreSQL read models: what is over a
limit is refused before any statement reaches the database; budgets deplete and refill."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from betterwork_events.auth import Audience
from gateway.app import create_app
from gateway.graphql.persisted import sha256
from gateway.settings import Settings
from sqlalchemy import event

from tests.e2e.conftest import bearer
from tests.support import serve

OFFICER = bearer(Audience.PROGRAMME)
GOVERNMENT = bearer(Audience.GOVERNMENT, "KH")
DEFAULTS = Settings()


class Clock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Gateway:
    client: httpx.AsyncClient
    clock: Clock
    statements: list[str]

    async def query(self, query: str | None, headers: dict[str, str] = OFFICER, **body: object) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, **body}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def start_gateway(create_database) -> AsyncIterator[Callable[..., Any]]:
    database = await create_database("gateway")

    @asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[Gateway]:
        clock = Clock()
        app = create_app(Settings(database_url=database, run_background_tasks=False, **settings), clock=clock)
        statements: list[str] = []
        engine = app.state.runtime.engine.sync_engine
        event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            yield Gateway(client, clock, statements)

    return start


@pytest.fixture
async def gateway(start_gateway) -> AsyncIterator[Gateway]:
    async with start_gateway() as started:
        yield started


def code(answer: dict[str, Any]) -> str:
    return answer["errors"][0]["extensions"]["code"]


async def test_a_query_over_the_maximum_cost_is_refused_before_anything_runs(gateway: Gateway) -> None:
    cheap = await gateway.query("{ factories(first: 100) { nodes { name } } }")
    assert cheap["data"] == {"factories": {"nodes": []}}
    assert gateway.statements, "a query within the limits reaches the database"
    gateway.statements.clear()

    # 100 factories with 100 assessments each with 100 findings
    expected = 1 + 100 * (1 + (1 + 100 * (1 + (1 + 100 * 1))))
    answer = await gateway.query(
        "{ factories(first: 100) { nodes { assessments(first: 100) { nodes {"
        " findings(first: 100) { nodes { questionId } } } } } } }"
    )
    assert answer["data"] is None
    assert code(answer) == "MAX_COST_EXCEEDED"
    assert answer["errors"][0]["extensions"]["cost"] == expected
    assert answer["errors"][0]["extensions"]["maximumCost"] == DEFAULTS.max_query_cost
    assert answer["extensions"]["cost"]["requestedQueryCost"] == expected
    assert answer["extensions"]["cost"]["actualQueryCost"] is None
    # nothing charged: only the cheap query's one object
    assert answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == DEFAULTS.query_budget - 1
    assert gateway.statements == []


async def test_a_page_over_the_maximum_is_refused_clearly_before_anything_runs(gateway: Gateway) -> None:
    answer = await gateway.query("{ factories(first: 500) { nodes { name } } }")
    assert answer["data"] is None
    assert answer["errors"][0]["message"] == "factories: first must be between 0 and 100, not 500"
    assert answer["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first", "maximum": 100}
    assert gateway.statements == []


def deep(cycles: int) -> str:
    """A factory's action's factory's action's ...: 2 + 3 * cycles + 1 fields deep, a point or so each."""
    inner = "name"
    for _ in range(cycles):
        inner = f"improvementActions(first: 1) {{ nodes {{ factory {{ {inner} }} }} }}"
    return f"{{ factories(first: 1) {{ nodes {{ {inner} }} }} }}"


async def test_a_query_deeper_than_the_limit_is_refused_before_anything_runs(gateway: Gateway) -> None:
    allowed = await gateway.query(deep(3))  # 12 deep
    assert "errors" not in allowed
    gateway.statements.clear()
    answer = await gateway.query(deep(4))  # 15 deep
    assert answer["data"] is None
    assert code(answer) == "MAX_DEPTH_EXCEEDED"
    assert answer["errors"][0]["extensions"]["depth"] == 15
    assert answer["errors"][0]["extensions"]["maximumDepth"] == 12
    assert gateway.statements == []


# Fifty country summaries: 50 objects asked, 50 answered, whatever the read models hold.
FIFTY = "{ " + " ".join(f'c{n}: countrySummary(country: "KH") {{ workers }}' for n in range(50)) + " }"


async def test_a_budget_depletes_refuses_and_refills_with_time(start_gateway) -> None:
    async with start_gateway(query_budget=120, query_budget_restore_per_minute=60, max_query_cost=100) as gateway:
        first = await gateway.query(FIFTY)
        assert first["extensions"]["cost"] == {
            "requestedQueryCost": 50,
            "actualQueryCost": 50,
            "throttleStatus": {"maximumAvailable": 120.0, "currentlyAvailable": 70.0, "restoreRate": 1.0},
        }
        second = await gateway.query(FIFTY)
        assert second["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 20.0

        gateway.statements.clear()
        throttled = await gateway.query(FIFTY)
        assert throttled["data"] is None
        assert code(throttled) == "THROTTLED"
        assert throttled["errors"][0]["extensions"]["retryAfterSeconds"] == 30
        assert throttled["extensions"]["cost"]["actualQueryCost"] is None
        assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 20.0  # nothing spent
        assert gateway.statements == []

        other = await gateway.query(FIFTY, headers=GOVERNMENT)  # another caller, its own budget
        assert other["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 70.0

        gateway.clock.now += 29
        assert code(await gateway.query(FIFTY)) == "THROTTLED"
        gateway.clock.now += 1
        refilled = await gateway.query(FIFTY)
        assert "errors" not in refilled
        assert refilled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0.0


async def test_what_an_answer_did_not_use_is_given_back(gateway: Gateway) -> None:
    answer = await gateway.query("{ factories(first: 100) { pageInfo { hasNextPage } nodes { name } } }")
    # asked: the connection, its pageInfo and 100 factories; answered: no factory yet
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 1 + 1 + 100
    assert answer["extensions"]["cost"]["actualQueryCost"] == 2
    assert answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == DEFAULTS.query_budget - 2


async def test_every_answer_reports_the_cost_even_a_query_that_does_not_parse(gateway: Gateway) -> None:
    answer = await gateway.query("{ factories(first: ")
    assert answer["errors"]
    assert answer["extensions"]["cost"]["requestedQueryCost"] is None
    assert answer["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == DEFAULTS.query_budget


QUERY = "{ factories(first: 5) { totalCount nodes { factoryId name } } }"


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


async def test_a_persisted_query_is_asked_for_once_then_answered_by_its_hash(gateway: Gateway) -> None:
    unknown = await gateway.query(None, extensions=persisted(QUERY))
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"

    registered = await gateway.query(QUERY, extensions=persisted(QUERY))
    expected = {"factories": {"totalCount": 0, "nodes": []}}
    assert registered["data"] == expected

    by_post = await gateway.query(None, extensions=persisted(QUERY))
    assert by_post["data"] == expected
    by_get = await gateway.client.get(
        "/graphql", params={"extensions": json.dumps(persisted(QUERY))}, headers={**OFFICER, "accept": "*/*"}
    )
    assert by_get.status_code == 200
    assert by_get.json()["data"] == expected
    assert by_get.json()["extensions"]["cost"]["requestedQueryCost"] == 1 + 5 * 1


async def test_a_persisted_query_over_get_needs_a_token(gateway: Gateway) -> None:
    await gateway.query(QUERY, extensions=persisted(QUERY))
    anonymous = await gateway.client.get("/graphql", params={"extensions": json.dumps(persisted(QUERY))})
    assert anonymous.status_code == 401


async def test_a_query_that_does_not_validate_is_not_learnt(gateway: Gateway) -> None:
    wrong = "{ factories { nodes { nosuchfield } } }"
    refused = await gateway.query(wrong, extensions=persisted(wrong))
    assert refused["data"] is None
    assert code(await gateway.query(None, extensions=persisted(wrong))) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_that_is_not_the_texts_is_refused(gateway: Gateway) -> None:
    answer = await gateway.query(QUERY, extensions=persisted(QUERY + " "))
    assert answer["errors"][0]["message"] == "provided sha does not match query"
    assert gateway.statements == []


async def test_with_the_allow_list_only_the_portals_queries_are_answered(start_gateway, tmp_path: Path) -> None:
    allowed = tmp_path / "portal-queries.json"
    allowed.write_text(json.dumps({sha256(QUERY): QUERY}))
    async with start_gateway(persisted_queries_only=True, persisted_queries_file=allowed) as gateway:
        expected = {"factories": {"totalCount": 0, "nodes": []}}
        assert (await gateway.query(None, extensions=persisted(QUERY)))["data"] == expected
        assert (await gateway.query(QUERY))["data"] == expected
        gateway.statements.clear()

        other = "{ factories(first: 6) { nodes { name } } }"
        for answer in [
            await gateway.query(other),
            await gateway.query(None, extensions=persisted(other)),
            await gateway.query(other, extensions=persisted(other)),
        ]:
            assert answer["data"] is None
            assert code(answer) == "PERSISTED_QUERY_NOT_ALLOWED"
        assert gateway.statements == []
        # registering it did not let it in
        assert code(await gateway.query(None, extensions=persisted(other))) == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_the_shipped_allow_list_admits_the_readmes_programme_query(start_gateway) -> None:
    async with start_gateway(persisted_queries_only=True) as gateway:
        readme = json.loads(DEFAULTS.persisted_queries_file.read_text())
        programme_query = next(q for q in readme.values() if "zeroToleranceAlerts" in q)
        answer = await gateway.query(None, extensions=persisted(programme_query))
        assert "errors" not in answer, answer
        assert answer["data"]["improvementActions"]["totalCount"] == 0
