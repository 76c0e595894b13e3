"""The registry's rules as programme staff, factories and brands would try them over HTTP: the same
registration number in a country is one factory; who may change what (roles and country teams);
what a hidden record answers; If-Match on every change; an Idempotency-Key reused for another request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from betterwork_events.auth import Audience, Role, mint
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings

from tests.e2e.conftest import PROGRAMME, SETTINGS, bearer
from tests.support import if_match, serve

ANGKOR = {
    "name": "Angkor Apparel Co., Ltd.",
    "country": "KH",
    "address": "National Road 4, Kambol, Phnom Penh",
    "registration_numbers": [{"authority": "Ministry of Commerce", "number": "Co. 00012345/KH"}],
}
# Another name, another address: only the registration number says it is Angkor.
RENAMED_ANGKOR = {
    "name": "Kambol Garment Manufacturing",
    "country": "KH",
    "address": "Lot 12, Phnom Penh Special Economic Zone",
    "registration_numbers": [{"authority": "Council for the Development of Cambodia", "number": "co 0001-2345 kh"}],
}
MEKONG = {"name": "Mekong Footwear Ltd.", "country": "KH", "address": "Manhattan SEZ, Bavet, Svay Rieng"}
SAIGON = {"name": "Saigon Stitch JSC", "country": "VN", "address": "Tan Thuan EPZ, District 7, Ho Chi Minh City"}
ENROLLMENT = {"service_package": "core", "enrolled_on": "2026-03-02"}


def staff(role: Role, team: str | None) -> dict[str, str]:
    """Programme staff in `role` of a country team (None: the global programme)."""
    return {"Authorization": f"Bearer {mint(SETTINGS, Audience.PROGRAMME, team, role=role)}"}


KH_ASSESSOR, KH_REVIEWER = staff(Role.ASSESSOR, "KH"), staff(Role.QUALITY_REVIEWER, "KH")
KH_MANAGER, VN_MANAGER = staff(Role.COUNTRY_MANAGER, "KH"), staff(Role.COUNTRY_MANAGER, "VN")
GLOBAL_ASSESSOR = staff(Role.ASSESSOR, None)


@pytest.fixture
async def registry(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = RegistrySettings(
        database_url=await create_database("factory-registry"), kafka_bootstrap=kafka, topic_prefix=topic_prefix
    )
    async with serve(create_registry(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


async def register(registry: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] = PROGRAMME) -> Any:
    response = await registry.post("/factories", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# --- registration numbers -----------------------------------------------------------------------


async def test_the_same_registration_number_in_a_country_is_a_duplicate_whatever_the_name(
    registry: httpx.AsyncClient,
) -> None:
    angkor = await register(registry, ANGKOR)

    refused = await registry.post("/factories", json=RENAMED_ANGKOR, headers=PROGRAMME)
    assert refused.status_code == 409
    [candidate] = refused.json()["candidates"]
    assert candidate["factory_id"] == angkor["id"] and candidate["name"] == ANGKOR["name"]
    assert "registration number" in candidate["reasons"][0]

    confirmed = await registry.post("/factories", json=RENAMED_ANGKOR | {"confirmed_new": True}, headers=PROGRAMME)
    assert confirmed.status_code == 409
    assert f"already registered to {angkor['id']}" in confirmed.json()["detail"]
    assert [c["factory_id"] for c in confirmed.json()["candidates"]] == [angkor["id"]]

    # The same number in another country is another authority's: no duplicate.
    assert (
        await registry.post("/factories", json=RENAMED_ANGKOR | {"country": "VN"}, headers=PROGRAMME)
    ).status_code == 201
    # Another number in the same country is another factory.
    other_number = [{"authority": "Ministry of Commerce", "number": "00012346"}]
    assert (
        await registry.post(
            "/factories", json=RENAMED_ANGKOR | {"registration_numbers": other_number}, headers=PROGRAMME
        )
    ).status_code == 201


async def test_an_update_may_not_take_another_factorys_registration_number(registry: httpx.AsyncClient) -> None:
    angkor, mekong = await register(registry, ANGKOR), await register(registry, MEKONG)
    taken = {"registration_numbers": RENAMED_ANGKOR["registration_numbers"]}

    refused = await registry.patch(f"/factories/{mekong['id']}", json=taken, headers=PROGRAMME | if_match(1))

    assert refused.status_code == 409 and f"already registered to {angkor['id']}" in refused.json()["detail"]
    assert [c["factory_id"] for c in refused.json()["candidates"]] == [angkor["id"]]
    unchanged = await registry.get(f"/factories/{mekong['id']}", headers=PROGRAMME)
    assert unchanged.json()["version"] == 1 and unchanged.json()["profile"]["registration_numbers"] == []
    # Its own number, written differently, is no one else's.
    respelled = await registry.patch(f"/factories/{angkor['id']}", json=taken, headers=PROGRAMME | if_match(1))
    assert respelled.status_code == 200, respelled.text


async def test_two_registrations_racing_with_one_number_register_one_factory(registry: httpx.AsyncClient) -> None:
    numbers = [f"REG-{n:05d}" for n in range(6)]

    def site(number: str, which: int) -> dict[str, Any]:
        return {
            "name": f"{['Tonle Sap', 'Kampot'][which]} Garments {number}",
            "country": "KH",
            "address": f"Street {which + 1}{number[-2:]}, {['Russey Keo', 'Kampot town'][which]}",
            "registration_numbers": [{"authority": "Ministry of Commerce", "number": number}],
            "confirmed_new": True,
        }

    answers = await asyncio.gather(
        *(registry.post("/factories", json=site(n, which), headers=PROGRAMME) for n in numbers for which in (0, 1))
    )

    for number, pair in zip(numbers, zip(answers[::2], answers[1::2], strict=True), strict=True):
        assert sorted(a.status_code for a in pair) == [201, 409], (number, [a.text for a in pair])
        [winner] = [a.json()["id"] for a in pair if a.status_code == 201]
        [loser] = [a.json() for a in pair if a.status_code == 409]
        assert f"already registered to {winner}" in loser["detail"]


async def test_an_import_row_with_a_registered_number_is_a_duplicate_even_confirmed_new(
    registry: httpx.AsyncClient,
) -> None:
    angkor = await register(registry, ANGKOR)
    csv = (
        "name,country,address,registration_authority,registration_number,confirmed_new\n"
        "Kambol Garment Manufacturing,KH,Lot 12 Phnom Penh SEZ,CDC,CO-00012345-KH,yes\n"
    )

    rejected = await registry.post("/factories/imports", content=csv, headers=PROGRAMME | {"content-type": "text/csv"})

    assert rejected.status_code == 422
    [row] = rejected.json()["rows"]
    assert row["outcome"] == "duplicate-candidate" and f"already registered to {angkor['id']}" in row["reason"]


# --- roles and country teams --------------------------------------------------------------------


async def test_any_role_of_a_countrys_team_registers_and_updates_its_factories_and_no_other_countrys(
    registry: httpx.AsyncClient,
) -> None:
    saigon = await register(registry, SAIGON)

    for number, role in enumerate((KH_ASSESSOR, KH_REVIEWER, KH_MANAGER)):
        created = await register(registry, MEKONG | {"name": f"Mekong Footwear {number}", "confirmed_new": True}, role)
        changed = await registry.patch(
            f"/factories/{created['id']}", json={"products": ["boots"]}, headers=role | if_match(1)
        )
        assert changed.status_code == 200, changed.text

        elsewhere = await registry.post("/factories", json=SAIGON | {"name": "Saigon Two"}, headers=role)
        assert elsewhere.status_code == 403
        assert elsewhere.json()["detail"] == "the KH country team may not register factories in VN"
        touched = await registry.patch(
            f"/factories/{saigon['id']}", json={"products": ["x"]}, headers=role | if_match(1)
        )
        assert (
            touched.status_code == 403
            and touched.json()["detail"] == "the KH country team may not update factories in VN"
        )
        # Programme staff read every factory: its existence is no secret to them.
        assert (await registry.get(f"/factories/{saigon['id']}", headers=role)).status_code == 200

    csv = "name,country,address\nSaigon Three,VN,Tan Thuan EPZ\n"
    imported = await registry.post(
        "/factories/imports", content=csv, headers=KH_ASSESSOR | {"content-type": "text/csv"}
    )
    assert imported.status_code == 403 and "in VN" in imported.json()["detail"]
    # The global programme's staff cover every country.
    assert (
        await registry.post("/factories", json=SAIGON | {"name": "Saigon Four"}, headers=GLOBAL_ASSESSOR)
    ).status_code == 201
    assert (await registry.get(f"/factories/{saigon['id']}", headers=PROGRAMME)).json()["version"] == 1


async def test_enrollment_merges_and_supplier_links_are_the_country_managers(registry: httpx.AsyncClient) -> None:
    angkor, duplicate = await register(registry, ANGKOR), await register(registry, MEKONG)
    saigon = await register(registry, SAIGON)
    brand = (
        await registry.post(
            "/brands", json={"name": "Northwind", "kind": "buyer", "partnership": "partner"}, headers=PROGRAMME
        )
    ).json()
    base = f"/factories/{angkor['id']}"
    attempts = [
        ("POST", f"{base}/enrollment/apply", None),
        ("POST", f"{base}/enrollment/enroll", ENROLLMENT),
        ("POST", f"{base}/enrollment/suspend", {"reason": "fees unpaid"}),
        ("POST", f"{base}/brands", {"brand_id": brand["id"], "since": "2025-01-15"}),
        ("DELETE", f"{base}/brands/{brand['id']}?until=2026-01-01", None),
        ("DELETE", f"{base}/consents/{brand['id']}", None),
        ("POST", f"/factories/{duplicate['id']}/merge", {"into": angkor["id"], "reason": "same site"}),
    ]
    for method, path, body in attempts:
        for role in (KH_ASSESSOR, KH_REVIEWER, GLOBAL_ASSESSOR):
            refused = await registry.request(method, path, json=body, headers=role | if_match(1))
            assert refused.status_code == 403, (method, path, refused.text)
            assert "may not decide enrollment, merges or supplier links" in refused.json()["detail"]
        other_team = await registry.request(method, path, json=body, headers=VN_MANAGER | if_match(1))
        assert other_team.status_code == 403 and "the VN country team may not" in other_team.json()["detail"]
        assert "in KH" in other_team.json()["detail"]
    assert (await registry.get(base, headers=PROGRAMME)).json()["version"] == 1  # nothing of it was written

    # A role is refused before anything is looked up; a country, once the factory is found.
    assert (
        await registry.post("/factories/KH-2026-9999-1/enrollment/apply", headers=KH_ASSESSOR | if_match(1))
    ).status_code == 403
    assert (
        await registry.post("/factories/KH-2026-9999-1/enrollment/apply", headers=KH_MANAGER | if_match(1))
    ).status_code == 404

    steps = [
        (f"{base}/enrollment/apply", None, 1),
        (f"{base}/enrollment/enroll", ENROLLMENT, 2),
        (f"{base}/brands", {"brand_id": brand["id"], "since": "2025-01-15"}, 3),
        (f"/factories/{duplicate['id']}/merge", {"into": angkor["id"], "reason": "same site"}, 1),
    ]
    for path, body, version in steps:
        done = await registry.post(path, json=body, headers=KH_MANAGER | if_match(version))
        assert done.status_code == 200, (path, done.text)
    applied = await registry.post(f"/factories/{saigon['id']}/enrollment/apply", headers=VN_MANAGER | if_match(1))
    assert applied.status_code == 200


async def test_the_brand_catalogue_is_the_administrators(registry: httpx.AsyncClient) -> None:
    body = {"name": "Northwind Outfitters", "kind": "retailer", "partnership": "partner"}
    for role in (KH_ASSESSOR, KH_REVIEWER, KH_MANAGER, staff(Role.COUNTRY_MANAGER, None)):
        refused = await registry.post("/brands", json=body, headers=role)
        assert refused.status_code == 403 and "administrator" in refused.json()["detail"]
    brand = (await registry.post("/brands", json=body, headers=PROGRAMME)).json()
    change = {"partnership": "former-partner"}
    refused = await registry.post(f"/brands/{brand['id']}/partnership", json=change, headers=KH_MANAGER | if_match(1))
    assert refused.status_code == 403
    changed = await registry.post(f"/brands/{brand['id']}/partnership", json=change, headers=PROGRAMME | if_match(1))
    assert changed.status_code == 200 and changed.json()["partnership"] == "former-partner"
    # Every member of staff reads the catalogue.
    assert (await registry.get(f"/brands/{brand['id']}", headers=KH_ASSESSOR)).status_code == 200


# --- what a hidden record answers -----------------------------------------------------------------


async def test_a_record_out_of_reach_answers_as_a_missing_one_unless_the_audience_never_reads_it(
    registry: httpx.AsyncClient,
) -> None:
    angkor, mekong = await register(registry, ANGKOR), await register(registry, MEKONG)
    brands = [
        (
            await registry.post(
                "/brands", json={"name": n, "kind": "buyer", "partnership": "partner"}, headers=PROGRAMME
            )
        ).json()
        for n in ("Northwind", "Lotus Retail")
    ]
    missing, no_brand = "KH-2026-9999-1", "BR-9999"
    as_mekong, as_northwind = bearer(Audience.FACTORY, mekong["id"]), bearer(Audience.BRAND, brands[0]["id"])

    def same_as_missing(
        hidden: httpx.Response, absent: httpx.Response, what: str, hidden_id: str, absent_id: str
    ) -> None:
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json() == {"detail": f"no {what} {hidden_id}"}
        assert absent.json() == {"detail": f"no {what} {absent_id}"}

    # A factory's users: another factory's record, history and changes are missing ones.
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/history", None),
        ("PATCH", "", {"products": ["boots"]}),
        ("PUT", f"/consents/{brands[0]['id']}", None),
        ("DELETE", f"/consents/{brands[0]['id']}", None),
    ]:
        hidden = await registry.request(
            method, f"/factories/{angkor['id']}{suffix}", json=body, headers=as_mekong | if_match(1)
        )
        # Programme staff never grant consent: a missing factory as a factory's own users would find it.
        asker = bearer(Audience.FACTORY, missing) if method == "PUT" else PROGRAMME
        absent = await registry.request(method, f"/factories/{missing}{suffix}", json=body, headers=asker | if_match(1))
        same_as_missing(hidden, absent, "factory", angkor["id"], missing)

    # A brand: another brand's record and report sharing are missing ones.
    for suffix in ("", "/report-sharing"):
        hidden = await registry.get(f"/brands/{brands[1]['id']}{suffix}", headers=as_northwind)
        absent = await registry.get(f"/brands/{no_brand}{suffix}", headers=PROGRAMME)
        same_as_missing(hidden, absent, "brand", brands[1]["id"], no_brand)

    # Audiences that never read these records here: 403 before any lookup, for a real id as for a missing one.
    for headers in (bearer(Audience.GOVERNMENT, "KH"), as_northwind):
        for factory_id in (angkor["id"], missing):
            assert (await registry.get(f"/factories/{factory_id}", headers=headers)).status_code == 403
            patched = await registry.patch(
                f"/factories/{factory_id}", json={"products": ["x"]}, headers=headers | if_match(1)
            )
            assert patched.status_code == 403
    for brand_id in (brands[0]["id"], no_brand):
        assert (await registry.get(f"/brands/{brand_id}", headers=as_mekong)).status_code == 403
        assert (await registry.get(f"/brands/{brand_id}", headers=bearer(Audience.GOVERNMENT, "KH"))).status_code == 403


# --- If-Match and Idempotency-Key -----------------------------------------------------------------


async def test_every_change_of_a_factory_or_brand_requires_if_match(registry: httpx.AsyncClient) -> None:
    angkor, duplicate = await register(registry, ANGKOR), await register(registry, MEKONG)
    brand = (
        await registry.post(
            "/brands", json={"name": "Northwind", "kind": "buyer", "partnership": "partner"}, headers=PROGRAMME
        )
    ).json()
    base = f"/factories/{angkor['id']}"
    own = bearer(Audience.FACTORY, angkor["id"])
    changes = [
        ("PATCH", base, {"products": ["boots"]}, PROGRAMME),
        ("POST", f"{base}/enrollment/apply", None, PROGRAMME),
        ("POST", f"{base}/enrollment/enroll", ENROLLMENT, PROGRAMME),
        *[
            ("POST", f"{base}/enrollment/{step}", {"reason": "asked"}, PROGRAMME)
            for step in ("suspend", "reinstate", "withdraw", "close")
        ],
        ("POST", f"{base}/brands", {"brand_id": brand["id"], "since": "2025-01-15"}, PROGRAMME),
        ("DELETE", f"{base}/brands/{brand['id']}?until=2026-01-01", None, PROGRAMME),
        ("PUT", f"{base}/consents/{brand['id']}", None, own),
        ("DELETE", f"{base}/consents/{brand['id']}", None, own),
        ("POST", f"/factories/{duplicate['id']}/merge", {"into": angkor["id"], "reason": "same site"}, PROGRAMME),
        ("POST", f"/brands/{brand['id']}/partnership", {"partnership": "former-partner"}, PROGRAMME),
    ]
    for method, path, body, headers in changes:
        refused = await registry.request(method, path, json=body, headers=headers)
        assert refused.status_code == 428, (method, path, refused.text)
        assert "If-Match" in refused.json()["detail"]
        malformed = await registry.request(method, path, json=body, headers=headers | {"If-Match": "latest"})
        assert malformed.status_code == 422 and "If-Match" in malformed.json()["detail"]
    assert (await registry.get(base, headers=PROGRAMME)).json()["version"] == 1
    assert (await registry.get(f"/brands/{brand['id']}", headers=PROGRAMME)).json()["version"] == 1
    openapi = (await registry.get("/openapi.json")).json()
    for method, path, _, _ in changes:
        route = path.split("?")[0].replace(angkor["id"], "{factory_id}").replace(duplicate["id"], "{factory_id}")
        route = route.replace(brand["id"], "{brand_id}")
        assert "428" in openapi["paths"][route][method.lower()]["responses"], route


async def test_a_reused_idempotency_key_with_another_request_is_a_409_that_says_so(registry: httpx.AsyncClient) -> None:
    # The registry's commands that take an Idempotency-Key are its registrations; every other one
    # changes an existing record and names the version it read, so a retry of it is a 409 anyway.
    northwind = {"name": "Northwind", "kind": "buyer", "partnership": "partner"}
    for path, first, other in [
        ("/factories", ANGKOR, MEKONG),
        ("/brands", northwind, northwind | {"name": "Lotus Retail"}),
        ("/brands", northwind | {"name": "Contoso"}, northwind | {"name": "Contoso", "partnership": "former-partner"}),
    ]:
        key = PROGRAMME | {"Idempotency-Key": f"{path}-{first['name']}"}
        created = await registry.post(path, json=first, headers=key)
        assert created.status_code == 201, created.text
        retried = await registry.post(path, json=first, headers=key)
        assert retried.status_code == 201 and retried.json()["id"] == created.json()["id"]
        reused = await registry.post(path, json=other, headers=key)
        assert reused.status_code == 409
        assert (
            reused.json()["detail"]
            == f"Idempotency-Key '{path}-{first['name']}' was already used for a different request"
        )
