"""Advisory services over HTTP, in the committee service: a plan per cycle from the service package
the registry enrolled the factory with, visits planned and held, commitments and their follow-up,
the factory's word on a visit's record; and the events on `committee.events`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from betterwork_events.auth import Audience, Role
from betterwork_events.envelope import Envelope

from tests.e2e import test_committee
from tests.e2e.conftest import PROGRAMME, bearer
from tests.e2e.test_committee import ESTABLISHED, MEETING, MEKONG, TODAY, Picc, staff
from tests.support import eventually, if_match, read_topic

picc = test_committee.picc  # the registry and the committee service, as the committee's own tests run them

CYCLE_ENDS = ESTABLISHED + dt.timedelta(days=364)
FIRST_VISIT = TODAY - dt.timedelta(days=20)
SECOND_VISIT = TODAY - dt.timedelta(days=3)
APPROVAL = {
    "approved_by": "Country programme manager, Better Factories Cambodia",
    "approved_on": str(ESTABLISHED),
    "reason": "two fire-safety findings need a visit every six weeks",
}
HR_MANAGER = {"name": "Sok Dara", "role": "HR manager"}
UNION = {
    "union": "Cambodian Alliance of Trade Unions",
    "representatives": [{"name": "Meas Sokly", "role": "shop steward"}],
}


def plan_for(factory_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "factory_id": factory_id,
        "starts_on": str(ESTABLISHED),
        "ends_on": str(CYCLE_ENDS),
        "advisor": "Pich Sopheap",
        "visits": 4,
        "priorities": [
            {
                "topic": "osh.fire-and-emergency-preparedness",
                "description": "Keep every emergency exit of the cutting floor clear",
                "links": ["finding:KH-2026-0042-5-A1-F7"],
            }
        ],
    } | changes


def held(on: dt.date, **changes: Any) -> dict[str, Any]:
    return {
        "held_on": str(on),
        "management": [HR_MANAGER],
        "topics": [{"topic": "osh.fire-and-emergency-preparedness", "priority_id": "P-1", "note": "walked the floor"}],
        "notes": "The east exit of the cutting floor was blocked by fabric rolls.",
    } | changes


CLEAR_EXIT = {
    "description": "Move the fabric rolls away from the east exit and mark the floor",
    "topic": "osh.fire-and-emergency-preparedness",
    "priority_id": "P-1",
    "due_on": str(FIRST_VISIT + dt.timedelta(days=7)),
}


async def agreed(picc: Picc, factory_id: str, **changes: Any) -> dict[str, Any]:
    response = await picc.post("/advisory-plans", plan_for(factory_id, **changes))
    assert response.status_code == 201, response.text
    return response.json()


async def planned(picc: Picc, plan_id: str, on: dt.date, planned_on: dt.date = ESTABLISHED) -> str:
    response = await picc.post(
        f"/advisory-plans/{plan_id}/visits", {"planned_for": str(on), "planned_on": str(planned_on)}
    )
    assert response.status_code == 201, response.text
    return response.json()["visit_id"]


async def advised(picc: Picc, factory_id: str) -> str:
    """A plan whose first visit (V-1) was held and left a commitment (CM-1)."""
    plan_id = (await agreed(picc, factory_id))["id"]
    visit_id = await planned(picc, plan_id, FIRST_VISIT)
    recorded = await picc.post(
        f"/advisory-plans/{plan_id}/visits/{visit_id}/record", held(FIRST_VISIT, commitments=[CLEAR_EXIT])
    )
    assert recorded.status_code == 200, recorded.text
    return plan_id


async def test_an_advisor_plans_holds_and_follows_up_visits_and_the_factory_confirms_the_record(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    committee_id = await picc.staffed(factory_id)
    own = bearer(Audience.FACTORY, factory_id)
    assert (await picc.post(f"/committees/{committee_id}/meetings", MEETING, own)).status_code == 201
    dialogue = {
        "topic": "freedom-of-association.social-dialogue",
        "description": "The committee follows its action items through",
        "links": [f"action-item:{committee_id}/AI-1"],
    }

    response = await picc.post(
        "/advisory-plans", plan_for(factory_id, priorities=plan_for("")["priorities"] + [dialogue])
    )

    assert response.status_code == 201, response.text
    plan = response.json()
    plan_id = plan["id"]
    assert plan_id == f"{factory_id}-AP1" and response.headers["location"] == f"/advisory-plans/{plan_id}"
    assert (plan["cycle"], plan["service_package"], plan["visits_included"], plan["visits_promised"]) == (
        1,
        "core",
        4,
        4,
    )
    assert [(p["priority_id"], p["cluster"]) for p in plan["priorities"]] == [
        ("P-1", "osh"),
        ("P-2", "freedom-of-association"),
    ]

    first = await planned(picc, plan_id, FIRST_VISIT)
    recorded = await picc.post(
        f"/advisory-plans/{plan_id}/visits/{first}/record",
        held(FIRST_VISIT, committee_members=["M-1", "M-2", "M-7"], union=UNION, commitments=[CLEAR_EXIT]),
    )
    assert recorded.status_code == 200, recorded.text
    visit = recorded.json()
    assert (visit["status"], visit["held_on"], visit["advisor"], visit["commitments_made"]) == (
        "held",
        str(FIRST_VISIT),
        "Pich Sopheap",
        ["CM-1"],
    )
    assert visit["participation"] == {
        "management": 1,
        "committee": {"workers": {"female": 2, "male": 0}, "management": {"female": 0, "male": 1}},
        "union": 1,
    }

    second = await planned(picc, plan_id, SECOND_VISIT)
    followed = await picc.post(
        f"/advisory-plans/{plan_id}/visits/{second}/record",
        held(
            SECOND_VISIT,
            remote=True,
            follow_ups=[{"commitment_id": "CM-1", "status": "done", "note": "exit clear, floor marked in yellow"}],
        ),
    )
    assert followed.status_code == 200, followed.text
    assert followed.json()["follow_ups"] == ["CM-1"] and followed.json()["remote"] is True

    # The factory reads its own plan and visits, and gives its word on the records.
    mine = await picc.committee.get(f"/advisory-plans/{plan_id}", headers=own)
    assert mine.status_code == 200 and mine.headers["etag"] == f'"{mine.json()["version"]}"'
    [commitment] = mine.json()["commitments"]
    assert (commitment["status"], commitment["follow_ups"][0]["visit_id"]) == ("done", second)
    confirmed = await picc.post(
        f"/advisory-plans/{plan_id}/visits/{first}/confirmation", {"comment": "the new store is being built"}, own
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmation"]["comment"] == "the new store is being built"
    commented = await picc.post(
        f"/advisory-plans/{plan_id}/visits/{second}/comments", {"comment": "we would rather meet on site"}, own
    )
    assert commented.status_code == 201 and commented.json()["comments"][0]["comment"] == "we would rather meet on site"
    listed = await picc.committee.get(f"/factories/{factory_id}/advisory-plans", headers=own)
    assert [p["id"] for p in listed.json()] == [plan_id]
    assert (await picc.committee.get(f"/advisory-plans/{plan_id}/visits/{first}", headers=own)).json()["confirmation"][
        "on"
    ]
    history = (await picc.committee.get(f"/advisory-plans/{plan_id}/history", headers=own)).json()
    assert history[-1]["actor"] == f"factory:{factory_id}:dev-user"
    topics = (await picc.committee.get("/advisory-topics", headers=own)).json()
    assert {t["cluster"] for t in topics} >= {"osh", "freedom-of-association"}


async def test_the_plan_keeps_to_the_package_the_factory_bought_unless_the_programme_approves(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()

    beyond = await picc.post("/advisory-plans", plan_for(factory_id, visits=6))
    assert beyond.status_code == 409
    assert beyond.json()["detail"] == (
        "the core package includes 4 advisory visits a cycle; promising 6 needs the programme's approval "
        "(extra_visits_approval)"
    )
    plan = await agreed(picc, factory_id, visits=6, extra_visits_approval=APPROVAL)
    assert plan["extra_visits_approval"] == APPROVAL

    revised = await picc.committee.put(
        f"/advisory-plans/{plan['id']}/visits-promised",
        json={"visits": 8, "reason": "overtime planning too"},
        headers=PROGRAMME,
    )
    assert revised.status_code == 409 and "promising 8 needs the programme's approval" in revised.json()["detail"]

    response = await picc.registry.post("/factories", json=MEKONG | {"confirmed_new": True}, headers=PROGRAMME)
    mekong = response.json()["id"]
    await picc.registry.post(f"/factories/{mekong}/enrollment/apply", headers=PROGRAMME | if_match(1))
    await eventually(lambda: picc.knows(mekong, "applied"), what="Mekong's application reaching the committee service")
    applied = await picc.post("/advisory-plans", plan_for(mekong))
    assert applied.status_code == 409 and applied.json()["detail"].endswith(
        "is applied; advisory plans are made for enrolled factories"
    )
    body = {"service_package": "assessment-only", "enrolled_on": str(ESTABLISHED)}
    await picc.registry.post(f"/factories/{mekong}/enrollment/enroll", json=body, headers=PROGRAMME | if_match(2))
    await eventually(lambda: picc.knows(mekong, "enrolled"), what="Mekong's enrollment reaching the committee service")
    assessment_only = await picc.post("/advisory-plans", plan_for(mekong, visits=1))
    assert assessment_only.status_code == 409 and "the assessment-only package includes 0" in assessment_only.text
    unknown = await picc.post("/advisory-plans", plan_for("KH-2026-9999-1"))
    assert unknown.status_code == 404 and "no factory KH-2026-9999-1 is known here" in unknown.json()["detail"]


async def test_impossible_steps_answer_409_and_bad_input_422_naming_the_field(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    plan_id = await advised(picc, factory_id)
    visits = f"/advisory-plans/{plan_id}/visits"

    def field_of(response: Any) -> list[Any]:
        assert response.status_code == 422, response.text
        return response.json()["detail"][0]["loc"]

    assert field_of(await picc.post("/advisory-plans", plan_for(factory_id, ends_on=str(ESTABLISHED)))) == [
        "body",
        "ends_on",
    ]
    bad_topic = plan_for(factory_id, priorities=[plan_for("")["priorities"][0] | {"topic": "osh"}])
    assert field_of(await picc.post("/advisory-plans", bad_topic)) == ["body", "priorities", 0, "topic"]
    assert field_of(await picc.post(f"{visits}/V-1/record", held(TODAY, topics=[]))) == ["body", "topics"]

    again = await picc.post("/advisory-plans", plan_for(factory_id))
    assert again.status_code == 409 and f"the cycle of {plan_id} runs until {CYCLE_ENDS}" in again.json()["detail"]

    late_plan = await picc.post(visits, {"planned_for": str(TODAY), "planned_on": str(TODAY)})
    second = late_plan.json()["visit_id"]
    early = await picc.post(f"{visits}/{second}/record", held(TODAY - dt.timedelta(days=1)))
    assert early.status_code == 409 and f"was planned on {TODAY}; it cannot be held before" in early.json()["detail"]
    unplanned = await picc.post(f"{visits}/V-9/record", held(TODAY))
    assert unplanned.status_code == 404 and "has no visit V-9" in unplanned.json()["detail"]

    no_note = held(TODAY, follow_ups=[{"commitment_id": "CM-1", "status": "done"}])
    closed = await picc.post(f"{visits}/{second}/record", no_note)
    assert closed.status_code == 422
    assert closed.json()["detail"] == "follow_ups[0].note: commitment CM-1 cannot be closed (done) without a note"

    version = (await picc.committee.get(f"/advisory-plans/{plan_id}", headers=PROGRAMME)).headers["etag"]
    cancelled = await picc.post(
        f"{visits}/{second}/cancellation",
        {"cancelled_on": str(TODAY), "reason": "the advisor was ill"},
        PROGRAMME | {"If-Match": version},
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    stale = await picc.post(
        visits, {"planned_for": str(TODAY + dt.timedelta(days=7))}, PROGRAMME | {"If-Match": version}
    )
    assert stale.status_code == 409 and "has changed since version" in stale.json()["detail"]
    third = await planned(picc, plan_id, TODAY + dt.timedelta(days=7), planned_on=TODAY)
    missed = await picc.post(
        f"{visits}/{third}/missed", {"missed_on": str(TODAY), "reason": "the factory gate was closed to the advisor"}
    )
    assert (
        missed.status_code == 200 and missed.json()["called_off_reason"] == "the factory gate was closed to the advisor"
    )
    own = bearer(Audience.FACTORY, factory_id)
    refused = await picc.post(f"{visits}/{third}/confirmation", {}, own)
    assert refused.status_code == 409 and "only the record of a visit held is confirmed" in refused.json()["detail"]
    assert (await picc.post(f"{visits}/{third}/comments", {"comment": "nobody told the guard"}, own)).status_code == 201


async def test_programme_staff_run_advisory_the_factory_answers_for_itself_and_nobody_else_reads_it(
    picc: Picc,
) -> None:
    angkor = await picc.enrolled_factory()
    mekong = await picc.enrolled_factory(MEKONG)
    plan_id = await advised(picc, angkor)
    path = f"/advisory-plans/{plan_id}"
    own, other = bearer(Audience.FACTORY, angkor), bearer(Audience.FACTORY, mekong)
    brand, government = bearer(Audience.BRAND, "BR-0001"), bearer(Audience.GOVERNMENT, "KH")

    # The factory reads and answers, but runs nothing of its advisory.
    assert (await picc.post("/advisory-plans", plan_for(mekong), own)).status_code == 403
    assert (await picc.post(f"{path}/visits", {"planned_for": str(TODAY)}, own)).status_code == 403
    assert (await picc.post(f"{path}/visits/V-1/record", held(TODAY), own)).status_code == 403
    assert (
        await picc.committee.put(
            f"{path}/advisor", json={"advisor": "x", "assigned_on": str(TODAY), "reason": "x"}, headers=own
        )
    ).status_code == 403
    # Programme staff cannot speak for the factory.
    assert (await picc.post(f"{path}/visits/V-1/confirmation", {})).status_code == 403
    assert (await picc.post(f"{path}/visits/V-1/comments", {"comment": "fine"})).status_code == 403

    # Brands and governments read nothing of it, and cannot even tell a plan that exists from one
    # that does not; to another factory it answers exactly as a plan that does not exist.
    for intruder in (brand, government):
        for read in (path, f"{path}/visits/V-1", f"{path}/history", f"/factories/{angkor}/advisory-plans"):
            assert (await picc.committee.get(read, headers=intruder)).status_code == 403, read
        assert (await picc.post(f"{path}/visits/V-1/comments", {"comment": "x"}, intruder)).status_code == 403
    for hidden in (
        *[await picc.committee.get(read, headers=other) for read in (path, f"{path}/visits/V-1", f"{path}/history")],
        await picc.post(f"{path}/visits/V-1/comments", {"comment": "x"}, other),
    ):
        assert hidden.status_code == 404 and hidden.json() == {"detail": f"no advisory plan {plan_id}"}
    assert (await picc.committee.get(f"/factories/{angkor}/advisory-plans", headers=other)).status_code == 404
    for outsider in (brand, government):
        missing = await picc.committee.get(f"/advisory-plans/{mekong}-AP7", headers=outsider)
        assert missing.status_code == 403
    assert (await picc.committee.get(path)).status_code == 401
    assert (await picc.committee.get(path, headers=own)).status_code == 200


async def test_a_retried_visit_record_with_the_same_idempotency_key_changes_nothing(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    plan_id = (await agreed(picc, factory_id))["id"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await picc.post(
        f"/advisory-plans/{plan_id}/visits",
        {"planned_for": str(FIRST_VISIT), "planned_on": str(ESTABLISHED)},
        PROGRAMME | key,
    )
    retry = await picc.post(
        f"/advisory-plans/{plan_id}/visits",
        {"planned_for": str(FIRST_VISIT), "planned_on": str(ESTABLISHED)},
        PROGRAMME | key,
    )
    assert first.status_code == retry.status_code == 201 and retry.json() == first.json()

    version = first.headers["etag"]
    record_key = {"Idempotency-Key": "angkor-visit-1-record", "If-Match": version}
    body = held(FIRST_VISIT, commitments=[CLEAR_EXIT])
    once = await picc.post(f"/advisory-plans/{plan_id}/visits/V-1/record", body, PROGRAMME | record_key)
    twice = await picc.post(f"/advisory-plans/{plan_id}/visits/V-1/record", body, PROGRAMME | record_key)
    other = await picc.post(
        f"/advisory-plans/{plan_id}/visits/V-1/record", body | {"notes": "Other."}, PROGRAMME | record_key
    )

    assert once.status_code == twice.status_code == 200, twice.text
    assert twice.json() == once.json()
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    plan = (await picc.committee.get(f"/advisory-plans/{plan_id}", headers=PROGRAMME)).json()
    assert [c["commitment_id"] for c in plan["commitments"]] == ["CM-1"]

    plan_key = {"Idempotency-Key": "angkor-plan-2027"}
    next_cycle = plan_for(
        factory_id, starts_on=str(CYCLE_ENDS + dt.timedelta(days=1)), ends_on=str(CYCLE_ENDS + dt.timedelta(days=365))
    )
    made = await picc.post("/advisory-plans", next_cycle, PROGRAMME | plan_key)
    remade = await picc.post("/advisory-plans", next_cycle, PROGRAMME | plan_key)
    assert made.status_code == remade.status_code == 201 and remade.json()["id"] == f"{factory_id}-AP2"
    reused = await picc.post("/advisory-plans", next_cycle | {"visits": 3}, PROGRAMME | plan_key)
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


async def test_the_advisory_events_reach_kafka_keyed_by_factory(picc: Picc) -> None:
    factory_id = await picc.enrolled_factory()
    plan_id = await advised(picc, factory_id)
    await picc.post(f"/advisory-plans/{plan_id}/visits/V-1/confirmation", {}, bearer(Audience.FACTORY, factory_id))
    topic = f"{picc.topic_prefix}committee.events"
    expected = [
        "org.betterwork.advisory.plan-agreed.v1",
        "org.betterwork.advisory.visit-planned.v1",
        "org.betterwork.advisory.visit-held.v1",
        "org.betterwork.advisory.commitment-made.v1",
        "org.betterwork.advisory.visit-record-confirmed.v1",
    ]

    async def published() -> list[tuple[bytes | None, Envelope]]:
        return [(r.key, Envelope.from_kafka(r.value, r.headers)) for r in await read_topic(picc.kafka, topic)]

    async def all_published() -> bool:
        return len(await published()) == len(expected)

    await eventually(all_published, what="the plan's events on Kafka")
    records = sorted(await published(), key=lambda r: r[1].streamversion)
    assert [envelope.type for _, envelope in records] == expected
    assert {key for key, _ in records} == {factory_id.encode()}
    assert {(e.subject, e.factoryid, e.source) for _, e in records} == {
        (f"advisory-plan-{plan_id}", factory_id, "/betterwork/committee")
    }
    agreed = records[0][1].contract()
    assert agreed.model_dump()["country"] == "KH" and agreed.model_dump()["priorities"][0]["topic"] == (
        "osh.fire-and-emergency-preparedness"
    )
    assert records[-1][1].actor == f"factory:{factory_id}:dev-user"


async def test_country_managers_sign_off_plans_and_assessors_run_the_visits_in_their_own_country(
    picc: Picc,
) -> None:
    angkor = await picc.enrolled_factory()
    assessor, manager = staff(Role.ASSESSOR), staff(Role.COUNTRY_MANAGER)
    vietnam_manager = staff(Role.COUNTRY_MANAGER, "VN")

    # Agreeing a plan is a sign-off: not an assessor's, and not another country team's.
    assert (await picc.post("/advisory-plans", plan_for(angkor), assessor)).status_code == 403
    assert (await picc.post("/advisory-plans", plan_for(angkor), vietnam_manager)).status_code == 403
    agreed_plan = await picc.post("/advisory-plans", plan_for(angkor), manager)
    assert agreed_plan.status_code == 201, agreed_plan.text
    path = f"/advisory-plans/{agreed_plan.json()['id']}"
    advisor = {"advisor": "Heng Vanna", "assigned_on": str(TODAY), "reason": "Pich Sopheap moved to Siem Reap"}
    assert (await picc.committee.put(f"{path}/advisor", json=advisor, headers=assessor)).status_code == 403
    revised = {"visits": 3, "reason": "budget", "extra_visits_approval": APPROVAL}
    assert (await picc.committee.put(f"{path}/visits-promised", json=revised, headers=assessor)).status_code == 403

    # The assessor runs the visits; a quality reviewer and another country's team do not.
    visit = {"planned_for": str(FIRST_VISIT), "planned_on": str(ESTABLISHED)}
    for attacker in (staff(Role.QUALITY_REVIEWER), vietnam_manager):
        assert (await picc.post(f"{path}/visits", visit, attacker)).status_code == 403
    planned_visit = await picc.post(f"{path}/visits", visit, assessor)
    assert planned_visit.status_code == 201, planned_visit.text
    assert (await picc.post(f"{path}/visits/V-1/record", held(FIRST_VISIT), vietnam_manager)).status_code == 403
    assert (await picc.post(f"{path}/visits/V-1/record", held(FIRST_VISIT), assessor)).status_code == 200
    assert (await picc.committee.get(path, headers=vietnam_manager)).status_code == 403
    plan = (await picc.committee.get(path, headers=staff(Role.QUALITY_REVIEWER))).json()
    assert plan["advisor"] == "Pich Sopheap" and [v["status"] for v in plan["visits"]] == ["held"]
