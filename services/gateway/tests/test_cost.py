"""The query cost model, the budgets and persisted queries, without I/O."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from gateway.graphql.cost import MUTATION, PLAIN_LIST, PageTooLarge, actual_cost, requested_cost
from gateway.graphql.limits import Budgets
from gateway.graphql.persisted import PersistedQueries, allow_list, sha256
from gateway.graphql.schema import schema
from gateway.read_models.pages import DEFAULT_PER_PAGE
from gateway.settings import PORTAL_QUERIES
from graphql import GraphQLError, build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[3]


def cost_of(query: str, variables: dict[str, object] | None = None) -> int:
    document = parse(query)
    assert validate(schema._schema, document) == [], query
    return requested_cost(schema._schema, document, variables=variables).cost


def depth_of(query: str) -> int:
    return requested_cost(schema._schema, parse(query)).depth


def test_scalars_cost_nothing_and_an_object_one() -> None:
    assert cost_of('{ countrySummary(country: "KH") { enrolledFactories workers } }') == 1
    assert cost_of("{ __typename }") == 0


def test_a_connection_costs_its_page_times_each_item() -> None:
    # the connection, its pageInfo, and 20 times (a node, and its 3 assessments' connection and nodes)
    per_factory = 1 + (1 + 3 * 1)
    assert (
        cost_of(
            "{ factories(first: 20) { totalCount pageInfo { hasNextPage }"
            " nodes { name assessments(first: 3) { nodes { cycle } } } } }"
        )
        == 1 + 1 + 20 * per_factory
    )


def test_edges_and_nodes_each_count_per_item() -> None:
    assert cost_of("{ factories(first: 10) { edges { cursor node { name } } } }") == 1 + 10 * (1 + 1)
    assert cost_of("{ factories(first: 10) { edges { cursor } nodes { name } } }") == 1 + 10 * (1 + 1)


def test_without_first_a_connection_is_costed_at_the_default_page() -> None:
    assert cost_of("{ factories { nodes { name } } }") == 1 + DEFAULT_PER_PAGE


def test_a_page_size_given_as_a_variable_is_the_one_costed() -> None:
    query = "query ($n: Int = 7) { factories(first: $n) { nodes { name } } }"
    assert cost_of(query, {"n": 40}) == 1 + 40
    assert cost_of(query) == 1 + 7  # the variable's default


def test_a_plain_list_is_counted_at_its_usual_size() -> None:
    query = "{ brandDashboard { countries { country clusters { clusterId } } } }"
    assert cost_of(query) == 1 + PLAIN_LIST * (1 + PLAIN_LIST * 1)


def test_the_readme_queries_cost_what_the_readme_says() -> None:
    """The brand portal's query: 20 factories each with 1 assessment of 20 findings and 20 actions,
    and a dashboard of countries of clusters."""
    readme = (ROOT / "README.md").read_text()
    brand = next(q for q in allow_list([ROOT / "README.md"]).values() if "brandDashboard" in q)
    per_factory = 1 + (1 + 1 * (1 + (1 + 20 * 1))) + (1 + 20 * 1)
    dashboard = 1 + PLAIN_LIST * (1 + PLAIN_LIST * (1 + 1 + 1))
    assert cost_of(brand) == 1 + 20 * per_factory + dashboard
    assert f"costs {1 + 20 * per_factory + dashboard:,}" in readme


def test_a_page_over_the_maximum_is_refused_before_anything_runs() -> None:
    with pytest.raises(PageTooLarge, match="factories: first must be between 0 and 100, not 500"):
        cost_of("{ factories(first: 500) { nodes { name } } }")
    with pytest.raises(PageTooLarge, match="not 101"):
        cost_of("query ($n: Int) { factories(first: $n) { nodes { name } } }", {"n": 101})


def test_a_fragment_is_costed_once_however_often_it_is_spread() -> None:
    """Twelve levels of fragments spreading the next ten times: 10**12 workforce objects, costed
    exactly, in a moment (costing each spread again would not finish)."""
    levels = 12
    parts = [
        "{ factories(first: 1) { nodes { ...L0 } } }",
        f"fragment L{levels} on Factory {{ workforce {{ women }} }}",
    ]
    parts += [f"fragment L{n} on Factory {{ {' '.join([f'...L{n + 1}'] * 10)} }}" for n in range(levels)]
    started = time.perf_counter()
    cost = requested_cost(schema._schema, parse("\n".join(parts))).cost
    assert time.perf_counter() - started < 0.5
    assert cost == 1 + 1 * (1 + 10**levels)


def test_every_branch_of_an_abstract_type_is_added() -> None:
    query = (
        '{ node(id: "x") { id ... on Factory { workforce { women } }'
        " ... on Assessment { findings(first: 4) { nodes { questionId } } } } }"
    )
    assert cost_of(query) == 1 + 1 + (1 + 4 * 1)


def test_a_mutation_costs_more_than_its_answer() -> None:
    commands = build_schema(
        "type Query { ok: Boolean } type Mutation { scheduleAssessment(factoryId: ID!): Scheduled }"
        " type Scheduled { assessmentId: ID position: Position } type Position { service: String }"
    )
    one = parse('mutation { scheduleAssessment(factoryId: "KH-1") { assessmentId position { service } } }')
    assert requested_cost(commands, one).cost == MUTATION + 1 + 1
    two = parse(
        'mutation { a: scheduleAssessment(factoryId: "KH-1") { assessmentId } b: scheduleAssessment(factoryId: "KH-2") { assessmentId } }'
    )
    assert requested_cost(commands, two).cost == 2 * (MUTATION + 1)


def test_depth_counts_fields_one_inside_the_other() -> None:
    assert depth_of("{ factories { nodes { name } } }") == 3
    assert depth_of("{ factories { nodes { ...F } } } fragment F on Factory { workforce { women } }") == 4
    assert depth_of("{ __schema { types { fields { type { ofType { name } } } } } }") == 0  # GraphiQL's own


def test_the_actual_cost_is_the_objects_the_answer_holds() -> None:
    data = {
        "factories": {"pageInfo": {"hasNextPage": False}, "nodes": [{"name": "Angkor Apparel"}, {"name": "Mekong"}]},
        "countrySummary": {"workers": 2400},
    }
    assert actual_cost(data) == 1 + 1 + 2 + 1
    assert actual_cost(None) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_budget_is_spent_refused_when_short_and_refilled_with_time() -> None:
    clock = Clock()
    budgets = Budgets(capacity=120, restore_per_minute=60, clock=clock)
    assert budgets.take("brand:BR-0001", 50) and budgets.take("brand:BR-0001", 50)
    assert budgets.available("brand:BR-0001") == 20
    assert not budgets.take("brand:BR-0001", 50)
    assert budgets.available("brand:BR-0001") == 20  # a refusal spends nothing
    assert budgets.seconds_until("brand:BR-0001", 50) == 30
    assert budgets.available("brand:BR-0002") == 120  # each caller its own
    clock.now += 29
    assert not budgets.take("brand:BR-0001", 50)
    clock.now += 1
    assert budgets.take("brand:BR-0001", 50)
    clock.now += 3600
    assert budgets.available("brand:BR-0001") == 120  # never more than the capacity
    assert budgets.status("brand:BR-0001") == {
        "maximumAvailable": 120.0,
        "currentlyAvailable": 120.0,
        "restoreRate": 1.0,
    }


def test_a_refund_gives_back_what_the_answer_did_not_use() -> None:
    budgets = Budgets(capacity=500, restore_per_minute=60, clock=Clock())
    assert budgets.take("factory:F-1", 102)
    budgets.refund("factory:F-1", 100)
    assert budgets.available("factory:F-1") == 498


def test_callers_with_full_buckets_are_forgotten_when_there_are_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Budgets, "MOST_KEPT", 3)
    clock = Clock()
    budgets = Budgets(capacity=10, restore_per_minute=60, clock=clock)
    for caller in ("a", "b", "c"):
        budgets.take(caller, 10)
    clock.now += 5
    budgets.take("b", 5)  # b is short again; a and c refill over the next 5 seconds
    clock.now += 5
    budgets.take("d", 1)
    assert set(budgets._buckets) == {"b", "d"}
    assert budgets.available("b") == 5


QUERY = "{ factories(first: 5) { nodes { name } } }"


def persisted(hash_: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hash_}}


def code_of(error: pytest.ExceptionInfo[GraphQLError]) -> object:
    return (error.value.extensions or {})["code"]


def test_an_unknown_hash_asks_for_the_text_and_then_is_known() -> None:
    queries = PersistedQueries()
    with pytest.raises(GraphQLError, match="PersistedQueryNotFound") as refused:
        queries.resolve(None, persisted(sha256(QUERY)))
    assert code_of(refused) == "PERSISTED_QUERY_NOT_FOUND"
    resolved = queries.resolve(QUERY, persisted(sha256(QUERY)))
    assert resolved.query == QUERY and resolved.learn == sha256(QUERY)
    queries.learn(sha256(QUERY), QUERY)
    assert queries.resolve(None, persisted(sha256(QUERY))).query == QUERY


def test_a_hash_that_is_not_the_texts_is_refused() -> None:
    with pytest.raises(GraphQLError, match="provided sha does not match query") as refused:
        PersistedQueries().resolve(QUERY, persisted(sha256(QUERY + " ")))
    assert code_of(refused) == "BAD_USER_INPUT"
    with pytest.raises(GraphQLError) as refused:
        PersistedQueries().resolve(None, {"persistedQuery": {"version": 2, "sha256Hash": sha256(QUERY)}})
    assert code_of(refused) == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_with_an_allow_list_only_its_queries_are_answered() -> None:
    queries = PersistedQueries({sha256(QUERY): QUERY}, only_allowed=True)
    assert queries.resolve(None, persisted(sha256(QUERY))).query == QUERY
    assert queries.resolve(QUERY, None).query == QUERY
    other = "{ factories(first: 100) { nodes { name } } }"
    for query, extensions in [(other, None), (None, persisted(sha256(other))), (other, persisted(sha256(other)))]:
        with pytest.raises(GraphQLError, match="only the portals' registered queries") as refused:
            queries.resolve(query, extensions)
        assert code_of(refused) == "PERSISTED_QUERY_NOT_ALLOWED"


def test_learnt_queries_are_bounded_the_least_recently_used_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.graphql.persisted.MOST_LEARNT", 2)
    queries = PersistedQueries()
    texts = [f"{{ factories(first: {n}) {{ nodes {{ name }} }} }}" for n in (1, 2, 3)]
    queries.learn(sha256(texts[0]), texts[0])
    queries.learn(sha256(texts[1]), texts[1])
    queries.resolve(None, persisted(sha256(texts[0])))  # used again: kept
    queries.learn(sha256(texts[2]), texts[2])
    with pytest.raises(GraphQLError, match="PersistedQueryNotFound"):
        queries.resolve(None, persisted(sha256(texts[1])))
    assert queries.resolve(None, persisted(sha256(texts[0]))).query == texts[0]


def test_the_shipped_allow_list_is_the_readmes_queries() -> None:
    """Regenerate with `uv run --frozen python -m gateway.graphql.persisted README.md`."""
    shipped = json.loads(PORTAL_QUERIES.read_text())
    assert shipped == allow_list([ROOT / "README.md"])
    assert len(shipped) >= 3
    for query in shipped.values():
        assert validate(schema._schema, parse(query)) == []
