"""The gateway's schema and access policy, without I/O."""

import re
from pathlib import Path

import pytest
from betterwork_events.auth import Audience, Principal
from gateway import policy
from gateway.graphql.schema import schema
from gateway.sdl import COMMITTED, sdl
from graphql import parse, validate


def test_the_committed_sdl_is_the_schema_in_code() -> None:
    assert COMMITTED.read_text() == sdl(), "run `make docs` and commit services/gateway/schema.graphql"


def test_a_government_may_not_read_individual_factories() -> None:
    with pytest.raises(policy.AccessDenied, match="aggregates only"):
        policy.scope_of(Principal("inspector-1", Audience.GOVERNMENT, "KH")).factories()


def test_an_anonymous_caller_may_read_nothing() -> None:
    with pytest.raises(policy.AccessDenied):
        policy.scope_of(None)


def test_the_queries_the_readme_shows_are_valid_against_the_schema() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    queries = re.findall(r"```graphql\n(.*?)```", readme, re.S)
    assert len(queries) >= 3
    for query in queries:
        assert validate(schema._schema, parse(query)) == [], query


def test_the_size_of_a_query_is_counted_once_per_fragment_however_often_it_is_spread() -> None:
    """Twelve levels of fragments spreading the next ten times: 10**12 fields as executed, refused
    after counting each fragment once (counting each spread again would not finish)."""
    levels = 12
    parts = ["query { factories { nodes { ...L0 } } }", f"fragment L{levels} on Factory {{ name }}"]
    parts += [f"fragment L{n} on Factory {{ {' '.join([f'...L{n + 1}'] * 10)} }}" for n in range(levels)]
    result = schema.execute_sync("\n".join(parts))
    assert result.errors and "fragments are spread out" in result.errors[0].message
    assert result.data is None
