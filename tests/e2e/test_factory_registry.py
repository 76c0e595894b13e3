"""The factory registry over HTTP, with its events reaching the gateway through Kafka."""

from __future__ import annotations

from typing import Any

from betterwork_events.auth import Audience
from factory_registry.programme_id import is_valid

from tests.e2e.conftest import PROGRAMME, Stack, bearer
from tests.support import eventually, if_match

ANGKOR = {
    "name": "Angkor Apparel Co., Ltd.",
    "local_name": "អង្គរ អាប៉ារ៉ែល",
    "country": "KH",
    "address": "National Road 4, Kambol, Phnom Penh",
    "location": {"latitude": 11.5149, "longitude": 104.8212},
    "sector": "garment",
    "products": ["t-shirts", "knitwear"],
    "workforce": {"total": 2400, "women": 1980, "men": 420, "migrant": 35},
    "ownership": {"parent_group": "Mekong Textile Group"},
    "registration_numbers": [{"authority": "Ministry of Commerce", "number": "00012345"}],
    "contacts": [{"name": "Sok Dara", "role": "HR manager", "email": "hr@angkor-apparel.example"}],
}
MEKONG = {
    "name": "Mekong Footwear Ltd.",
    "country": "KH",
    "address": "Special Economic Zone, Bavet, Svay Rieng",
    "sector": "footwear",
}


async def register(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.registry.post("/factories", json=body, headers=PROGRAMME)
    assert response.status_code == 201, response.text
    return response.json()


async def post(stack: Stack, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] = PROGRAMME) -> Any:
    return await stack.registry.post(path, json=body, headers=headers)


async def test_a_factory_gets_a_permanent_programme_id_and_its_whole_profile(stack: Stack) -> None:
    angkor, mekong = await register(stack, ANGKOR), await register(stack, MEKONG)

    assert is_valid(angkor["id"]) and angkor["id"].startswith("KH-")
    assert int(mekong["id"].split("-")[2]) == int(angkor["id"].split("-")[2]) + 1
    assert angkor["profile"]["workforce"] == ANGKOR["workforce"]
    assert angkor["profile"]["local_name"] == "អង្គរ អាប៉ារ៉ែល"
    assert angkor["enrollment"] is None


async def test_a_likely_duplicate_answers_409_with_candidates_unless_confirmed_new(stack: Stack) -> None:
    angkor = await register(stack, ANGKOR)
    near = {"name": "ANGKOR APPAREL COMPANY LIMITED", "country": "KH", "address": "Nat. Road 4, Kambol, Phnom Penh"}

    refused = await stack.registry.post("/factories", json=near, headers=PROGRAMME)

    assert refused.status_code == 409
    [candidate] = refused.json()["candidates"]
    assert candidate["factory_id"] == angkor["id"] and candidate["score"] >= 0.8 and candidate["reasons"]
    assert (
        await stack.registry.post("/factories", json=near | {"confirmed_new": True}, headers=PROGRAMME)
    ).status_code == 201
    elsewhere = near | {"country": "VN", "address": "Binh Duong"}  # the same name in another country is no duplicate
    assert (await stack.registry.post("/factories", json=elsewhere, headers=PROGRAMME)).status_code == 201


async def test_unknown_fields_and_ids_get_clear_errors(stack: Stack) -> None:
    bad = await stack.registry.post(
        "/factories", json=ANGKOR | {"workforce": {"total": -5, "women": 0, "men": 0}}, headers=PROGRAMME
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "workforce", "total"]
    adds_up = await stack.registry.post(
        "/factories", json=ANGKOR | {"workforce": {"total": 10, "women": 9, "men": 9}}, headers=PROGRAMME
    )
    assert adds_up.status_code == 409 and "exceed the total" in adds_up.json()["detail"]
    assert (await stack.registry.get("/factories/KH-2026-9999-1", headers=PROGRAMME)).status_code == 404
    assert (
        await post(stack, "/factories/KH-2026-9999-1/enrollment/apply", headers=PROGRAMME | if_match(0))
    ).status_code == 404


