"""The public transparency record, as the Better Work transparency portal shows it: no sign-in,
every published cycle of a factory with the factory's response to it, the factory named, and a
list of factories searchable by name (any case, any accents) and country, a page at a time. And
tried as an attacker would: nothing unpublished, nothing confidential, ever.
Over HTTP, against the real PostgreSQL and Kafka."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from assessment.tool import tool
from betterwork_events.auth import Audience

from tests.e2e import test_assessment
from tests.e2e.conftest import PROGRAMME, bearer
from tests.e2e.test_assessment import ASSESSORS, REVIEWER, TODAY, Services, question
from tests.support import if_match

services = test_assessment.services  # the registry, assessment and gateway fixture of the assessment tests

DAY = dt.timedelta(days=1)
WAGES = question(cluster="compensation")
CHILD_LABOUR = question(issue="child-labour")


async def enrolled(services: Services, name: str, country: str) -> str:
    body = {"name": name, "country": country, "address": "Industrial Park, Lot 7", "confirmed_new": True}
    factory_id = (await services.registry.post("/factories", json=body, headers=PROGRAMME)).json()["id"]
    await services.registry.post(f"/factories/{factory_id}/enrollment/apply", headers=PROGRAMME | if_match(1))
    enrolled = {"service_package": "core", "enrolled_on": "2026-01-05"}
    await services.registry.post(
        f"/factories/{factory_id}/enrollment/enroll", json=enrolled, headers=PROGRAMME | if_match(2)
    )
    return factory_id


async def assessed(
    services: Services, factory_id: str, country: str, non_compliant: set[str], started_on: dt.date
) -> tuple[str, dict[str, str]]:
    """A visit run through to submission and approval: its id and its ETag."""
    a = services.assessment
    visit = f"/assessments/{(await services.schedule_when_known(factory_id))['id']}"
    started = await a.post(f"{visit}/start", json={"started_on": str(started_on)}, headers=PROGRAMME)
    findings = [
        {
            "question_id": q.id,
            "result": "non-compliant" if q.id in non_compliant else "compliant",
            "evidence": "a 13-year-old trimming threads" if q.id == CHILD_LABOUR else "",
        }
        for q in tool("global-1").for_country(country).questions
    ]
    recorded = await a.post(
        f"{visit}/findings", json={"findings": findings}, headers=PROGRAMME | {"If-Match": started.headers["etag"]}
    )
    assert recorded.status_code == 200, recorded.text
    assert (await a.post(f"{visit}/submit", headers=PROGRAMME)).status_code == 200
    approved = await a.post(f"{visit}/approve", headers=REVIEWER)
    assert approved.status_code == 200, approved.text
    return visit, {"If-Match": approved.headers["etag"]}


async def published(
    services: Services, factory_id: str, country: str, non_compliant: set[str], on: dt.date, response: str | None
) -> str:
    """A cycle published on `on`, with the factory's public response if given: its assessment id."""
    visit, _ = await assessed(services, factory_id, country, non_compliant, on - DAY)
    done = await services.assessment.post(f"{visit}/publish", json={"published_on": str(on)}, headers=PROGRAMME)
    assert done.status_code == 200, done.text
    if response is not None:
        answered = await services.assessment.post(
            f"{visit}/public-response", json={"response": response}, headers=bearer(Audience.FACTORY, factory_id)
        )
        assert answered.status_code == 200, answered.text
    return visit.removeprefix("/assessments/")


async def test_every_published_cycle_stays_on_the_record_with_the_factorys_response(services: Services) -> None:
    angkor = await enrolled(services, "Angkor Apparel Co., Ltd.", "KH")
    first = await published(
        services, angkor, "KH", {WAGES}, TODAY - 5 * DAY, "Arrears of March paid to all 412 workers"
    )
    second = await published(services, angkor, "KH", set(), TODAY, "No critical issue this cycle")

    answer = await services.assessment.get(f"/transparency/{angkor}")  # no token: public by design
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert (record["factory_id"], record["name"], record["country"]) == (angkor, "Angkor Apparel Co., Ltd.", "KH")
    wages_point = tool("global-1").for_country("KH").question(WAGES).compliance_point_id
    assert record["cycles"] == [
        {
            "assessment_id": second,
            "published_on": str(TODAY),
            "non_compliant_public_issues": [],
            "factory_response": "No critical issue this cycle",
        },
        {
            "assessment_id": first,
            "published_on": str(TODAY - 5 * DAY),
            "non_compliant_public_issues": [wages_point],
            "factory_response": "Arrears of March paid to all 412 workers",
        },
    ]
    # The latest cycle also at the top, as the record always showed it.
    assert {k: record[k] for k in record["cycles"][0]} == record["cycles"][0]


