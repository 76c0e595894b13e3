"""The training service over HTTP, learning factories from the registry's events, its own events
reaching Kafka. Supervisory Skills Training for two factories in Binh Duong, Vietnam."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from betterwork_events.auth import Audience, Role, mint
from betterwork_events.envelope import Envelope
from betterwork_events.errors import NotFound
from betterwork_events.factories import known_factory
from betterwork_events.kafka import events_topic
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from fastapi import FastAPI
from training import directory
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from tests.e2e.conftest import PROGRAMME, SETTINGS, bearer
from tests.support import as_read_now, eventually, if_match, read_topic, serve

SAIGON_STITCH = {
    "name": "Saigon Stitch Garment Co., Ltd.",
    "country": "VN",
    "address": "Lot C5, My Phuoc 2 Industrial Park, Ben Cat, Binh Duong",
    "workforce": {"total": 1850, "women": 1420, "men": 430},
}
DONG_NAI = {
    "name": "Dong Nai Knitwear JSC",
    "country": "VN",
    "address": "Road 9, Bien Hoa 2 Industrial Zone, Dong Nai",
    "sector": "garment",
}
HAI_PHONG = {"name": "Hai Phong Footwear Co., Ltd.", "country": "VN", "address": "Nomura Industrial Park, Hai Phong"}
TUESDAY, WEDNESDAY = "2026-03-10", "2026-03-11"
# Thursday 12 March 2026, 10:00 in Binh Duong: both training days are over.
THURSDAY_MORNING = dt.datetime(2026, 3, 12, 3, 0, tzinfo=dt.UTC)
SST = {
    "course": "SST",
    "days": [TUESDAY, WEDNESDAY],
    "venue": "Better Work Vietnam training room, Thu Dau Mot, Binh Duong",
    "trainer": "Nguyen Thi Lan, enterprise advisor",
}


@dataclass
class TrainingStack:
    registry: httpx.AsyncClient
    training: httpx.AsyncClient
    training_app: FastAPI
    kafka: str
    topic: str
    saigon_stitch: str
    dong_nai: str

    async def schedule(self, body: dict[str, Any], headers: dict[str, str] = PROGRAMME) -> httpx.Response:
        return await self.training.post("/sessions", json=body, headers=headers)

    async def register(self, session_id: str, participant_id: str, factory_id: str, sex: str, **extra: Any) -> Any:
        body = {"participant_id": participant_id, "factory_id": factory_id, "role": "supervisor", "sex": sex} | extra
        return await post(self, f"/sessions/{session_id}/participants", body)

    async def read_at(self, path: str) -> dict[str, str]:
        """If-Match with the session's ETag as programme staff read it now, for a change at `path`."""
        read = await self.training.get("/".join(path.split("/")[:3]), headers=PROGRAMME)
        return {"If-Match": read.headers["etag"] if read.status_code == 200 else '"1"'}  # no such session: any


async def enrolled_factory(registry: httpx.AsyncClient, profile: dict[str, Any], enroll: bool = True) -> str:
    created = await registry.post("/factories", json=profile, headers=PROGRAMME)
    assert created.status_code == 201, created.text
    factory_id = created.json()["id"]
    await registry.post(f"/factories/{factory_id}/enrollment/apply", headers=PROGRAMME | if_match(1))
    if enroll:
        body = {"service_package": "core", "enrolled_on": "2026-01-05"}
        await registry.post(f"/factories/{factory_id}/enrollment/enroll", json=body, headers=PROGRAMME | if_match(2))
    return factory_id


async def known_here(app: FastAPI, factory_id: str, enrollment: str) -> None:
    async def known() -> bool:
        try:
            return (await known_factory(app.state.store.engine, factory_id)).enrollment == enrollment
        except NotFound:
            return False

    await eventually(known, what=f"training learning that {factory_id} is {enrollment}")


