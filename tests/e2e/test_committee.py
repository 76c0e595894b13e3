"""The committee service over HTTP, learning its factories from the registry's events through
Kafka and publishing its own on `committee.events`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from betterwork_events.auth import Audience, Role, mint
from betterwork_events.countries import COUNTRY_PROGRAMMES
from betterwork_events.envelope import Envelope
from betterwork_events.errors import NotFound
from betterwork_events.factories import known_factory
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import PROGRAMME, SETTINGS, bearer
from tests.support import eventually, if_match, read_topic, serve

ANGKOR = {
    "name": "Angkor Apparel Co., Ltd.",
    "country": "KH",
    "address": "National Road 4, Kambol, Phnom Penh",
    "workforce": {"total": 2400, "women": 1980, "men": 420, "migrant": 35},
}
MEKONG = {"name": "Mekong Footwear Ltd.", "country": "KH", "address": "Manhattan SEZ, Bavet, Svay Rieng"}

# Real dates around today: the service refuses to record meetings and elections in the future.
TODAY = dt.datetime.now(dt.UTC).date()  # never after today in Phnom Penh (UTC+7)
ESTABLISHED = TODAY - dt.timedelta(days=60)
ELECTION_DAY = TODAY - dt.timedelta(days=50)
TERM_ENDS = ELECTION_DAY + dt.timedelta(days=730)
MEETING_DAY = TODAY - dt.timedelta(days=5)


def person(number: str, name: str, sex: str, job: str) -> dict[str, str]:
    return {"employee_number": number, "name": name, "sex": sex, "job_title": job}


SREYMOM = person("AA-01873", "Chan Sreymom", "female", "sewing operator, line 14")
SOPHEA = person("AA-00412", "Keo Sophea", "female", "quality inspector")
BOPHA = person("AA-02291", "Lim Bopha", "female", "cutter")
RITHY = person("AA-00977", "Heng Rithy", "male", "mechanic")
SREYPOV = person("AA-03310", "Srey Pov", "female", "packer")
DARA = person("AA-00007", "Sok Dara", "female", "HR manager")
KANHA = person("AA-00019", "Nhem Kanha", "female", "compliance officer")
TAN_WEI = person("AA-00003", "Tan Wei", "male", "production manager")
ELECTION = {
    "held_on": str(ELECTION_DAY),
    "seats": 4,
    "term_ends_on": str(TERM_ENDS),
    "candidates": [
        {"person": SREYMOM, "votes": 412},
        {"person": SOPHEA, "votes": 388},
        {"person": BOPHA, "votes": 301},
        {"person": RITHY, "votes": 287},
        {"person": SREYPOV, "votes": 150},
    ],
}
MEETING = {
    "held_on": str(MEETING_DAY),
    "attendees": ["M-1", "M-2", "M-3", "M-5", "M-6"],
    "guests": ["Pich Sopheap (Better Factories Cambodia advisor)"],
    "agenda": [
        {
            "title": "Blocked emergency exit on the cutting floor",
            "references": ["finding:KH-2026-0042-5-A1-F7", "compliance-point:OSH-emergency-exits"],
        },
        {"title": "Drinking water in the canteen"},
    ],
    "minutes": "The committee walked the cutting floor; the east exit was blocked by fabric rolls.",
    "decisions": ["Fabric rolls are stored away from every exit"],
    "action_items": [
        {
            "description": "Clear the east exit and mark the floor in front of it",
            "owner": "M-6",
            "due_on": str(TODAY + dt.timedelta(days=7)),
            "references": ["finding:KH-2026-0042-5-A1-F7"],
        }
    ],
}


@dataclass
class Picc:
    registry: httpx.AsyncClient
    committee: httpx.AsyncClient
    committee_engine: AsyncEngine
    kafka: str
    topic_prefix: str

    async def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] = PROGRAMME) -> Any:
        return await self.committee.post(path, json=body, headers=headers)

    async def enrolled_factory(self, profile: dict[str, Any] = ANGKOR) -> str:
        """Register and enroll a factory in the registry; wait until the committee service knows it."""
        response = await self.registry.post("/factories", json=profile | {"confirmed_new": True}, headers=PROGRAMME)
        assert response.status_code == 201, response.text
        factory_id = response.json()["id"]
        await self.registry.post(f"/factories/{factory_id}/enrollment/apply", headers=PROGRAMME | if_match(1))
        enrolled = await self.registry.post(
            f"/factories/{factory_id}/enrollment/enroll",
            json={"service_package": "core", "enrolled_on": str(ESTABLISHED)},
            headers=PROGRAMME | if_match(2),
        )
        assert enrolled.status_code == 200, enrolled.text
        await eventually(
            lambda: self.knows(factory_id, "enrolled"), what=f"the committee service learning {factory_id}"
        )
        return factory_id

    async def knows(self, factory_id: str, enrollment: str | None) -> bool:
        try:
            return (await known_factory(self.committee_engine, factory_id)).enrollment == enrollment
        except NotFound:
            return False

    async def establish(self, factory_id: str, on: dt.date = ESTABLISHED) -> dict[str, Any]:
        response = await self.post("/committees", {"factory_id": factory_id, "established_on": str(on)})
        assert response.status_code == 201, response.text
        return response.json()

    async def staffed(self, factory_id: str) -> str:
        """A committee with four elected workers (M-1..M-4) and three managers (M-5..M-7)."""
        committee_id = (await self.establish(factory_id))["id"]
        assert (await self.post(f"/committees/{committee_id}/elections", ELECTION)).status_code == 201
        for manager in (DARA, KANHA, TAN_WEI):
            appointed = await self.post(
                f"/committees/{committee_id}/members", {"person": manager, "term_starts_on": str(ELECTION_DAY)}
            )
            assert appointed.status_code == 201, appointed.text
        return committee_id


@pytest.fixture
async def picc(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[Picc]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    committee = create_committee(CommitteeSettings(database_url=await create_database("committee"), **common))
    async with (
        serve(registry) as registry_url,
        serve(committee) as committee_url,
        httpx.AsyncClient(base_url=registry_url) as r,
        httpx.AsyncClient(base_url=committee_url) as c,
    ):
        yield Picc(r, c, committee.state.runtime.engine, kafka, topic_prefix)


def statuses(committee: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in committee["health"]}


async def test_an_enrolled_factory_gets_a_committee_whose_health_says_what_is_missing(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()

    response = await picc.post("/committees", {"factory_id": factory_id, "established_on": str(ESTABLISHED)})

    assert response.status_code == 201, response.text
    committee = response.json()
    assert committee["id"] == f"{factory_id}-C1" and committee["country"] == "KH"
    assert response.headers["location"] == f"/committees/{factory_id}-C1"
    assert response.headers["etag"] == '"1"'
    assert statuses(committee) == {
        "worker-representatives-elected": "not-met",
        "workers-at-least-half": "not-met",
        "women-represented": "not-met",
        "meeting-cadence": "not-met",  # established 60 days ago and never met
    }
    reasons = {check["name"]: check["reason"] for check in committee["health"]}
    assert reasons["worker-representatives-elected"] == "the workers have not elected representatives yet"
    assert reasons["meeting-cadence"].startswith(f"no meeting yet since the committee was established on {ESTABLISHED}")
    active = await picc.committee.get(f"/factories/{factory_id}/committee", headers=PROGRAMME)
    assert active.status_code == 200 and active.json()["id"] == committee["id"]
    health = await picc.committee.get(
        f"/committees/{committee['id']}/health", headers=bearer(Audience.FACTORY, factory_id)
    )
    assert health.status_code == 200 and health.json() == committee["health"]


async def test_two_requests_racing_to_establish_a_factorys_committee_make_one(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    body = {"factory_id": factory_id, "established_on": str(ESTABLISHED)}

    responses = await asyncio.gather(*(picc.post("/committees", body) for _ in range(5)))

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    listed = (await picc.committee.get(f"/factories/{factory_id}/committees", headers=PROGRAMME)).json()
    assert [c["id"] for c in listed] == [f"{factory_id}-C1"]


async def test_a_committee_elects_appoints_meets_and_follows_up_its_action_items(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    committee_id = await picc.staffed(factory_id)
    own = bearer(Audience.FACTORY, factory_id)

    recorded = await picc.post(f"/committees/{committee_id}/meetings", MEETING, headers=own)

    assert recorded.status_code == 201, recorded.text
    meeting = recorded.json()
    assert meeting["meeting_id"] == "MT-1" and meeting["attendees"] == MEETING["attendees"]
    assert meeting["agenda"][0]["references"] == [
        "finding:KH-2026-0042-5-A1-F7",
        "compliance-point:OSH-emergency-exits",
    ]
    [item] = meeting["action_items"]
    assert (item["action_item_id"], item["owner"], item["status"]) == ("AI-1", "M-6", "open")
    assert recorded.headers["location"] == f"/committees/{committee_id}/meetings/MT-1"

    base = f"/committees/{committee_id}/action-items/AI-1"
    started = await picc.post(f"{base}/start", {"note": "floor marking paint ordered"}, headers=own)
    assert started.status_code == 200 and started.json()["status"] == "in-progress"
    closed = await picc.post(f"{base}/closure", {"closed_on": str(TODAY), "outcome": "exit cleared"}, headers=own)
    assert closed.status_code == 200 and closed.json()["status"] == "done"
    later = await picc.post(
        f"/committees/{committee_id}/meetings/MT-1/action-items",
        {"description": "Test the canteen water", "owner": "M-1", "due_on": str(TODAY + dt.timedelta(days=14))},
        headers=own,
    )
    assert later.status_code == 201 and later.json()["action_item_id"] == "AI-2"

    committee = (await picc.committee.get(f"/committees/{committee_id}", headers=own)).json()
    assert statuses(committee) == {
        "worker-representatives-elected": "ok",
        "workers-at-least-half": "ok",
        "women-represented": "ok",
        "meeting-cadence": "ok",
    }
    reasons = {check["name"]: check["reason"] for check in committee["health"]}
    assert reasons["women-represented"] == (
        "women are 71% of the members (5 of 7) and 82% of the workforce (1,980 of 2,400)"
    )
    elected = [m["person"]["name"] for m in committee["members"] if m["side"] == "workers"]
    assert elected == ["Chan Sreymom", "Keo Sophea", "Lim Bopha", "Heng Rithy"]
    history = (await picc.committee.get(f"/committees/{committee_id}/history", headers=own)).json()
    assert history[-1]["actor"] == f"factory:{factory_id}:dev-user"


async def test_members_leave_and_are_replaced_by_the_next_runner_up(picc: Picc) -> None:
    committee_id = await picc.staffed(await picc.enrolled_factory())

    replaced = await picc.post(
        f"/committees/{committee_id}/members/M-2/replacement",
        {"replaced_on": str(TODAY), "reason": "resigned from the factory"},
    )
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["person"]["name"] == "Srey Pov" and replaced.json()["term_ends_on"] == str(TERM_ENDS)
    none_left = await picc.post(
        f"/committees/{committee_id}/members/M-3/replacement", {"replaced_on": str(TODAY), "reason": "resigned"}
    )
    assert none_left.status_code == 409 and "hold a by-election" in none_left.json()["detail"]

    left = await picc.post(
        f"/committees/{committee_id}/members/M-7/departure", {"left_on": str(TODAY), "reason": "left the factory"}
    )
    assert left.status_code == 200 and left.json()["left_on"] == str(TODAY)
    chair = await picc.committee.put(
        f"/committees/{committee_id}/members/M-1/office", json={"office": "chair"}, headers=PROGRAMME
    )
    assert chair.status_code == 200 and chair.json()["office"] == "chair"
    second = await picc.committee.put(
        f"/committees/{committee_id}/members/M-5/office", json={"office": "chair"}, headers=PROGRAMME
    )
    assert second.status_code == 409 and "Chan Sreymom (M-1) is already the chair" in second.json()["detail"]
    assert (
        await picc.post(f"/committees/{committee_id}/members/M-99/departure", {"left_on": str(TODAY), "reason": "x"})
    ).status_code == 404


async def test_only_known_enrolled_factories_in_programmes_that_run_committees_get_one(
    picc: Picc, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = await picc.post("/committees", {"factory_id": "KH-2026-9999-1", "established_on": str(ESTABLISHED)})
    assert unknown.status_code == 404 and "no factory KH-2026-9999-1 is known here" in unknown.json()["detail"]

    applicant = (await picc.registry.post("/factories", json=MEKONG, headers=PROGRAMME)).json()["id"]
    await picc.registry.post(f"/factories/{applicant}/enrollment/apply", headers=PROGRAMME | if_match(1))
    await eventually(lambda: picc.knows(applicant, "applied"), what="the application reaching the committee service")
    refused = await picc.post("/committees", {"factory_id": applicant, "established_on": str(ESTABLISHED)})
    assert (
        refused.status_code == 409
        and "is applied; committees are set up in enrolled factories" in refused.json()["detail"]
    )

    factory_id = await picc.enrolled_factory()
    await picc.establish(factory_id)
    again = await picc.post("/committees", {"factory_id": factory_id, "established_on": str(TODAY)})
    assert again.status_code == 409 and f"already has a committee, {factory_id}-C1" in again.json()["detail"]

    dissolved = await picc.post(
        f"/committees/{factory_id}-C1/dissolution", {"dissolved_on": str(TODAY), "reason": "members resigned"}
    )
    assert dissolved.status_code == 200 and statuses(dissolved.json()) == {"committee-active": "not-met"}
    assert (await picc.committee.get(f"/factories/{factory_id}/committee", headers=PROGRAMME)).status_code == 404
    assert (await picc.establish(factory_id, TODAY))["id"] == f"{factory_id}-C2"
    listed = (await picc.committee.get(f"/factories/{factory_id}/committees", headers=PROGRAMME)).json()
    assert [c["id"] for c in listed] == [f"{factory_id}-C1", f"{factory_id}-C2"]

    vietnam = dataclasses.replace(COUNTRY_PROGRAMMES["VN"], runs_committees=False)
    monkeypatch.setitem(COUNTRY_PROGRAMMES, "VN", vietnam)
    saigon = await picc.enrolled_factory({"name": "Saigon Stitch", "country": "VN", "address": "Binh Duong"})
    not_run = await picc.post("/committees", {"factory_id": saigon, "established_on": str(ESTABLISHED)})
    assert not_run.status_code == 409
    assert not_run.json()["detail"] == "Better Work Vietnam does not run worker-management committees"


async def test_bad_input_answers_422_naming_the_field(picc: Picc) -> None:
    committee_id = (await picc.establish(await picc.enrolled_factory()))["id"]
    elections = f"/committees/{committee_id}/elections"

    def field_of(response: httpx.Response) -> list[Any]:
        assert response.status_code == 422, response.text
        return response.json()["detail"][0]["loc"]

    assert field_of(await picc.post(elections, ELECTION | {"term_ends_on": str(ELECTION_DAY)})) == [
        "body",
        "term_ends_on",
    ]
    negative = ELECTION | {"candidates": [{"person": SREYMOM, "votes": -3}]}
    assert field_of(await picc.post(elections, negative)) == ["body", "candidates", 0, "votes"]
    twice = ELECTION | {"candidates": [{"person": SREYMOM, "votes": 3}, {"person": SREYMOM, "votes": 4}]}
    assert field_of(await picc.post(elections, twice)) == ["body", "candidates"]
    unsexed = ELECTION | {"candidates": [{"person": SREYMOM | {"sex": "unknown"}, "votes": 3}]}
    assert field_of(await picc.post(elections, unsexed)) == ["body", "candidates", 0, "person", "sex"]

    future = await picc.post(elections, ELECTION | {"held_on": str(TODAY + dt.timedelta(days=3))})
    assert future.status_code == 422 and future.json()["detail"].startswith("held_on:")

    meetings = f"/committees/{committee_id}/meetings"
    bad_reference = MEETING | {"agenda": [{"title": "Overtime", "references": ["KH-2026-0042-5-A1-F7"]}]}
    assert field_of(await picc.post(meetings, bad_reference)) == ["body", "agenda", 0, "references", 0]
    assert field_of(await picc.post(meetings, MEETING | {"attendees": []})) == ["body", "attendees"]
    assert field_of(await picc.post(meetings, MEETING | {"minutes": ""})) == ["body", "minutes"]
    assert (
        await picc.post(f"/committees/{committee_id}/elections", ELECTION, PROGRAMME | {"If-Match": "three"})
    ).status_code == 422


async def test_impossible_steps_answer_409_with_the_reason(picc: Picc) -> None:
    committee_id = await picc.staffed(await picc.enrolled_factory())

    two_roles = await picc.post(
        f"/committees/{committee_id}/members", {"person": SREYMOM, "term_starts_on": str(TODAY)}
    )
    assert two_roles.status_code == 409
    assert two_roles.json()["detail"] == (
        "Chan Sreymom (AA-01873) already sits on the committee as worker representative (M-1); "
        "a person cannot hold two roles"
    )
    tied = ELECTION | {
        "held_on": str(TODAY),
        "seats": 1,
        "candidates": [
            {"person": SREYPOV, "votes": 200},
            {"person": person("AA-04410", "Ros Malis", "female", "packer"), "votes": 200},
        ],
    }
    refused = await picc.post(f"/committees/{committee_id}/elections", tied)
    assert refused.status_code == 409 and "tied with 200 votes for the last seat" in refused.json()["detail"]
    decided = await picc.post(f"/committees/{committee_id}/elections", tied | {"tie_break": ["AA-04410", "AA-03310"]})
    assert decided.status_code == 201 and decided.json()["elected"] == ["M-8"]

    outsider = await picc.post(f"/committees/{committee_id}/meetings", MEETING | {"attendees": ["M-1", "M-42"]})
    assert outsider.status_code == 409 and "M-42 is not a member" in outsider.json()["detail"]

    version = (await picc.committee.get(f"/committees/{committee_id}", headers=PROGRAMME)).headers["etag"]
    assert (
        await picc.post(f"/committees/{committee_id}/meetings", MEETING, PROGRAMME | {"If-Match": version})
    ).status_code == 201
    stale = await picc.post(f"/committees/{committee_id}/meetings", MEETING, PROGRAMME | {"If-Match": version})
    assert stale.status_code == 409 and "has changed since version" in stale.json()["detail"]


async def test_only_programme_staff_and_the_factory_itself_touch_its_committee(picc: Picc) -> None:
    angkor = await picc.enrolled_factory()
    mekong = await picc.enrolled_factory(MEKONG)
    committee_id = await picc.staffed(angkor)
    own, other = bearer(Audience.FACTORY, angkor), bearer(Audience.FACTORY, mekong)
    brand, government = bearer(Audience.BRAND, "BR-0001"), bearer(Audience.GOVERNMENT, "KH")
    path = f"/committees/{committee_id}"

    # The factory records its own meetings, but manages nothing else of its committee.
    assert (
        await picc.post("/committees", {"factory_id": angkor, "established_on": str(TODAY)}, own)
    ).status_code == 403
    assert (await picc.post(f"{path}/elections", ELECTION, own)).status_code == 403
    assert (await picc.post(f"{path}/members", {"person": DARA, "term_starts_on": str(TODAY)}, own)).status_code == 403
    assert (
        await picc.post(f"{path}/members/M-1/departure", {"left_on": str(TODAY), "reason": "x"}, own)
    ).status_code == 403
    assert (await picc.post(f"{path}/dissolution", {"dissolved_on": str(TODAY), "reason": "x"}, own)).status_code == 403
    assert (await picc.post(f"{path}/meetings", MEETING, own)).status_code == 201

    # A brand and a government neither write nor read it: refused before anything is looked up.
    for intruder in (brand, government):
        assert (await picc.post(f"{path}/meetings", MEETING, intruder)).status_code == 403
        assert (
            await picc.post(f"{path}/action-items/AI-1/closure", {"closed_on": str(TODAY), "outcome": "x"}, intruder)
        ).status_code == 403
        assert (
            await picc.post(f"{path}/meetings/MT-1/action-items", MEETING["action_items"][0], intruder)
        ).status_code == 403
        assert (await picc.committee.get(path, headers=intruder)).status_code == 403
        assert (await picc.committee.get(f"{path}/meetings/MT-1", headers=intruder)).status_code == 403
        assert (await picc.committee.get(f"/factories/{angkor}/committee", headers=intruder)).status_code == 403
        assert (
            await picc.post("/committees", {"factory_id": mekong, "established_on": str(TODAY)}, intruder)
        ).status_code == 403
    # To another factory, Angkor's committee does not exist: it answers as a committee that does not.
    missing = await picc.committee.get(f"/committees/{angkor}-C9", headers=other)
    assert missing.status_code == 404 and missing.json() == {"detail": f"no committee {angkor}-C9"}
    for hidden in (
        await picc.post(f"{path}/meetings", MEETING, other),
        await picc.post(f"{path}/action-items/AI-1/closure", {"closed_on": str(TODAY), "outcome": "x"}, other),
        await picc.post(f"{path}/meetings/MT-1/action-items", MEETING["action_items"][0], other),
        await picc.committee.get(path, headers=other),
        await picc.committee.get(f"{path}/meetings/MT-1", headers=other),
    ):
        assert hidden.status_code == 404 and hidden.json() == {"detail": f"no committee {committee_id}"}
    assert (await picc.committee.get(f"/factories/{angkor}/committee", headers=other)).status_code == 404
    assert (
        await picc.post("/committees", {"factory_id": mekong, "established_on": str(TODAY)}, other)
    ).status_code == 403
    assert (await picc.committee.get(path)).status_code == 401
    assert (await picc.committee.get(f"{path}/meetings/MT-1", headers=own)).status_code == 200
    assert len((await picc.committee.get(path, headers=PROGRAMME)).json()["meetings"]) == 1


async def test_a_retried_command_with_the_same_idempotency_key_changes_nothing(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"factory_id": factory_id, "established_on": str(ESTABLISHED)}
    first = await picc.post("/committees", body, PROGRAMME | key)
    retry = await picc.post("/committees", body, PROGRAMME | key)
    assert first.status_code == retry.status_code == 201 and retry.json()["id"] == first.json()["id"]
    committee_id = first.json()["id"]
    assert (await picc.post(f"/committees/{committee_id}/elections", ELECTION)).status_code == 201
    for manager in (DARA, KANHA):
        await picc.post(f"/committees/{committee_id}/members", {"person": manager, "term_starts_on": str(ELECTION_DAY)})

    version = (await picc.committee.get(f"/committees/{committee_id}", headers=PROGRAMME)).headers["etag"]
    meeting_key = {"Idempotency-Key": "angkor-picc-minutes-2026-11", "If-Match": version}
    once = await picc.post(f"/committees/{committee_id}/meetings", MEETING, PROGRAMME | meeting_key)
    twice = await picc.post(f"/committees/{committee_id}/meetings", MEETING, PROGRAMME | meeting_key)
    other = await picc.post(
        f"/committees/{committee_id}/meetings", MEETING | {"minutes": "Other."}, PROGRAMME | meeting_key
    )

    assert once.status_code == twice.status_code == 201, twice.text
    assert twice.json() == once.json()
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    committee = (await picc.committee.get(f"/committees/{committee_id}", headers=PROGRAMME)).json()
    assert len(committee["meetings"]) == 1


async def test_the_committees_events_reach_kafka_keyed_by_factory(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    committee_id = await picc.staffed(factory_id)
    await picc.post(f"/committees/{committee_id}/meetings", MEETING, bearer(Audience.FACTORY, factory_id))
    topic = f"{picc.topic_prefix}committee.events"
    expected = [
        "org.betterwork.committee.established.v1",
        "org.betterwork.committee.election-recorded.v1",
        *["org.betterwork.committee.management-representative-appointed.v1"] * 3,
        "org.betterwork.committee.meeting-recorded.v1",
        "org.betterwork.committee.action-item-raised.v1",
    ]

    async def published() -> list[tuple[bytes | None, Envelope]]:
        return [(r.key, Envelope.from_kafka(r.value, r.headers)) for r in await read_topic(picc.kafka, topic)]

    async def all_published() -> bool:
        return len(await published()) == len(expected)

    await eventually(all_published, what="the committee's events on Kafka")
    records = sorted(await published(), key=lambda r: r[1].streamversion)
    assert [envelope.type for _, envelope in records] == expected
    assert {key for key, _ in records} == {factory_id.encode()}
    assert {(e.subject, e.factoryid, e.source) for _, e in records} == {
        (f"committee-{committee_id}", factory_id, "/betterwork/committee")
    }
    meeting = next(e for _, e in records if e.type.endswith("meeting-recorded.v1")).contract()
    assert meeting.model_dump()["agenda"][0]["references"] == (
        "finding:KH-2026-0042-5-A1-F7",
        "compliance-point:OSH-emergency-exits",
    )
    assert records[-1][1].actor == f"factory:{factory_id}:dev-user"


def staff(role: Role, country: str | None = "KH", subject: str = "staff") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SETTINGS, Audience.PROGRAMME, country, subject, role=role)}"}


async def test_within_the_programme_country_managers_manage_committees_and_assessors_support_meetings(
    picc: Picc,
) -> None:
    factory_id = await picc.enrolled_factory()
    assessor, reviewer = staff(Role.ASSESSOR, subject="assessor-sokha"), staff(Role.QUALITY_REVIEWER)
    manager = staff(Role.COUNTRY_MANAGER, subject="manager-dara")

    # An assessor or a quality reviewer sets up nothing: refused before the factory is looked up.
    for attacker in (assessor, reviewer):
        body = {"factory_id": factory_id, "established_on": str(ESTABLISHED)}
        assert (await picc.post("/committees", body, attacker)).status_code == 403
        assert (await picc.post("/committees", body | {"factory_id": "KH-2026-9999-1"}, attacker)).status_code == 403
    established = await picc.post(
        "/committees", {"factory_id": factory_id, "established_on": str(ESTABLISHED)}, manager
    )
    assert established.status_code == 201, established.text
    path = f"/committees/{established.json()['id']}"
    assert (await picc.post(f"{path}/elections", ELECTION, manager)).status_code == 201
    for attacker in (assessor, reviewer):
        assert (await picc.post(f"{path}/elections", ELECTION, attacker)).status_code == 403
        appointment = {"person": DARA, "term_starts_on": str(ELECTION_DAY)}
        assert (await picc.post(f"{path}/members", appointment, attacker)).status_code == 403
        assert (
            await picc.post(f"{path}/members/M-1/departure", {"left_on": str(TODAY), "reason": "x"}, attacker)
        ).status_code == 403
        assert (
            await picc.post(f"{path}/dissolution", {"dissolved_on": str(TODAY), "reason": "x"}, attacker)
        ).status_code == 403
    for manager_seat in (DARA, KANHA):
        appointment = {"person": manager_seat, "term_starts_on": str(ELECTION_DAY)}
        assert (await picc.post(f"{path}/members", appointment, manager)).status_code == 201

    # The assessor supports the committee's meetings; the quality reviewer only reads.
    meeting = await picc.post(f"{path}/meetings", MEETING, assessor)
    assert meeting.status_code == 201, meeting.text
    closure = {"closed_on": str(TODAY), "outcome": "exit cleared"}
    assert (await picc.post(f"{path}/action-items/AI-1/closure", closure, reviewer)).status_code == 403
    assert (await picc.post(f"{path}/meetings", MEETING, reviewer)).status_code == 403
    assert (await picc.committee.get(path, headers=reviewer)).status_code == 200
    assert (await picc.post(f"{path}/action-items/AI-1/closure", closure, assessor)).status_code == 200
    history = (await picc.committee.get(f"{path}/history", headers=reviewer)).json()
    assert history[0]["actor"] == "programme:KH:manager-dara" and history[-1]["actor"] == "programme:KH:assessor-sokha"


async def test_a_country_team_touches_no_other_countrys_committees(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    committee_id = await picc.staffed(factory_id)
    path = f"/committees/{committee_id}"
    vietnam = staff(Role.COUNTRY_MANAGER, "VN")

    assert (
        await picc.post("/committees", {"factory_id": factory_id, "established_on": str(TODAY)}, vietnam)
    ).status_code == 403
    for attack in (
        picc.post(f"{path}/dissolution", {"dissolved_on": str(TODAY), "reason": "x"}, vietnam),
        picc.post(f"{path}/meetings", MEETING, vietnam),
        picc.committee.get(path, headers=vietnam),
        picc.committee.get(f"{path}/history", headers=vietnam),
        picc.committee.get(f"/factories/{factory_id}/committees", headers=vietnam),
    ):
        refused = await attack
        assert refused.status_code == 403 and "VN country team" in refused.json()["detail"], refused.text
    assert (await picc.committee.get(path, headers=staff(Role.QUALITY_REVIEWER, "KH"))).status_code == 200
    assert (await picc.committee.get(path, headers=staff(Role.QUALITY_REVIEWER, None))).status_code == 200
    committee = (await picc.committee.get(path, headers=PROGRAMME)).json()
    assert committee["meetings"] == [] and committee["dissolved_on"] is None