async def test_the_public_list_is_searched_by_name_without_case_or_accents_and_by_country_a_page_at_a_time(
    services: Services,
) -> None:
    names = {
        "Angkor Apparel Co., Ltd.": "KH",
        "Tonlé Sap Garments Ltd.": "KH",
        "Công ty May Sài Gòn": "VN",
        "Sai Gon Footwear": "VN",
    }
    ids = {}
    for name, country in names.items():
        ids[name] = await enrolled(services, name, country)
        await published(services, ids[name], country, {WAGES}, TODAY, None)
    scheduled_only = await enrolled(services, "Saigon Knitwear (never published)", "VN")
    await services.schedule_when_known(scheduled_only)

    async def listed(query: str) -> list[str]:
        answer = await services.assessment.get(f"/transparency{query}")
        assert answer.status_code == 200, answer.text
        return [f["name"] for f in answer.json()["factories"]]

    assert await listed("") == sorted(names)
    assert await listed("?name=TONLE") == ["Tonlé Sap Garments Ltd."]
    assert await listed("?name=sai%20gon") == ["Công ty May Sài Gòn", "Sai Gon Footwear"]
    assert await listed("?name=s%C3%A0i") == ["Công ty May Sài Gòn", "Sai Gon Footwear"]  # "sài"
    assert await listed("?country=KH") == ["Angkor Apparel Co., Ltd.", "Tonlé Sap Garments Ltd."]
    assert await listed("?country=VN&name=footwear") == ["Sai Gon Footwear"]
    assert await listed("?name=100%25") == []  # a wildcard in the search is a character, not a wildcard
    [angkor] = (await services.assessment.get("/transparency?name=angkor")).json()["factories"]
    assert angkor == {
        "factory_id": ids["Angkor Apparel Co., Ltd."],
        "name": "Angkor Apparel Co., Ltd.",
        "country": "KH",
        "latest_published_on": str(TODAY),
        "cycles": 1,
    }

    # Paged: every factory once, in order, whatever the page size.
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = (
            await services.assessment.get("/transparency", params={"limit": 3} | ({"cursor": cursor} if cursor else {}))
        ).json()
        seen += [f["name"] for f in page["factories"]]
        pages += 1
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == sorted(names) and pages == 2

    for bad, says in (("limit=0", "limit"), ("limit=101", "limit"), ("country=Cambodia", "country")):
        refused = await services.assessment.get(f"/transparency?{bad}")
        assert refused.status_code == 422 and says in refused.text, bad
    forged = base64.urlsafe_b64encode(b"not json").decode()
    refused = await services.assessment.get(f"/transparency?cursor={forged}")
    assert refused.status_code == 422 and "cursor" in refused.json()["detail"]


async def test_an_attacker_reads_nothing_unpublished_and_nothing_confidential(services: Services) -> None:
    angkor = await enrolled(services, "Angkor Apparel Co., Ltd.", "KH")
    await published(services, angkor, "KH", {WAGES}, TODAY - DAY, "Arrears paid")
    # The next visit: child labour found, reviewed and approved, but not published yet.
    draft, _ = await assessed(services, angkor, "KH", {WAGES, CHILD_LABOUR}, TODAY)
    returned = await services.assessment.get(draft, headers=PROGRAMME)
    draft_record = returned.json()
    # Another factory: visited, in review, never published.
    mekong = await enrolled(services, "Mekong Footwear Ltd.", "KH")
    in_review, _ = await assessed(services, mekong, "KH", {CHILD_LABOUR}, TODAY)
    # A factory of a country that does not report publicly: published, but not on the public record.
    dhaka = await enrolled(services, "Dhaka Knit Composite Ltd.", "BD")
    await published(services, dhaka, "BD", {WAGES}, TODAY, None)

    reads = {
        "list": await services.assessment.get("/transparency"),
        "search": await services.assessment.get("/transparency?name=e"),
        "angkor": await services.assessment.get(f"/transparency/{angkor}"),
        "mekong": await services.assessment.get(f"/transparency/{mekong}"),
        "dhaka": await services.assessment.get(f"/transparency/{dhaka}"),
        "missing": await services.assessment.get("/transparency/KH-2026-9999-1"),
    }
    for name in ("list", "search", "angkor"):
        assert reads[name].status_code == 200, name
    assert [f["name"] for f in reads["list"].json()["factories"]] == ["Angkor Apparel Co., Ltd."]
    assert [c["published_on"] for c in reads["angkor"].json()["cycles"]] == [str(TODAY - DAY)]
    # Never published, never public, or never there: one answer, only the id differs.
    unknown: list[Any] = []
    for name, factory_id in (("mekong", mekong), ("dhaka", dhaka), ("missing", "KH-2026-9999-1")):
        unknown.append((reads[name].status_code, reads[name].text.replace(factory_id, "<id>")))
    assert unknown[0] == unknown[1] == unknown[2] and unknown[0][0] == 404

    told = " ".join(r.text for r in reads.values())
    child_labour_point = tool("global-1").for_country("KH").question(CHILD_LABOUR).compliance_point_id
    secrets = [
        draft.removeprefix("/assessments/"),
        in_review.removeprefix("/assessments/"),
        draft_record["planned_date"],
        str(TODAY + 9 * DAY),
        *ASSESSORS,
        "dev-user",
        "13-year-old",
        CHILD_LABOUR,
        child_labour_point,
        "zero-tolerance",
        "evidence",
        "assessors",
        "planned",
    ]
    for secret in secrets:
        assert secret not in told, secret
    assert json.loads(reads["angkor"].text).keys() == {
        *("factory_id", "name", "country", "assessment_id", "published_on", "non_compliant_public_issues"),
        *("factory_response", "cycles"),
    }
