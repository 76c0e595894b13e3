"""One GraphQL answer reads one state of the read models, however the projections commit while it
is put together, and gives its database connection back when it is done.

Without it a portal saw a committee with four meetings in its regularity and three in its list:
the two fields were read on two connections with a projection's commit in between.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from betterwork_events.auth import Audience, Principal
from gateway.graphql.context import Context
from gateway.graphql.limits import Limits
from gateway.graphql.schema import schema
from gateway.read_models.directory import factories
from gateway.read_models.snapshot import Reader, Snapshot
from gateway.settings import Settings as GatewaySettings
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import UNMETERED
from tests.e2e.read_side import PROGRAMME, ReadSide

COUNT = sa.select(sa.func.count()).select_from(factories)


async def factories_in(reads: Reader) -> int:
    async with reads.connect() as conn:
        return int(await conn.scalar(COUNT) or 0)


def engine_of(read_side: ReadSide) -> AsyncEngine:
    engine: AsyncEngine = read_side.gateway_app.state.runtime.engine
    return engine


async def test_a_snapshot_does_not_see_what_commits_after_its_first_read(read_side: ReadSide) -> None:
    engine = engine_of(read_side)
    await read_side.factory("Angkor Apparel")
    snapshot = Snapshot(engine)
    assert await factories_in(snapshot) == 1
    await read_side.factory("Bayon Garments")  # returns once the directory has applied it
    assert await factories_in(engine) == 2
    assert await factories_in(snapshot) == 1
    await snapshot.close()
    assert await factories_in(snapshot) == 2  # the next answer starts from what is committed then
    await snapshot.close()


async def test_a_failed_read_does_not_fail_the_reads_after_it(read_side: ReadSide) -> None:
    await read_side.factory("Angkor Apparel")
    snapshot = Snapshot(engine_of(read_side))
    try:
        async with snapshot.connect() as conn:
            await conn.execute(sa.text("SELECT 1 / 0"))
    except sa.exc.DBAPIError:
        pass
    else:
        raise AssertionError("division by zero was not refused")
    assert await factories_in(snapshot) == 1
    await snapshot.close()


async def test_every_resolver_of_an_answer_reads_the_same_snapshot(read_side: ReadSide) -> None:
    engine = engine_of(read_side)
    await read_side.factory("Angkor Apparel")
    limits = Limits.of(GatewaySettings(database_url="unused", **UNMETERED), time.monotonic)
    context = Context(principal=Principal("staff", Audience.PROGRAMME), engine=engine, limits=limits)
    assert await factories_in(context.reads) == 1  # the answer's snapshot is taken here
    await read_side.factory("Bayon Garments")
    query = "{ factories(first: 10) { totalCount nodes { name } } }"
    answer = await schema.execute(query, context_value=context)
    assert answer.errors is None, answer.errors
    assert answer.data is not None
    assert answer.data["factories"]["totalCount"] == 1
    assert [n["name"] for n in answer.data["factories"]["nodes"]] == ["Angkor Apparel"]
    # The answer is done, its snapshot closed: the next reads see Bayon.
    assert await factories_in(context.reads) == 2
    await schema.execute("{ factories(first: 1) { totalCount } }", context_value=context)  # closes it


async def test_every_answer_gives_its_connection_back(read_side: ReadSide) -> None:
    engine = engine_of(read_side)
    angkor = await read_side.factory("Angkor Apparel")
    queries: list[tuple[str, dict[str, Any]]] = [
        (
            "query ($id: ID!) { factory(id: $id) { name assessmentReports(first: 3) { totalCount } trainingSessions(first: 3) { totalCount } } }",
            {"id": angkor},
        ),
        ("{ factories(first: 5) { totalCount nodes { name } } }", {}),
        ('{ factories(first: 5, after: "not a cursor") { totalCount } }', {}),  # refused
        ("{ nothing }", {}),  # not in the schema
    ]
    for query, variables in queries * 5:
        answered = await read_side.gateway.post(
            "/graphql", json={"query": query, "variables": variables}, headers=PROGRAMME
        )
        assert answered.status_code in (200, 400), answered.text
    async with engine.connect() as conn:
        open_transactions = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        )
    assert open_transactions == 0
