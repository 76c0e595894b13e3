"""Factories in GraphQL: pages, cursors, filters, global ids, and each audience's reach."""

from __future__ import annotations

from typing import Any

from betterwork_events.auth import Audience

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import as_read_now

PAGE = """query ($first: Int, $after: String, $country: String) {
  factories(first: $first, after: $after, country: $country) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id factoryId name } }
  }
}"""


async def test_pages_walk_the_whole_list_in_name_order_without_gaps_or_repeats(read_side: ReadSide) -> None:
    names = [f"Factory {letter}" for letter in "QWERTYUIOPAS"]
    ids = {await read_side.factory(name): name for name in names}
    await read_side.until(PAGE, PROGRAMME, lambda d: d["factories"]["totalCount"] == len(names), "all projected")

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        answer = await read_side.graphql(PAGE, PROGRAMME, {"first": 5, "after": after})
        page = answer["data"]["factories"]
        pages += 1
        assert page["totalCount"] == len(names)
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [edge["node"]["name"] for edge in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(names) and pages == 3

    # A factory registered meanwhile before the cursor does not shift what comes after it.
    first_two = (await read_side.graphql(PAGE, PROGRAMME, {"first": 2}))["data"]["factories"]
    await read_side.factory("Factory AAA")
    await read_side.until(PAGE, PROGRAMME, lambda d: d["factories"]["totalCount"] == len(names) + 1, "projected")
    next_two = await read_side.graphql(PAGE, PROGRAMME, {"first": 2, "after": first_two["pageInfo"]["endCursor"]})
    assert [e["node"]["name"] for e in next_two["data"]["factories"]["edges"]] == sorted(names)[2:4]

    # Global ids find the same factory again, for whoever may read it.
    node = first_two["edges"][0]["node"]
    again = await read_side.graphql(
        "query ($id: ID!) { node(id: $id) { id ... on Factory { factoryId name } } }", PROGRAMME, {"id": node["id"]}
    )
    assert again["data"]["node"] == node
    assert set(ids) >= {node["factoryId"]}


async def test_a_page_that_cannot_be_given_is_a_clear_error(read_side: ReadSide) -> None:
    for variables, words in [
        ({"first": 101}, "between 0 and 100"),
        ({"first": -1}, "between 0 and 100"),
        ({"after": "not-a-cursor"}, "not a cursor"),
        ({"after": "WzFd"}, "not one this list gave"),  # base64 of [1]: a list, of the wrong length
    ]:
        answer = await read_side.graphql(PAGE, PROGRAMME, variables)
        assert answer["data"] is None, variables
        [error] = answer["errors"]
        assert words in error["message"] and error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)


async def test_filters_and_scope_apply_to_the_count_as_well_as_the_page(read_side: ReadSide) -> None:
    brand = await read_side.brand("Northwind Outfitters")
    consenting = await read_side.factory("Angkor Apparel")
    silent = await read_side.factory("Bayon Garments")
    vietnamese = await read_side.factory("Saigon Stitch", country="VN")
    await read_side.supplies(consenting, brand, consents=True)
    await read_side.supplies(silent, brand, consents=False)
    await read_side.supplies(vietnamese, brand, consents=True)
    await read_side.until(PAGE, PROGRAMME, lambda d: d["factories"]["totalCount"] == 3, "all projected")

    cambodian = (await read_side.graphql(PAGE, PROGRAMME, {"country": "KH"}))["data"]["factories"]
    assert cambodian["totalCount"] == 2

    def both_consenting(data: dict[str, Any]) -> bool:
        return {e["node"]["factoryId"] for e in data["factories"]["edges"]} == {consenting, vietnamese}

    as_brand = await read_side.until(PAGE, bearer(Audience.BRAND, brand), both_consenting, "consent projected")
    assert as_brand["factories"]["totalCount"] == 2
    assert (await read_side.graphql(PAGE, bearer(Audience.BRAND, brand), {"country": "KH"}))["data"]["factories"][
        "totalCount"
    ] == 1

    # A global id out of reach answers exactly as one that does not exist.
    silent_id = next(e["node"]["id"] for e in cambodian["edges"] if e["node"]["factoryId"] == silent)
    query = "query ($id: ID!) { node(id: $id) { id } }"
    hidden = await read_side.graphql(query, bearer(Audience.BRAND, brand), {"id": silent_id})
    missing = await read_side.graphql(query, bearer(Audience.BRAND, brand), {"id": "RmFjdG9yeTpLSC05OTk5"})
    assert hidden == missing == {"data": {"node": None}}