async def test_enrollment_follows_its_lifecycle_and_refuses_illegal_steps(stack: Stack) -> None:
    factory_id = (await register(stack, ANGKOR))["id"]
    base = f"/factories/{factory_id}/enrollment"

    enrolment = {"service_package": "core", "enrolled_on": "2026-03-02"}
    too_early = await post(stack, f"{base}/enroll", enrolment, PROGRAMME | if_match(1))
    assert too_early.status_code == 409 and "not enrolled" in too_early.json()["detail"]
    assert (await post(stack, f"{base}/apply", headers=PROGRAMME | if_match(1))).json()["enrollment"] == "applied"
    enrolled = await post(stack, f"{base}/enroll", enrolment, PROGRAMME | if_match(2))
    assert enrolled.json()["enrollment"] == "enrolled" and enrolled.json()["enrolled_on"] == "2026-03-02"
    suspended = await post(stack, f"{base}/suspend", {"reason": "fees unpaid"}, PROGRAMME | if_match(3))
    assert suspended.json()["enrollment"] == "suspended"
    assert (await post(stack, f"{base}/suspend", {"reason": "again"}, PROGRAMME | if_match(4))).status_code == 409
    assert (await post(stack, f"{base}/suspend", {"reason": ""}, PROGRAMME | if_match(4))).status_code == 422
    reinstated = await post(stack, f"{base}/reinstate", {"reason": "fees paid"}, PROGRAMME | if_match(4))
    assert reinstated.json()["enrollment"] == "enrolled"
    stale = await post(stack, f"{base}/withdraw", {"reason": "left"}, PROGRAMME | {"If-Match": '"2"'})
    assert stale.status_code == 409

    async def enrolled_in_graphql() -> bool:
        result = await stack.graphql("{ factories(enrollment: ENROLLED) { nodes { id: factoryId } } }", PROGRAMME)
        return result["data"]["factories"]["nodes"] == [{"id": factory_id}]

    await eventually(enrolled_in_graphql, what="the enrollment reaching the gateway")


async def test_only_programme_staff_register_and_enroll_and_a_factory_updates_only_its_own_profile(
    stack: Stack,
) -> None:
    angkor, mekong = await register(stack, ANGKOR), await register(stack, MEKONG)
    own = bearer(Audience.FACTORY, angkor["id"])
    brand = bearer(Audience.BRAND, "BR-0001")

    assert (await stack.registry.post("/factories", json=MEKONG, headers=own)).status_code == 403
    assert (await stack.registry.post("/factories", json=MEKONG, headers=brand)).status_code == 403
    assert (
        await post(stack, f"/factories/{angkor['id']}/enrollment/apply", headers=own | if_match(1))
    ).status_code == 403
    assert (
        await post(stack, "/brands", {"name": "X", "kind": "buyer", "partnership": "partner"}, own)
    ).status_code == 403

    products = {"products": ["t-shirts"]}
    updated = await stack.registry.patch(f"/factories/{angkor['id']}", json=products, headers=own | if_match(1))
    assert updated.status_code == 200 and updated.json()["profile"]["products"] == ["t-shirts"]
    other = await stack.registry.patch(
        f"/factories/{mekong['id']}", json={"products": ["boots"]}, headers=own | if_match(1)
    )
    assert other.status_code == 404  # another factory's record does not exist for a factory's users
    assert (
        await stack.registry.patch(f"/factories/{angkor['id']}", json={"products": ["x"]}, headers=brand | if_match(2))
    ).status_code == 403
    moved = await stack.registry.patch(f"/factories/{angkor['id']}", json={"country": "VN"}, headers=own | if_match(2))
    assert moved.status_code == 422  # country is not a field one can change

    history = (await stack.registry.get(f"/factories/{angkor['id']}/history", headers=own)).json()
    assert [h["type"] for h in history] == [
        "org.betterwork.factory.registered.v1",
        "org.betterwork.factory.profile-updated.v1",
    ]
    assert history[1]["actor"] == f"factory:{angkor['id']}:dev-user"
    assert history[1]["data"]["changed"] == ["products"]