@pytest.fixture
async def stack(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[TrainingStack]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    training = create_training(TrainingSettings(database_url=await create_database("training"), **common))
    training.state.clock = lambda: THURSDAY_MORNING
    async with (
        serve(registry) as registry_url,
        serve(training) as training_url,
        httpx.AsyncClient(base_url=registry_url) as r,
        httpx.AsyncClient(base_url=training_url) as t,
    ):
        saigon_stitch, dong_nai = await enrolled_factory(r, SAIGON_STITCH), await enrolled_factory(r, DONG_NAI)
        await known_here(training, saigon_stitch, "enrolled")
        await known_here(training, dong_nai, "enrolled")
        topic = f"{topic_prefix}{events_topic('training')}"
        yield TrainingStack(r, t, training, kafka, topic, saigon_stitch, dong_nai)


async def sst_for_both(stack: TrainingStack) -> dict[str, Any]:
    response = await stack.schedule(SST | {"factory_ids": [stack.saigon_stitch, stack.dong_nai]})
    assert response.status_code == 201, response.text
    return response.json()


async def with_five_supervisors(stack: TrainingStack) -> str:
    session_id = (await sst_for_both(stack))["id"]
    for participant_id, factory_id, sex in [
        ("SS-S-001", stack.saigon_stitch, "female"),
        ("SS-S-002", stack.saigon_stitch, "female"),
        ("SS-S-003", stack.saigon_stitch, "male"),
        ("DN-S-101", stack.dong_nai, "female"),
        ("DN-S-102", stack.dong_nai, "other-or-undisclosed"),
    ]:
        registered = await stack.register(session_id, participant_id, factory_id, sex)
        assert registered.status_code == 201, registered.text
    return session_id


async def put(stack: TrainingStack, path: str, body: dict[str, Any], headers: dict[str, str] = PROGRAMME) -> Any:
    """A change of a session, at its latest version unless `headers` names one."""
    return await stack.training.put(path, json=body, headers=await stack.read_at(path) | headers)


async def post(stack: TrainingStack, path: str, body: dict[str, Any] | None = None, headers=PROGRAMME) -> Any:
    """A change of a session, at its latest version unless `headers` names one."""
    return await stack.training.post(path, json=body, headers=await stack.read_at(path) | headers)


async def delivered(stack: TrainingStack) -> str:
    """Everyone on Tuesday; SS-S-003 off sick on Wednesday; then delivered."""
    session_id = await with_five_supervisors(stack)
    everyone = ["SS-S-001", "SS-S-002", "SS-S-003", "DN-S-101", "DN-S-102"]
    base = f"/sessions/{session_id}"
    assert (await put(stack, f"{base}/attendance/{TUESDAY}", {"present": everyone})).status_code == 200
    wednesday = [p for p in everyone if p != "SS-S-003"]
    assert (await put(stack, f"{base}/attendance/{WEDNESDAY}", {"present": wednesday})).status_code == 200
    response = await post(stack, f"{base}/deliver")
    assert response.status_code == 200, response.text
    return session_id


def every_change(stack: TrainingStack, session_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"/sessions/{session_id}"
    return [
        (
            "POST",
            f"{base}/participants",
            {"participant_id": "SS-S-009", "factory_id": stack.saigon_stitch, "role": "supervisor", "sex": "female"},
        ),
        ("PUT", f"{base}/attendance/{TUESDAY}", {"present": ["SS-S-001"]}),
        ("PUT", f"{base}/participants/SS-S-001/scores/pre", {"score": 60}),
        ("PUT", f"{base}/participants/SS-S-001/feedback", {"rating": 4}),
        ("POST", f"{base}/reschedule", {"days": [TUESDAY], "reason": "the trainer is needed in Hanoi"}),
        ("POST", f"{base}/deliver", None),
        ("POST", f"{base}/cancel", {"reason": "typhoon warning"}),
    ]


# --- the whole course of a session ------------------------------------------------------------


async def test_the_catalogue_is_served_with_lengths_audiences_and_tests(stack: TrainingStack) -> None:
    catalogue = (await stack.training.get("/courses", headers=bearer(Audience.FACTORY, stack.dong_nai))).json()
    by_code = {course["code"]: course for course in catalogue["courses"]}

    assert catalogue["version"] and {"SST", "OSH", "HRM", "GEAR", "PICC"} <= set(by_code)
    assert by_code["SST"]["audience"] == ["supervisor"] and by_code["SST"]["hours"] == 16
    assert (await stack.training.get("/courses/gear", headers=PROGRAMME)).json()[
        "title"
    ] == "Gender Equality and Returns"
    assert (await stack.training.get("/courses/XYZ", headers=PROGRAMME)).status_code == 404


async def test_a_training_for_two_factories_is_delivered_and_its_counts_reach_kafka(stack: TrainingStack) -> None:
    session_id = await with_five_supervisors(stack)
    base = f"/sessions/{session_id}"
    await put(stack, f"{base}/participants/SS-S-001/scores/pre", {"score": 45})
    everyone = ["SS-S-001", "SS-S-002", "SS-S-003", "DN-S-101", "DN-S-102"]
    await put(stack, f"{base}/attendance/{TUESDAY}", {"present": everyone})
    await put(stack, f"{base}/attendance/{WEDNESDAY}", {"present": [p for p in everyone if p != "SS-S-003"]})
    await put(stack, f"{base}/participants/SS-S-001/scores/post", {"score": 85})
    await put(stack, f"{base}/participants/DN-S-101/feedback", {"rating": 5, "comment": "Useful role plays"})

    response = await post(stack, f"{base}/deliver")

    assert response.status_code == 200, response.text
    session = response.json()
    assert session["status"] == "delivered"
    delivery = session["delivery"]
    assert delivery["attended"]["by_sex"] == {"female": 3, "male": 1, "other_or_undisclosed": 1}
    assert delivery["attended"]["by_role"] == {"worker": 0, "supervisor": 5, "manager": 0}
    assert (delivery["hours"], delivery["participant_hours"], delivery["completed"]) == (16, 72, 4)
    first = next(p for p in session["participants"] if p["participant_id"] == "SS-S-001")
    assert (first["pre_test"], first["post_test"], first["days_present"]) == (45, 85, 2)

    async def published() -> bool:
        return any(r.headers and _type(r) == "org.betterwork.training.delivered.v1" for r in await _records(stack))

    await eventually(published, what="TrainingDelivered reaching Kafka")
    records = await _records(stack)
    envelopes = [Envelope.from_kafka(r.value, r.headers) for r in records]
    [sent] = [e for e in envelopes if e.type == "org.betterwork.training.delivered.v1"]
    assert sent.data["attended"]["by_sex"] == {"female": 3, "male": 1, "other_or_undisclosed": 1}
    assert sent.data["attended"]["women_supervisors_and_managers"] == 3
    per_factory = {f["factory_id"]: f for f in sent.data["factories"]}
    assert per_factory[stack.saigon_stitch]["attended"]["total"] == 3
    assert per_factory[stack.dong_nai]["participant_hours"] == 32
    assert sent.actor == "programme:assessor-sokha"
    # One session, one key: all its events in one partition, in order.
    assert {r.key for r in records} == {f"training-session-{session_id}".encode()}
    assert len({r.partition for r in records}) == 1
    assert [e.streamversion for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert all(e.factoryid is None for e in envelopes)


async def _records(stack: TrainingStack) -> list[Any]:
    return await read_topic(stack.kafka, stack.topic)


def _type(record: Any) -> str:
    return dict(record.headers).get("ce_type", b"").decode()


async def test_sessions_can_be_listed_by_factory_course_and_status(stack: TrainingStack) -> None:
    joint = await delivered(stack)
    alone = (await stack.schedule(SST | {"factory_ids": [stack.dong_nai], "days": ["2026-04-07"]})).json()["id"]

    async def listed(query: str, headers: dict[str, str] = PROGRAMME) -> list[str]:
        response = await stack.training.get(f"/sessions{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()]

    assert await listed("") == [alone, joint]  # latest first
    assert await listed(f"?factory_id={stack.saigon_stitch}") == [joint]
    assert await listed("?status=delivered") == [joint]
    assert await listed("?status=scheduled&course=SST") == [alone]
    assert await listed("?since=2026-04-01") == [alone]
    assert await listed("", bearer(Audience.FACTORY, stack.saigon_stitch)) == [joint]


# --- what the registry told us ------------------------------------------------------------------


async def test_sessions_are_only_for_factories_known_here_and_enrolled(stack: TrainingStack) -> None:
    applicant = await enrolled_factory(stack.registry, HAI_PHONG, enroll=False)
    await known_here(stack.training_app, applicant, "applied")

    unknown = await stack.schedule(SST | {"factory_ids": ["VN-2026-9999-4"]})
    not_enrolled = await stack.schedule(SST | {"factory_ids": [stack.saigon_stitch, applicant]})

    assert unknown.status_code == 404 and "no factory VN-2026-9999-4 is known here" in unknown.json()["detail"]
    assert not_enrolled.status_code == 409
    assert (
        "Hai Phong Footwear Co., Ltd." in not_enrolled.json()["detail"]
        and "is applied" in not_enrolled.json()["detail"]
    )

    staff = await as_read_now(stack.registry, f"/factories/{stack.dong_nai}", PROGRAMME)
    await stack.registry.post(
        f"/factories/{stack.dong_nai}/enrollment/suspend", json={"reason": "fees unpaid"}, headers=staff
    )
    await known_here(stack.training_app, stack.dong_nai, "suspended")
    suspended = await stack.schedule(SST | {"factory_ids": [stack.dong_nai]})
    assert suspended.status_code == 409 and "is suspended" in suspended.json()["detail"]


# --- bad input and impossible steps -------------------------------------------------------------


async def test_bad_input_is_422_naming_the_field(stack: TrainingStack) -> None:
    session_id = await with_five_supervisors(stack)
    both = [stack.saigon_stitch, stack.dong_nai]

    async def field_of(response: httpx.Response) -> list[Any]:
        assert response.status_code == 422, response.text
        return response.json()["detail"][0]["loc"]

    assert await field_of(await stack.schedule(SST | {"factory_ids": both, "course": "BASKET-WEAVING"})) == [
        "body",
        "course",
    ]
    assert await field_of(await stack.schedule(SST | {"factory_ids": both, "days": [TUESDAY, TUESDAY]})) == [
        "body",
        "days",
    ]
    assert await field_of(await stack.schedule(SST | {"factory_ids": [stack.dong_nai, stack.dong_nai]})) == [
        "body",
        "factory_ids",
    ]
    assert await field_of(await stack.schedule(SST | {"factory_ids": []})) == ["body", "factory_ids"]
    assert await field_of(await stack.register(session_id, "SS-S-004", stack.saigon_stitch, "unknown")) == [
        "body",
        "sex",
    ]
    assert await field_of(await stack.register(session_id, "Tran Thi Mai", stack.saigon_stitch, "female")) == [
        "body",
        "participant_id",
    ]
    base = f"/sessions/{session_id}/participants/SS-S-001"
    assert await field_of(await put(stack, f"{base}/scores/pre", {"score": 101})) == ["body", "score"]
    assert await field_of(await put(stack, f"{base}/scores/midterm", {"score": 50})) == ["path", "phase"]
    assert await field_of(await put(stack, f"{base}/feedback", {"rating": 0})) == ["body", "rating"]
    assert await field_of(await post(stack, f"/sessions/{session_id}/cancel", {"reason": ""})) == ["body", "reason"]
    assert await field_of(await put(stack, f"/sessions/{session_id}/attendance/tuesday", {"present": []})) == [
        "path",
        "day",
    ]
    stale_form = await post(stack, f"/sessions/{session_id}/cancel", {"reason": "x"}, PROGRAMME | {"If-Match": "six"})
    assert stale_form.status_code == 422 and "If-Match" in stale_form.json()["detail"]


async def test_impossible_steps_are_409_with_the_reason(stack: TrainingStack) -> None:
    done = await delivered(stack)
    cancelled = await with_five_supervisors(stack)
    reason = {"reason": "typhoon warning for Binh Duong: the venue is closed"}
    assert (await post(stack, f"/sessions/{cancelled}/cancel", reason)).status_code == 200

    async def refused(response: httpx.Response, because: str) -> None:
        assert response.status_code == 409, response.text
        assert because in response.json()["detail"]

    await refused(await post(stack, f"/sessions/{cancelled}/deliver"), "cannot deliver a session that was cancelled")
    await refused(await post(stack, f"/sessions/{done}/cancel", reason), "cannot cancel a session that was delivered")
    await refused(
        await stack.register(done, "SS-S-004", stack.saigon_stitch, "female"),
        "cannot register participants for a session that was delivered",
    )
    fresh = (await sst_for_both(stack))["id"]
    assert (await stack.register(fresh, "DN-S-101", stack.dong_nai, "female")).status_code == 201
    await refused(await stack.register(fresh, "DN-S-101", stack.dong_nai, "female"), "already registered")
    await refused(
        await stack.register(fresh, "DN-M-001", stack.dong_nai, "male", role="manager"),
        "Supervisory Skills Training is for supervisors, not managers",
    )
    await refused(
        await post(stack, f"/sessions/{fresh}/deliver"), "attendance on 2026-03-10, 2026-03-11 is not recorded"
    )
    future = (await stack.schedule(SST | {"factory_ids": [stack.dong_nai], "days": ["2026-03-13"]})).json()["id"]
    await refused(await put(stack, f"/sessions/{future}/attendance/2026-03-13", {"present": []}), "still to come")
    await refused(await post(stack, f"/sessions/{future}/deliver"), "last day, 2026-03-13, is still to come")
    assert (await post(stack, "/sessions/TS-NOSUCHTHING/deliver")).status_code == 404


async def test_a_change_made_on_a_stale_version_is_refused(stack: TrainingStack) -> None:
    scheduled = await stack.schedule(SST | {"factory_ids": [stack.dong_nai]})
    session_id, etag = scheduled.json()["id"], scheduled.headers["etag"]
    assert etag == '"1"'

    moved = await post(
        stack,
        f"/sessions/{session_id}/reschedule",
        {"days": [TUESDAY], "reason": "the trainer is needed in Hanoi on Wednesday"},
        PROGRAMME | {"If-Match": etag},
    )
    stale = await post(stack, f"/sessions/{session_id}/cancel", {"reason": "x"}, PROGRAMME | {"If-Match": etag})

    assert moved.status_code == 200 and moved.headers["etag"] == '"2"' and moved.json()["days"] == [TUESDAY]
    assert stale.status_code == 409 and "has changed since version 1" in stale.json()["detail"]


async def test_a_retried_request_with_the_same_idempotency_key_changes_nothing(stack: TrainingStack) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = SST | {"factory_ids": [stack.saigon_stitch]}
    first = await stack.schedule(body, PROGRAMME | key)
    retry = await stack.schedule(body, PROGRAMME | key)
    reused = await stack.schedule(body | {"venue": "Saigon Stitch canteen"}, PROGRAMME | key)

    assert first.status_code == retry.status_code == 201 and retry.json()["id"] == first.json()["id"]
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]

    session_id = first.json()["id"]
    participant = {
        "participant_id": "SS-S-001",
        "factory_id": stack.saigon_stitch,
        "role": "supervisor",
        "sex": "female",
    }
    path = f"/sessions/{session_id}/participants"
    read = PROGRAMME | key | {"If-Match": first.headers["etag"]}
    once = await stack.training.post(path, json=participant, headers=read)
    again = await stack.training.post(path, json=participant, headers=read)

    assert once.status_code == again.status_code == 201 and again.json()["version"] == 2
    listed = await stack.training.get("/sessions", headers=PROGRAMME)
    assert [s["id"] for s in listed.json()] == [session_id]


# --- who may do what, tried by those who may not -----------------------------------------------


async def test_only_programme_staff_write_and_nobody_else_reads_but_the_sessions_factories(
    stack: TrainingStack,
) -> None:
    session_id = await with_five_supervisors(stack)
    base = f"/sessions/{session_id}"
    outsiders = {
        "own factory": bearer(Audience.FACTORY, stack.saigon_stitch),
        "brand": bearer(Audience.BRAND, "BR-0001"),
        "government": bearer(Audience.GOVERNMENT, "VN"),
    }
    writes = [("POST", "/sessions", SST | {"factory_ids": [stack.saigon_stitch]}), *every_change(stack, session_id)]
    for who, headers in outsiders.items():
        for method, path, body in writes:
            response = await stack.training.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, f"{who} {method} {path}: {response.status_code}"
    for headers in (outsiders["brand"], outsiders["government"]):
        assert (await stack.training.get(base, headers=headers)).status_code == 403
        assert (await stack.training.get("/sessions", headers=headers)).status_code == 403
    assert (await stack.training.get(base)).status_code == 401
    assert (await stack.training.get(base, headers={"Authorization": "Bearer forged.token.here"})).status_code == 401
    untouched = (await stack.training.get(base, headers=PROGRAMME)).json()
    assert untouched["version"] == 6 and untouched["attendance"] == {}

    # A factory that is not in the session cannot tell it exists.
    stranger = bearer(Audience.FACTORY, await enrolled_factory(stack.registry, HAI_PHONG))
    assert (await stack.training.get(base, headers=stranger)).status_code == 404
    assert (await stack.training.get("/sessions", headers=stranger)).json() == []
    assert (await stack.training.get(f"/sessions?factory_id={stack.saigon_stitch}", headers=stranger)).json() == []


async def test_a_factory_sees_only_its_own_people_and_numbers_of_a_shared_session(stack: TrainingStack) -> None:
    session_id = await delivered(stack)
    dong_nai = bearer(Audience.FACTORY, stack.dong_nai)

    response = await stack.training.get(f"/sessions/{session_id}", headers=dong_nai)

    assert response.status_code == 200
    seen = response.json()
    assert [p["participant_id"] for p in seen["participants"]] == ["DN-S-101", "DN-S-102"]
    assert seen["attendance"] == {TUESDAY: ["DN-S-101", "DN-S-102"], WEDNESDAY: ["DN-S-101", "DN-S-102"]}
    assert [f["factory_id"] for f in seen["delivery"]["factories"]] == [stack.dong_nai]
    # Totals over both factories would give away Saigon Stitch's numbers by subtraction.
    assert seen["delivery"]["attended"] is None and seen["delivery"]["registered"] is None
    assert "SS-S-" not in response.text


async def test_the_session_directory_is_rebuilt_from_the_events(stack: TrainingStack) -> None:
    await delivered(stack)
    await stack.schedule(SST | {"factory_ids": [stack.dong_nai], "days": ["2026-04-07"]})
    before = (await stack.training.get("/sessions", headers=PROGRAMME)).json()

    assert await directory.rebuild(stack.training_app.state.store) == 2

    assert (await stack.training.get("/sessions", headers=PROGRAMME)).json() == before


# --- roles and country teams ------------------------------------------------------------------


def staff(role: Role, country: str | None = None, subject: str = "trainer-lan") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SETTINGS, Audience.PROGRAMME, country, subject=subject, role=role)}"}


async def test_trainers_manage_only_their_country_teams_sessions(stack: TrainingStack) -> None:
    session_id = await with_five_supervisors(stack)
    before = (await stack.training.get(f"/sessions/{session_id}", headers=PROGRAMME)).json()
    kh_assessor = staff(Role.ASSESSOR, "KH")
    reviewer = staff(Role.QUALITY_REVIEWER)

    other_country = await stack.schedule(SST | {"factory_ids": [stack.dong_nai]}, kh_assessor)
    not_a_trainer = await stack.schedule(SST | {"factory_ids": [stack.dong_nai]}, reviewer)
    assert other_country.status_code == 403 and "in VN: only its country team" in other_country.json()["detail"]
    assert not_a_trainer.status_code == 403 and "you are a quality-reviewer" in not_a_trainer.json()["detail"]
    for method, path, body in every_change(stack, session_id):
        for who, headers, reason in [
            ("a Cambodian assessor", kh_assessor, "in VN: only its country team may manage it; yours is KH's"),
            ("a quality reviewer", reviewer, "you are a quality-reviewer"),
        ]:
            response = await stack.training.request(method, path, json=body, headers=headers | {"If-Match": '"6"'})
            assert response.status_code == 403 and reason in response.json()["detail"], f"{who} {method} {path}"
    # Programme staff of any role and country read every session.
    for headers in (kh_assessor, reviewer):
        assert (await stack.training.get(f"/sessions/{session_id}", headers=headers)).json() == before

    for headers in (staff(Role.ASSESSOR, "VN"), staff(Role.COUNTRY_MANAGER, "VN"), staff(Role.ASSESSOR)):
        scheduled = await stack.schedule(SST | {"factory_ids": [stack.dong_nai]}, headers)
        assert scheduled.status_code == 201, scheduled.text
        body = {"participant_id": "DN-S-101", "factory_id": stack.dong_nai, "role": "supervisor", "sex": "female"}
        path = f"/sessions/{scheduled.json()['id']}/participants"
        registered = await stack.training.post(path, json=body, headers=headers | {"If-Match": '"1"'})
        assert registered.status_code == 201 and registered.json()["version"] == 2, registered.text
    assert (await stack.training.get(f"/sessions/{session_id}", headers=PROGRAMME)).json() == before


# --- If-Match and Idempotency-Key -------------------------------------------------------------


async def test_every_change_of_a_session_needs_if_match(stack: TrainingStack) -> None:
    session_id = await with_five_supervisors(stack)

    for method, path, body in every_change(stack, session_id):
        response = await stack.training.request(method, path, json=body, headers=PROGRAMME)
        assert response.status_code == 428, f"{method} {path}: {response.status_code}"
        assert "If-Match" in response.json()["detail"]

    untouched = (await stack.training.get(f"/sessions/{session_id}", headers=PROGRAMME)).json()
    assert untouched["version"] == 6 and untouched["status"] == "scheduled"


async def test_an_idempotency_key_reused_for_another_request_is_409_on_every_command(stack: TrainingStack) -> None:
    session_id = (await stack.schedule(SST | {"factory_ids": [stack.saigon_stitch]})).json()["id"]
    base = f"/sessions/{session_id}"
    participant = {"participant_id": "SS-S-001", "factory_id": stack.saigon_stitch, "role": "supervisor"}
    commands = [  # (method, path, the request, another request)
        ("POST", f"{base}/participants", participant | {"sex": "female"}, participant | {"sex": "male"}),
        ("PUT", f"{base}/attendance/{TUESDAY}", {"present": ["SS-S-001"]}, {"present": []}),
        ("PUT", f"{base}/participants/SS-S-001/scores/pre", {"score": 40}, {"score": 50}),
        ("PUT", f"{base}/participants/SS-S-001/feedback", {"rating": 4}, {"rating": 2}),
        ("POST", f"{base}/reschedule", {"days": [TUESDAY], "reason": "Hanoi"}, {"days": [TUESDAY], "reason": "ill"}),
    ]
    for method, path, asked, other in commands:
        key = {"Idempotency-Key": str(uuid.uuid4())} | await stack.read_at(path)
        first = await stack.training.request(method, path, json=asked, headers=PROGRAMME | key)
        retry = await stack.training.request(method, path, json=asked, headers=PROGRAMME | key)
        reused = await stack.training.request(method, path, json=other, headers=PROGRAMME | key)

        assert first.status_code in (200, 201), f"{method} {path}: {first.text}"
        assert (retry.status_code, retry.json()) == (first.status_code, first.json()), f"{method} {path}"
        assert reused.status_code == 409, f"{method} {path}: {reused.status_code}"
        assert "was already used for a different request" in reused.json()["detail"]

    deliver = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": '"6"'}
    delivered = await stack.training.post(f"{base}/deliver", headers=PROGRAMME | deliver)
    again = await stack.training.post(f"{base}/deliver", headers=PROGRAMME | deliver)
    assert delivered.status_code == again.status_code == 200 and again.json()["version"] == 7

    other = (await stack.schedule(SST | {"factory_ids": [stack.dong_nai]})).json()["id"]
    cancel = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": '"1"'}
    cancelled = await post(stack, f"/sessions/{other}/cancel", {"reason": "venue closed"}, PROGRAMME | cancel)
    retried = await post(stack, f"/sessions/{other}/cancel", {"reason": "venue closed"}, PROGRAMME | cancel)
    reused = await post(stack, f"/sessions/{other}/cancel", {"reason": "trainer ill"}, PROGRAMME | cancel)
    assert cancelled.status_code == retried.status_code == 200 and retried.json()["version"] == 2
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


# --- what a hidden session answers --------------------------------------------------------------


async def test_a_session_of_other_factories_answers_exactly_as_a_missing_one(stack: TrainingStack) -> None:
    session_id = await with_five_supervisors(stack)
    stranger = bearer(Audience.FACTORY, await enrolled_factory(stack.registry, HAI_PHONG))

    for suffix in ("", "/history"):
        hidden = await stack.training.get(f"/sessions/{session_id}{suffix}", headers=stranger)
        missing = await stack.training.get(f"/sessions/TS-NOSUCHTHING{suffix}", headers=stranger)
        assert (hidden.status_code, hidden.json()) == (404, {"detail": f"no training session {session_id}"})
        assert (missing.status_code, missing.json()) == (404, {"detail": "no training session TS-NOSUCHTHING"})
        # Brands and governments never read sessions here: 403 whether it exists or not.
        for outsider in (bearer(Audience.BRAND, "BR-0001"), bearer(Audience.GOVERNMENT, "VN")):
            for path in (f"/sessions/{session_id}{suffix}", f"/sessions/TS-NOSUCHTHING{suffix}"):
                assert (await stack.training.get(path, headers=outsider)).status_code == 403


# --- history --------------------------------------------------------------------------------------


async def test_a_sessions_history_says_what_changed_when_and_by_whom_to_those_who_read_it(
    stack: TrainingStack,
) -> None:
    session_id = await delivered(stack)
    path = f"/sessions/{session_id}/history"

    record = (await stack.training.get(path, headers=PROGRAMME)).json()
    assert [c["type"].split(".")[-2] for c in record] == [
        "session-scheduled",
        *["participant-registered"] * 5,
        "attendance-recorded",
        "attendance-recorded",
        "delivered",
    ]
    assert [c["version"] for c in record] == list(range(1, 10))
    assert {c["actor"] for c in record} == {"programme:assessor-sokha"}
    assert record[1]["data"]["participant_id"] == "SS-S-001" and record[-1]["data"]["registered"] == 5
    assert (await stack.training.get(path, headers=staff(Role.QUALITY_REVIEWER, "KH"))).json() == record

    # Dong Nai reads the session's own changes and its own two people, none of Saigon Stitch's.
    dong_nai = await stack.training.get(path, headers=bearer(Audience.FACTORY, stack.dong_nai))
    seen = dong_nai.json()
    assert dong_nai.status_code == 200 and "SS-S-" not in dong_nai.text
    assert [c["data"].get("participant_id") for c in seen if "participant-registered" in c["type"]] == [
        "DN-S-101",
        "DN-S-102",
    ]
    assert [c["version"] for c in seen] == list(range(1, len(seen) + 1))  # no gap says how many others had
    assert {c["actor"] for c in seen} == {"programme"}
    attendance = [c["data"] for c in seen if "attendance-recorded" in c["type"]]
    assert attendance == [{"day": TUESDAY}, {"day": WEDNESDAY}]
    assert seen[-1]["data"] == {"course_code": "SST", "first_day": TUESDAY, "last_day": WEDNESDAY, "hours": 16}