async def test_a_body_that_is_not_utf8_is_a_400_not_a_500(read_side: ReadSide) -> None:
    headers = PROGRAMME | {"content-type": "application/json"}
    response = await read_side.gateway.post("/graphql", content=b'{"query": "\x80"}', headers=headers)
    assert response.status_code == 400 and "not UTF-8" in response.text


async def test_a_nul_character_is_refused_at_the_edge_with_a_clear_error(read_side: ReadSide) -> None:
    literal = await read_side.graphql('{ factory(id: "KH\\u0000") { id } }', PROGRAMME)
    [error] = literal["errors"]
    assert "NUL character" in error["message"] and error["extensions"]["code"] == "BAD_USER_INPUT"

    body = {"query": "query ($id: ID!) { factory(id: $id) { id } }", "variables": {"id": "KH\u0000"}}
    by_variable = await read_side.gateway.post("/graphql", json=body, headers=PROGRAMME)
    assert by_variable.status_code == 400 and "NUL character" in by_variable.text


def fragments_spreading_tenfold(levels: int) -> str:
    """A small query whose fragments each spread the next ten times: 10**levels fields."""
    parts = ["query { factories { nodes { ...L0 } } }", f"fragment L{levels} on Factory {{ name }}"]
    for level in range(levels):
        parts.append(f"fragment L{level} on Factory {{ {' '.join([f'...L{level + 1}'] * 10)} }}")
    return "\n".join(parts)


async def test_a_query_that_grows_exponentially_through_fragments_is_refused_before_it_runs(
    read_side: ReadSide,
) -> None:
    query = fragments_spreading_tenfold(7)
    assert len(query) < 1_000
    answer = await read_side.graphql(query, PROGRAMME)
    [error] = answer["errors"]
    assert "fields once its fragments are spread out" in error["message"], error
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and answer.get("data") is None
    # The gateway still answers at once, and a query of a sensible size is not refused.
    ordinary = await read_side.graphql(fragments_spreading_tenfold(2), PROGRAMME)
    assert "errors" not in ordinary


ALIASES = """query ($id: ID!) { factory(id: $id) { factoryId name aliases { factoryId name } } }"""


async def test_a_factory_is_known_by_its_former_names_and_the_records_merged_into_it(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    twice = await read_side.factory("Angkor Aparel Co")  # the same site, registered again
    unrelated = await read_side.factory("Bayon Garments")
    current = await read_side.registry.get(f"/factories/{angkor}", headers=PROGRAMME)
    renamed = await read_side.registry.patch(
        f"/factories/{angkor}",
        json={"name": "Angkor Apparel Manufacturing"},
        headers=PROGRAMME | {"If-Match": current.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    merge = {"into": angkor, "reason": "the same site in Kambol, registered twice"}
    staff = await as_read_now(read_side.registry, f"/factories/{twice}", PROGRAMME)
    merged = await read_side.registry.post(f"/factories/{twice}/merge", json=merge, headers=staff)
    assert merged.status_code == 200, merged.text

    expected = [
        {"factoryId": angkor, "name": "Angkor Apparel"},
        {"factoryId": twice, "name": "Angkor Aparel Co"},
    ]
    data = await read_side.until(
        ALIASES,
        PROGRAMME,
        lambda d: len(d["factory"]["aliases"]) == 2,
        "the rename and the merge projected",
        {"id": angkor},
    )
    assert data["factory"] == {"factoryId": angkor, "name": "Angkor Apparel Manufacturing", "aliases": expected}
    # The merged record's id finds the factory it was merged into, aliases and all.
    via_old_id = await read_side.graphql(ALIASES, PROGRAMME, {"id": twice})
    assert via_old_id["data"]["factory"]["aliases"] == expected
    # The factory's own users read their aliases; another factory and a brand without consent do not.
    own = await read_side.graphql(ALIASES, bearer(Audience.FACTORY, angkor), {"id": angkor})
    assert own["data"]["factory"]["aliases"] == expected
    for stranger in (bearer(Audience.FACTORY, unrelated), bearer(Audience.BRAND, "BR-0001")):
        assert (await read_side.graphql(ALIASES, stranger, {"id": angkor}))["data"]["factory"] is None
    assert (await read_side.graphql(ALIASES, PROGRAMME, {"id": unrelated}))["data"]["factory"]["aliases"] == []