async def test_a_brand_reads_a_supplier_only_while_linked_and_consenting(stack: Stack) -> None:
    angkor, mekong = await register(stack, ANGKOR), await register(stack, MEKONG)
    brand = (
        await post(stack, "/brands", {"name": "Northwind Outfitters", "kind": "retailer", "partnership": "partner"})
    ).json()
    rival = (
        await post(stack, "/brands", {"name": "Contoso Apparel", "kind": "buyer", "partnership": "partner"})
    ).json()
    as_brand, as_rival = bearer(Audience.BRAND, brand["id"]), bearer(Audience.BRAND, rival["id"])
    own = bearer(Audience.FACTORY, angkor["id"])

    async def brand_sees(expected: list[str], who: dict[str, str] = as_brand) -> None:
        async def seen() -> bool:
            return [f["id"] for f in await stack.factories_seen_by(who)] == expected

        await eventually(seen, what=f"the brand seeing {expected}")

    link = {"brand_id": brand["id"], "since": "2025-01-15"}
    linked = await post(stack, f"/factories/{angkor['id']}/brands", link, PROGRAMME | if_match(1))
    assert linked.status_code == 200
    await post(stack, f"/factories/{mekong['id']}/brands", link, PROGRAMME | if_match(1))
    # Linked, but no consent: nothing.
    await eventually(lambda: _links_projected(stack, 2), what="links projected")
    await brand_sees([])

    assert (
        await stack.registry.put(f"/factories/{angkor['id']}/consents/{brand['id']}", headers=own | if_match(2))
    ).status_code == 200
    await brand_sees([angkor["id"]])
    await brand_sees([], who=as_rival)  # another brand sees none of it
    # A factory cannot grant consent on another factory's behalf: that factory does not exist for it.
    assert (
        await stack.registry.put(f"/factories/{mekong['id']}/consents/{brand['id']}", headers=own | if_match(2))
    ).status_code == 404

    assert (
        await stack.registry.delete(f"/factories/{angkor['id']}/consents/{brand['id']}", headers=own | if_match(3))
    ).status_code == 200
    await brand_sees([])

    await stack.registry.put(f"/factories/{angkor['id']}/consents/{brand['id']}", headers=own | if_match(4))
    await brand_sees([angkor["id"]])
    unlinked = await stack.registry.delete(
        f"/factories/{angkor['id']}/brands/{brand['id']}?until=2026-09-30", headers=PROGRAMME | if_match(5)
    )
    assert unlinked.status_code == 200
    await brand_sees([])


async def _links_projected(stack: Stack, count: int) -> bool:
    return len(await stack.factories_seen_by(PROGRAMME)) >= count


async def test_a_merged_record_resolves_to_the_survivor_for_ever(stack: Stack) -> None:
    survivor = await register(stack, ANGKOR)
    # Registered again from a list without its registration number (with it, it would be refused).
    duplicate = await register(
        stack, ANGKOR | {"name": "Angkor Apparel (Kambol)", "registration_numbers": [], "confirmed_new": True}
    )
    brand = (
        await post(stack, "/brands", {"name": "Northwind Outfitters", "kind": "retailer", "partnership": "partner"})
    ).json()
    link = {"brand_id": brand["id"], "since": "2025-01-15"}
    await post(stack, f"/factories/{duplicate['id']}/brands", link, PROGRAMME | if_match(1))

    merged = await post(
        stack,
        f"/factories/{duplicate['id']}/merge",
        {"into": survivor["id"], "reason": "same site registered twice"},
        PROGRAMME | if_match(2),
    )

    assert merged.status_code == 200 and brand["id"] in merged.json()["brand_links"]
    assert merged.json()["aliases"] == [{"factory_id": duplicate["id"], "name": "Angkor Apparel (Kambol)"}]
    redirect = await stack.registry.get(f"/factories/{duplicate['id']}", headers=PROGRAMME)
    assert redirect.status_code == 308 and redirect.headers["location"] == f"/factories/{survivor['id']}"
    followed = await stack.registry.get(f"/factories/{duplicate['id']}", headers=PROGRAMME, follow_redirects=True)
    assert followed.json()["id"] == survivor["id"]
    change = await stack.registry.patch(
        f"/factories/{duplicate['id']}", json={"products": ["x"]}, headers=PROGRAMME | if_match(3)
    )
    assert change.status_code == 409 and survivor["id"] in change.json()["detail"]

    async def one_factory_in_graphql() -> bool:
        listed = await stack.factories_seen_by(PROGRAMME)
        by_old_id = await stack.graphql(f'{{ factory(id: "{duplicate["id"]}") {{ id: factoryId }} }}', PROGRAMME)
        return [f["id"] for f in listed] == [survivor["id"]] and by_old_id["data"]["factory"] == {"id": survivor["id"]}

    await eventually(one_factory_in_graphql, what="the merge reaching the gateway")


