"""The first slice over HTTP against the real stack: POST /factories → event store → relay →
Kafka → gateway projection → GraphQL, with one trace through all of it."""

from __future__ import annotations

import uuid

from betterwork_events.auth import Audience, mint
from betterwork_events.settings import CommonSettings

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME, SETTINGS, Stack, bearer
from tests.support import eventually


async def test_a_registered_factory_appears_in_graphql_in_one_trace(stack: Stack, spans) -> None:
    response = await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)

    assert response.status_code == 201, response.text
    factory = response.json()
    assert factory["profile"]["name"] == "Angkor Apparel Co., Ltd." and factory["profile"]["country"] == "KH"
    assert factory["id"].startswith("KH-")
    assert response.headers["location"] == f"/factories/{factory['id']}"

    async def visible() -> bool:
        expected = {"id": factory["id"], "name": "Angkor Apparel Co., Ltd.", "country": "KH"}
        return expected in await stack.factories_seen_by(PROGRAMME)

    await eventually(visible, what="the factory showing in GraphQL")

    by_name = {span.name: span for span in spans.get_finished_spans()}
    request = by_name["POST /factories"]
    chain = [request, by_name["event_store.append"]]
    chain += [s for name, s in by_name.items() if name.endswith("factory-registry.events publish")]
    chain += [s for name, s in by_name.items() if name.endswith("gateway.factory-directory process")]
    assert len(chain) == 4, sorted(by_name)
    assert {span.context.trace_id for span in chain} == {request.context.trace_id}
    publish, process = chain[2], chain[3]
    assert process.parent is not None and process.parent.span_id == publish.context.span_id


async def test_a_retried_post_with_the_same_idempotency_key_registers_once(stack: Stack) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME | key)
    retry = await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME | key)
    other = await stack.registry.post("/factories", json=CAMBODIAN_FACTORY | {"confirmed_new": True}, headers=PROGRAMME)
    reused = await stack.registry.post(
        "/factories", json=CAMBODIAN_FACTORY | {"name": "Other"}, headers=PROGRAMME | key
    )

    assert first.status_code == retry.status_code == other.status_code == 201
    assert retry.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]
    assert len(await stack.registry_store.load(f"factory-{first.json()['id']}")) == 1

    await eventually(lambda: _count_is(stack, 2), what="two factories in GraphQL")


async def _count_is(stack: Stack, count: int) -> bool:
    return len(await stack.factories_seen_by(PROGRAMME)) == count


async def test_bad_input_gets_a_422_that_names_the_field(stack: Stack) -> None:
    response = await stack.registry.post(
        "/factories", json=CAMBODIAN_FACTORY | {"country": "Cambodia"}, headers=PROGRAMME
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "country"]]

    missing = await stack.registry.post("/factories", json={"name": "Angkor Apparel"}, headers=PROGRAMME)
    assert missing.status_code == 422
    assert {tuple(error["loc"]) for error in missing.json()["detail"]} == {("body", "country"), ("body", "address")}


async def test_a_stale_version_gets_a_409_and_changes_nothing(stack: Stack) -> None:
    factory = (await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)).json()
    path = f"/factories/{factory['id']}"

    first = await stack.registry.patch(path, json={"name": "Angkor Apparel"}, headers=PROGRAMME | {"If-Match": '"1"'})
    stale = await stack.registry.patch(path, json={"name": "Lost Update"}, headers=PROGRAMME | {"If-Match": '"1"'})

    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    assert stale.status_code == 409
    assert "has changed since version 1" in stale.json()["detail"]
    current = await stack.registry.get(path, headers=PROGRAMME)
    assert current.json()["profile"]["name"] == "Angkor Apparel" and current.headers["etag"] == '"2"'


async def test_callers_without_a_valid_token_get_401_and_without_the_right_403(stack: Stack) -> None:
    factory = (await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=PROGRAMME)).json()
    expired = {"Authorization": f"Bearer {mint(SETTINGS, Audience.PROGRAMME, ttl=-60)}"}
    forged = {
        "Authorization": f"Bearer {mint(CommonSettings(database_url='', jwt_secret='x' * 40), Audience.PROGRAMME)}"
    }

    assert (await stack.registry.post("/factories", json=CAMBODIAN_FACTORY)).status_code == 401
    assert (await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=expired)).status_code == 401
    assert (await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=forged)).status_code == 401
    brand = bearer(Audience.BRAND, "BR-0001")
    assert (await stack.registry.post("/factories", json=CAMBODIAN_FACTORY, headers=brand)).status_code == 403
    own, other = bearer(Audience.FACTORY, factory["id"]), bearer(Audience.FACTORY, "someone-else")
    assert (await stack.registry.get(f"/factories/{factory['id']}", headers=own)).status_code == 200
    # Another factory's record does not exist for a factory's users: answered as a missing one.
    hidden = await stack.registry.get(f"/factories/{factory['id']}", headers=other)
    assert hidden.status_code == 404 and hidden.json() == {"detail": f"no factory {factory['id']}"}
    assert (await stack.gateway.post("/graphql", json={"query": "{ factories { nodes { id } } }"})).status_code == 401


async def test_graphql_shows_each_audience_only_what_it_may_read(stack: Stack) -> None:
    ids = []
    for name in ["Angkor Apparel", "Mekong Footwear"]:
        ids.append(
            (
                await stack.registry.post("/factories", json=CAMBODIAN_FACTORY | {"name": name}, headers=PROGRAMME)
            ).json()["id"]
        )
    await eventually(lambda: _count_is(stack, 2), what="both factories projected")

    assert [f["id"] for f in await stack.factories_seen_by(bearer(Audience.FACTORY, ids[1]))] == [ids[1]]
    assert await stack.factories_seen_by(bearer(Audience.BRAND, "BR-0001")) == []  # no consenting suppliers yet
    government = await stack.graphql("{ factories { nodes { id } } }", bearer(Audience.GOVERNMENT, "KH"))
    assert government["data"] is None
    assert "aggregates only" in government["errors"][0]["message"]
