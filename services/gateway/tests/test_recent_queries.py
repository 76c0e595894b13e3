"""Parsed and validated queries kept for their next request, without I/O: the answers stay those
of a fresh parse and validation, and what is kept stays bounded."""

from __future__ import annotations

from betterwork_events.auth import Audience, Principal
from gateway.graphql.context import Context
from gateway.graphql.limits import Limits, Recent
from gateway.graphql.schema import schema
from sqlalchemy.ext.asyncio import create_async_engine

ENGINE = create_async_engine("postgresql+asyncpg://unused@127.0.0.1:1/unused")  # never connected


def context(limits: Limits) -> Context:
    return Context(principal=Principal("staff", Audience.PROGRAMME), engine=ENGINE, limits=limits)


async def errors_of(query: str, limits: Limits) -> list[str]:
    answer = await schema.execute(query, context_value=context(limits))
    return [e.message for e in answer.errors or []]


async def test_a_query_asked_again_gets_the_same_errors() -> None:
    limits = Limits()
    for query in ("{ nothing }", "{ factories { nodes { nme } } }", "{ factories(first: 1) { totalCount "):
        first = await errors_of(query, limits)
        assert first  # each is wrong, in its own way
        assert await errors_of(query, limits) == first


async def test_what_is_kept_for_one_gateway_does_not_decide_for_another() -> None:
    introspection = "{ __schema { queryType { name } } }"
    open_, closed = Limits(introspection=True), Limits(introspection=False)
    assert await errors_of(introspection, open_) == []
    refused = await errors_of(introspection, closed)
    assert refused and "introspection" in refused[0].lower()
    assert await errors_of(introspection, open_) == []


def test_the_oldest_text_goes_first_and_long_texts_are_not_kept() -> None:
    made: list[str] = []
    recent: Recent[str] = Recent(size=2, longest=10)

    def get(query: str) -> str:
        return recent.get(query, lambda: made.append(query) or query.upper())

    assert [get("a"), get("b"), get("a"), get("c")] == ["A", "B", "A", "C"]  # b is now the oldest
    assert made == ["a", "b", "c"]
    get("a")
    get("b")
    assert made == ["a", "b", "c", "b"]  # made again: it had gone
    get("x" * 11)
    get("x" * 11)
    assert made[-2:] == ["x" * 11, "x" * 11]  # too long to keep