async def test_a_csv_import_creates_every_row_or_none(stack: Stack) -> None:
    await register(stack, ANGKOR)
    header = "name,country,address,sector,workers_total,workers_women,workers_men,products,confirmed_new\n"
    good = (
        "Phnom Penh Knitwear,KH,Street 598 Chbar Ampov Phnom Penh,garment,850,700,150,sweaters;cardigans,\n"
        "Bavet Shoes Manufacturing,KH,Manhattan SEZ Bavet,footwear,3100,2500,600,sneakers,\n"
    )
    bad = (
        "Kampot Bags,KH,Kampot,travel-goods,200,150,50,backpacks,\n"
        "ANGKOR APPAREL COMPANY LIMITED,KH,National Road 4 Kambol Phnom Penh,garment,,,,,\n"
        "Siem Reap Silk,Cambodia,Siem Reap,garment,,,,,\n"
        "Takeo Textile,KH,Takeo,garment,lots,,,,\n"
    )
    csv = {"Content-Type": "text/csv"}

    rejected = await stack.registry.post("/factories/imports", content=header + good + bad, headers=PROGRAMME | csv)

    assert rejected.status_code == 422
    outcomes = {row["name"]: row for row in rejected.json()["rows"]}
    assert outcomes["Phnom Penh Knitwear"]["outcome"] == "would-create"
    assert outcomes["ANGKOR APPAREL COMPANY LIMITED"]["outcome"] == "duplicate-candidate"
    assert outcomes["Siem Reap Silk"]["outcome"] == "invalid" and "country" in outcomes["Siem Reap Silk"]["reason"]
    assert outcomes["Takeo Textile"]["outcome"] == "invalid" and "workers_total" in outcomes["Takeo Textile"]["reason"]
    assert len(await stack.factories_seen_by(PROGRAMME)) <= 1  # nothing of the file was created

    imported = await stack.registry.post("/factories/imports", content=header + good, headers=PROGRAMME | csv)

    assert imported.status_code == 201, imported.text
    created = [row["factory_id"] for row in imported.json()["rows"]]
    assert all(is_valid(factory_id) for factory_id in created) and len(set(created)) == 2
    assert (
        await stack.registry.post(
            "/factories/imports", content=header + good, headers=bearer(Audience.FACTORY, created[0]) | csv
        )
    ).status_code == 403

    async def all_three() -> bool:
        return len(await stack.factories_seen_by(PROGRAMME)) == 3

    await eventually(all_three, what="the imported factories reaching the gateway")


async def test_governments_read_only_their_country_in_aggregate_with_small_cells_withheld(stack: Stack) -> None:
    ids = []
    for i in range(5):
        factory = await register(
            stack,
            MEKONG
            | {
                "name": f"Bavet Factory Number {i}",
                "confirmed_new": True,
                "workforce": {"total": 1000, "women": 800, "men": 200},
            },
        )
        ids.append(factory["id"])
        await post(stack, f"/factories/{factory['id']}/enrollment/apply", headers=PROGRAMME | if_match(1))
    query = '{ countrySummary(country: "KH") { enrolledFactories workers womenShare suppressed } }'
    cambodia = bearer(Audience.GOVERNMENT, "KH")

    enrolment = {"service_package": "core", "enrolled_on": "2026-03-02"}
    for factory_id in ids[:4]:
        await post(stack, f"/factories/{factory_id}/enrollment/enroll", enrolment, PROGRAMME | if_match(2))

    async def summary_is(expected: dict[str, Any]) -> bool:
        return (await stack.graphql(query, cambodia))["data"]["countrySummary"] == expected

    await eventually(lambda: _enrolled_count(stack, 4), what="four enrollments projected")
    assert await summary_is({"enrolledFactories": None, "workers": None, "womenShare": None, "suppressed": True})

    await post(stack, f"/factories/{ids[4]}/enrollment/enroll", enrolment, PROGRAMME | if_match(2))
    await eventually(
        lambda: summary_is({"enrolledFactories": 5, "workers": 5000, "womenShare": 0.8, "suppressed": False}),
        what="the summary",
    )

    vietnam = await stack.graphql(query, bearer(Audience.GOVERNMENT, "VN"))
    assert vietnam["data"] is None and "only VN" in vietnam["errors"][0]["message"]
    as_brand = await stack.graphql(query, bearer(Audience.BRAND, "BR-0001"))
    assert as_brand["data"] is None
    individual = await stack.graphql("{ factories { nodes { id name } } }", cambodia)
    assert individual["data"] is None and "aggregates only" in individual["errors"][0]["message"]


async def _enrolled_count(stack: Stack, count: int) -> bool:
    result = await stack.graphql("{ factories(enrollment: ENROLLED) { totalCount } }", PROGRAMME)
    return result["data"]["factories"]["totalCount"] == count


async def test_country_programmes_are_served_as_reference_data(stack: Stack) -> None:
    countries = (await stack.registry.get("/countries", headers=bearer(Audience.BRAND, "BR-0001"))).json()
    codes = {c["code"] for c in countries}
    assert {"BD", "KH", "EG", "ET", "HT", "ID", "JO", "NI", "PK", "LK", "VN"} <= codes
    cambodia = (await stack.registry.get("/countries/kh", headers=PROGRAMME)).json()
    assert cambodia["programme"] == "Better Factories Cambodia"
    assert (await stack.registry.get("/countries/FR", headers=PROGRAMME)).status_code == 404
