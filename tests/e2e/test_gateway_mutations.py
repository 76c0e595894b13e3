"""GraphQL mutations against the real services: each is carried out by the service that owns it,
with the caller's own token, and each refusal comes back in the service's words with its code."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from betterwork_events.auth import Audience
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from deploy.local import demo
from tests import conftest as fixtures
from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME, bearer
from tests.support import serve

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
BRAND = bearer(Audience.BRAND, "BR-0001")
GOVERNMENT = bearer(Audience.GOVERNMENT, "KH")

OUTCOME = "{ id version consistencyToken }"


@dataclass
class Programme:
    """The demo programme, loaded through the services' REST APIs; mutations go through the gateway."""

    urls: demo.Urls
    loaded: demo.Loaded
    http: httpx.AsyncClient
    settings: dict[str, Any]
    gateway_db: str

    async def mutate(
        self, name: str, input: dict[str, Any], headers: dict[str, str], gateway: str | None = None
    ) -> dict[str, Any]:
        body = {"query": f"mutation ($input: {INPUTS[name]}!) {{ {name}(input: $input) {OUTCOME} }}"}
        response = await self.http.post(
            f"{gateway or self.urls.gateway}/graphql", json=body | {"variables": {"input": input}}, headers=headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def get(self, service_url: str, path: str, headers: dict[str, str] = PROGRAMME) -> Any:
        response = await self.http.get(f"{service_url}{path}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


INPUTS = {
    "registerFactory": "RegisterFactoryInput",
    "updateFactory": "UpdateFactoryInput",
    "linkBrand": "LinkBrandInput",
    "grantConsent": "ConsentInput",
    "revokeConsent": "ConsentInput",
    "scheduleAssessment": "ScheduleAssessmentInput",
    "reportImprovementProgress": "ImprovementProgressInput",
    "reportRemediation": "RemediationInput",
    "verifyRemediation": "FindingInput",
    "rejectRemediation": "RejectRemediationInput",
    "recordCommitteeMeeting": "CommitteeMeetingInput",
    "raiseCommitteeActionItem": "ActionItemInput",
    "recordTrainingAttendance": "TrainingAttendanceInput",
}


@pytest.fixture(scope="module")
async def programme(create_database, kafka: str) -> AsyncIterator[Programme]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": f"t{fixtures.RUN}-writes-{uuid.uuid4().hex[:6]}."}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    assessment = create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common))
    committee = create_committee(CommitteeSettings(database_url=await create_database("committee"), **common))
    training = create_training(TrainingSettings(database_url=await create_database("training"), **common))
    gateway_db = await create_database("gateway")
    async with (
        serve(registry) as registry_url,
        serve(assessment) as assessment_url,
        serve(committee) as committee_url,
        serve(training) as training_url,
    ):
        urls = dict(
            registry_url=registry_url,
            assessment_url=assessment_url,
            committee_url=committee_url,
            training_url=training_url,
        )
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, **urls, **common))
        async with serve(gateway) as gateway_url, httpx.AsyncClient(timeout=30) as http:
            all_urls = demo.Urls(registry_url, assessment_url, committee_url, training_url, gateway_url)
            loaded = await demo.load(all_urls, demo.Size(factories=3, cycles=1), seed=7)
            yield Programme(all_urls, loaded, http, urls | common, gateway_db)


def refused(answer: dict[str, Any]) -> tuple[str, str]:
    """The code and message of a mutation's one error (and that it changed nothing it answers)."""
    assert answer["data"] is None, answer
    [error] = answer["errors"]
    return error["extensions"]["code"], error["message"]


def outcome(answer: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in answer, answer
    result: dict[str, Any] = answer["data"][name]
    return result


# --- the factory registry ----------------------------------------------------------------------


async def test_register_and_update_a_factory(programme: Programme) -> None:
    key = str(uuid.uuid4())
    first = await programme.mutate("registerFactory", {"profile": CAMBODIAN_FACTORY, "idempotencyKey": key}, PROGRAMME)
    registered = outcome(first, "registerFactory")
    assert registered["id"].startswith("KH-") and registered["version"] == 1
    service, position = registered["consistencyToken"].split(":")
    assert service == "factory-registry" and int(position) > 0

    retry = await programme.mutate("registerFactory", {"profile": CAMBODIAN_FACTORY, "idempotencyKey": key}, PROGRAMME)
    assert outcome(retry, "registerFactory") == registered  # the same key: the first outcome, nothing new

    changes = {"factoryId": registered["id"], "changes": {"name": "Angkor Apparel"}, "expectedVersion": 1}
    updated = outcome(await programme.mutate("updateFactory", changes, PROGRAMME), "updateFactory")
    assert updated["id"] == registered["id"] and updated["version"] == 2
    assert int(updated["consistencyToken"].split(":")[1]) > int(position)
    record = await programme.get(programme.urls.registry, f"/factories/{registered['id']}")
    assert record["profile"]["name"] == "Angkor Apparel" and record["version"] == 2

    stale = await programme.mutate("updateFactory", changes | {"changes": {"name": "Angkor"}}, PROGRAMME)
    code, message = refused(stale)
    assert code == "CONFLICT" and "has changed since version 1" in message
    assert (await programme.get(programme.urls.registry, f"/factories/{registered['id']}"))["version"] == 2


async def test_registry_refusals_keep_their_code_and_words(programme: Programme) -> None:
    bad = await programme.mutate("registerFactory", {"profile": CAMBODIAN_FACTORY | {"country": "Cambodia"}}, PROGRAMME)
    code, message = refused(bad)
    assert code == "BAD_USER_INPUT" and message.startswith("country:")

    not_an_object = await programme.mutate("registerFactory", {"profile": ["Angkor"]}, PROGRAMME)
    assert refused(not_an_object)[0] == "BAD_USER_INPUT"

    by_a_brand = await programme.mutate("registerFactory", {"profile": CAMBODIAN_FACTORY}, BRAND)
    code, message = refused(by_a_brand)
    assert code == "FORBIDDEN" and "register factories" in message

    # The demo registered a factory with this profile's country and name: a likely duplicate.
    featured = await programme.get(programme.urls.registry, f"/factories/{programme.loaded.featured_factory}")
    same = {k: featured["profile"][k] for k in ("name", "country", "address")}
    duplicate = (await programme.mutate("registerFactory", {"profile": same}, PROGRAMME))["errors"][0]
    assert duplicate["extensions"]["code"] == "CONFLICT"
    assert featured["id"] in {c["factory_id"] for c in duplicate["extensions"]["problem"]["candidates"]}

    missing = await programme.mutate(
        "updateFactory", {"factoryId": "KH-2026-9999-9", "changes": {"name": "X"}, "expectedVersion": 1}, PROGRAMME
    )
    assert refused(missing)[0] == "NOT_FOUND"


async def test_link_a_brand_and_only_the_factory_grants_consent(programme: Programme) -> None:
    factories = {f: await programme.get(programme.urls.registry, f"/factories/{f}") for f in programme.loaded.factories}
    factory_id, brand_id = next(
        (f, b) for f, record in factories.items() for b in programme.loaded.brands if b not in record["brand_links"]
    )
    own = bearer(Audience.FACTORY, factory_id)

    link = {"factoryId": factory_id, "brandId": brand_id, "since": "2025-01-15"}
    link["expectedVersion"] = factories[factory_id]["version"]
    assert refused(await programme.mutate("linkBrand", link, own))[0] == "FORBIDDEN"
    linked = outcome(await programme.mutate("linkBrand", link, PROGRAMME), "linkBrand")
    assert linked["id"] == factory_id and linked["consistencyToken"].startswith("factory-registry:")

    consent = {"factoryId": factory_id, "brandId": brand_id, "expectedVersion": linked["version"]}
    for caller in (PROGRAMME, bearer(Audience.BRAND, brand_id)):
        code, message = refused(await programme.mutate("grantConsent", consent, caller))
        assert code == "FORBIDDEN" and message == "only the factory's own users may consent to share its reports"
    # Another factory's users: this factory does not exist for them.
    other = bearer(Audience.FACTORY, next(iter(factories.keys() - {factory_id})))
    code, message = refused(await programme.mutate("grantConsent", consent, other))
    assert code == "NOT_FOUND" and message == f"no factory {factory_id}"
    granted = outcome(await programme.mutate("grantConsent", consent, own), "grantConsent")
    assert granted["version"] == linked["version"] + 1
    record = await programme.get(programme.urls.registry, f"/factories/{factory_id}")
    assert brand_id in record["consenting_brands"]

    consent["expectedVersion"] = granted["version"]
    assert refused(await programme.mutate("revokeConsent", consent, bearer(Audience.BRAND, brand_id)))[0] == "FORBIDDEN"
    outcome(await programme.mutate("revokeConsent", consent, own), "revokeConsent")
    record = await programme.get(programme.urls.registry, f"/factories/{factory_id}")
    assert brand_id not in record["consenting_brands"]

    unknown = await programme.mutate("linkBrand", link | {"brandId": "BR-9999"}, PROGRAMME)
    assert refused(unknown)[0] == "NOT_FOUND"
    malformed = await programme.mutate("linkBrand", link | {"brandId": "Northwind"}, PROGRAMME)
    code, message = refused(malformed)
    assert code == "BAD_USER_INPUT" and message.startswith("brand_id:")


# --- assessments and improvement plans ----------------------------------------------------------


async def test_only_programme_staff_schedule_an_assessment(programme: Programme) -> None:
    factory_id = programme.loaded.featured_factory
    visit = {"factoryId": factory_id, "plannedDate": str(YESTERDAY + dt.timedelta(days=30)), "assessors": ["Sokha"]}
    for caller in (bearer(Audience.FACTORY, factory_id), BRAND, GOVERNMENT):
        code, message = refused(await programme.mutate("scheduleAssessment", visit, caller))
        assert code == "FORBIDDEN" and "schedule assessments" in message

    in_the_past = await programme.mutate("scheduleAssessment", visit | {"plannedDate": "2020-01-01"}, PROGRAMME)
    assert refused(in_the_past) == ("CONFLICT", "the planned date 2020-01-01 has passed")

    scheduled = outcome(await programme.mutate("scheduleAssessment", visit, PROGRAMME), "scheduleAssessment")
    assessment = await programme.get(programme.urls.assessment, f"/assessments/{scheduled['id']}")
    assert assessment["factory_id"] == factory_id and assessment["status"] == "scheduled"
    assert scheduled["version"] == assessment["version"] and scheduled["consistencyToken"].startswith("assessment:")

    no_assessors = await programme.mutate("scheduleAssessment", visit | {"assessors": []}, PROGRAMME)
    code, message = refused(no_assessors)
    assert code == "BAD_USER_INPUT" and message.startswith("assessors:")


async def _open_work(programme: Programme) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """A published report with an open improvement action and open findings, from the demo."""
    for assessment_id in programme.loaded.assessments:
        a = await programme.get(programme.urls.assessment, f"/assessments/{assessment_id}")
        actions = [x for x in a["improvement_actions"] if not x["done"]]
        open_findings = [
            f
            for f in a["findings"]
            if f["result"] == "non-compliant" and f["remediation"] == "open" and not f["rejection"]
        ]
        if actions and len(open_findings) >= 3:
            return a, actions[0], open_findings
    raise AssertionError("the demo has no report with open work")


async def test_the_factory_reports_progress_and_remediation_and_the_programme_verifies(programme: Programme) -> None:
    a, action, findings = await _open_work(programme)
    own = bearer(Audience.FACTORY, a["factory_id"])
    other = bearer(Audience.FACTORY, next(f for f in programme.loaded.factories if f != a["factory_id"]))

    progress = {"assessmentId": a["id"], "actionId": action["id"], "note": "Exit doors rehung to open outward"}
    elsewhere = await programme.mutate("reportImprovementProgress", progress, other)
    assert refused(elsewhere)[0] == "NOT_FOUND"  # another factory's report: as if it did not exist
    reported = outcome(await programme.mutate("reportImprovementProgress", progress, own), "reportImprovementProgress")
    assert reported["id"] == a["id"] and reported["version"] == a["version"] + 1
    unknown = await programme.mutate("reportImprovementProgress", progress | {"actionId": "no-such-action"}, own)
    assert refused(unknown) == ("CONFLICT", "there is no improvement action no-such-action in this assessment")

    verified, rejected, unreported = (f["question_id"] for f in findings[:3])
    for q in (verified, rejected):
        remedy = {"assessmentId": a["id"], "questionId": q, "note": "Put right; see the photographs"}
        outcome(await programme.mutate("reportRemediation", remedy, own), "reportRemediation")

    finding = {"assessmentId": a["id"], "questionId": verified}
    code, message = refused(await programme.mutate("verifyRemediation", finding, own))
    assert code == "FORBIDDEN" and "verify remediation" in message
    outcome(await programme.mutate("verifyRemediation", finding, PROGRAMME), "verifyRemediation")
    reason = "Workers interviewed on the follow-up visit said nothing has changed"
    reject = {"assessmentId": a["id"], "questionId": rejected, "reason": reason}
    assert refused(await programme.mutate("rejectRemediation", reject, own))[0] == "FORBIDDEN"
    outcome(await programme.mutate("rejectRemediation", reject, PROGRAMME), "rejectRemediation")
    not_reported = await programme.mutate("verifyRemediation", finding | {"questionId": unreported}, PROGRAMME)
    assert refused(not_reported)[0] == "CONFLICT"

    after = {
        f["question_id"]: f
        for f in (await programme.get(programme.urls.assessment, f"/assessments/{a['id']}"))["findings"]
    }
    assert after[verified]["remediation"] == "verified"
    assert after[rejected]["remediation"] == "open" and after[rejected]["rejection"] == reason
    assert after[unreported]["remediation"] == "open"
    missing = await programme.mutate(
        "verifyRemediation", {"assessmentId": str(uuid.uuid4()), "questionId": verified}, PROGRAMME
    )
    assert refused(missing)[0] == "NOT_FOUND"


# --- committees and training ---------------------------------------------------------------------


async def test_record_a_committee_meeting_and_an_action_item(programme: Programme) -> None:
    committee = await programme.get(programme.urls.committee, f"/committees/{programme.loaded.committees[0]}")
    sitting = [
        m["member_id"] for m in committee["members"] if m["left_on"] is None and m["term_starts_on"] <= str(YESTERDAY)
    ]
    meeting = {
        "committeeId": committee["id"],
        "heldOn": str(YESTERDAY),
        "attendees": sitting,
        "agenda": [{"title": "Blocked emergency exit on the cutting floor"}],
        "minutes": "The committee walked the cutting floor and agreed to clear the exit by Friday.",
        "decisions": ["Clear the exit by Friday"],
        "idempotencyKey": str(uuid.uuid4()),
    }
    for caller in (BRAND, GOVERNMENT):
        assert refused(await programme.mutate("recordCommitteeMeeting", meeting, caller))[0] == "FORBIDDEN"
    # To another factory the committee does not exist: it answers as one that does not.
    other_factory = bearer(
        Audience.FACTORY, next(f for f in programme.loaded.factories if f != committee["factory_id"])
    )
    assert refused(await programme.mutate("recordCommitteeMeeting", meeting, other_factory))[0] == "NOT_FOUND"
    own = bearer(Audience.FACTORY, committee["factory_id"])
    recorded = outcome(await programme.mutate("recordCommitteeMeeting", meeting, own), "recordCommitteeMeeting")
    assert recorded["version"] == committee["version"] + 1 and recorded["consistencyToken"].startswith("committee:")
    again = outcome(await programme.mutate("recordCommitteeMeeting", meeting, own), "recordCommitteeMeeting")
    assert again["id"] == recorded["id"]  # the same idempotency key: the same meeting, recorded once

    item = {
        "committeeId": committee["id"],
        "meetingId": recorded["id"],
        "description": "Clear the fabric rolls from the stairway",
        "owner": sitting[0],
        "dueOn": str(YESTERDAY + dt.timedelta(days=7)),
        "expectedVersion": recorded["version"],
    }
    raised = outcome(await programme.mutate("raiseCommitteeActionItem", item, own), "raiseCommitteeActionItem")
    assert raised["version"] == recorded["version"] + 1
    stale = await programme.mutate("raiseCommitteeActionItem", item, own)
    assert refused(stale)[0] == "CONFLICT"

    after = await programme.get(programme.urls.committee, f"/committees/{committee['id']}")
    [held] = [m for m in after["meetings"] if m["meeting_id"] == recorded["id"]]
    assert held["attendees"] == sitting and held["held_on"] == str(YESTERDAY)
    assert "Clear the fabric rolls from the stairway" in {i["description"] for i in held["action_items"]}

    stranger = await programme.mutate(
        "recordCommitteeMeeting", meeting | {"attendees": ["M-999"], "idempotencyKey": None}, own
    )
    assert refused(stranger) == ("CONFLICT", f"M-999 is not a member of committee {committee['id']}, so cannot attend")
    unknown = await programme.mutate(
        "recordCommitteeMeeting", meeting | {"committeeId": "KH-2026-9999-9-C1"}, PROGRAMME
    )
    assert refused(unknown)[0] == "NOT_FOUND"


async def test_record_training_attendance(programme: Programme) -> None:
    factory_id = next(f for f, country in programme.loaded.factories.items() if country == "VN")
    days = [str(YESTERDAY), str(YESTERDAY + dt.timedelta(days=7))]
    session = {"course": "SST", "factory_ids": [factory_id], "days": days, "venue": "The factory's training room"}
    created = await programme.http.post(
        f"{programme.urls.training}/sessions", json=session | {"trainer": "Nguyen Thi Lan"}, headers=PROGRAMME
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    for version, number in enumerate(("SV-001", "SV-002"), start=1):
        participant = {"participant_id": number, "factory_id": factory_id, "role": "supervisor", "sex": "female"}
        registered = await programme.http.post(
            f"{programme.urls.training}/sessions/{session_id}/participants",
            json=participant,
            headers=PROGRAMME | {"If-Match": f'"{version}"'},
        )
        assert registered.status_code == 201, registered.text

    attendance = {"sessionId": session_id, "day": days[0], "present": ["SV-001"], "expectedVersion": 3}
    for caller in (BRAND, GOVERNMENT, bearer(Audience.FACTORY, factory_id)):
        assert refused(await programme.mutate("recordTrainingAttendance", attendance, caller))[0] == "FORBIDDEN"
    recorded = outcome(
        await programme.mutate("recordTrainingAttendance", attendance, PROGRAMME), "recordTrainingAttendance"
    )
    assert recorded["id"] == session_id and recorded["consistencyToken"].startswith("training:")
    after = await programme.get(programme.urls.training, f"/sessions/{session_id}")
    assert after["attendance"] == {days[0]: ["SV-001"]}

    to_come = await programme.mutate(
        "recordTrainingAttendance", attendance | {"day": days[1], "expectedVersion": 4}, PROGRAMME
    )
    code, message = refused(to_come)
    assert code == "CONFLICT" and "still to come" in message
    stale = await programme.mutate("recordTrainingAttendance", attendance | {"expectedVersion": 1}, PROGRAMME)
    assert refused(stale)[0] == "CONFLICT"
    unknown = await programme.mutate(
        "recordTrainingAttendance", attendance | {"sessionId": "TS-NOSUCHTHING"}, PROGRAMME
    )
    assert refused(unknown)[0] == "NOT_FOUND"


# --- a service that does not answer --------------------------------------------------------------


async def test_a_service_that_is_down_is_service_unavailable_and_the_others_still_work(programme: Programme) -> None:
    with_one_down = programme.settings | {"assessment_url": "http://127.0.0.1:9", "run_background_tasks": False}
    gateway = create_gateway(GatewaySettings(database_url=programme.gateway_db, **with_one_down))
    async with serve(gateway) as url:
        visit = {"factoryId": programme.loaded.featured_factory, "plannedDate": "2030-01-01", "assessors": ["Sokha"]}
        down = await programme.mutate("scheduleAssessment", visit, PROGRAMME, gateway=url)
        code, message = refused(down)
        assert code == "SERVICE_UNAVAILABLE" and "the assessment service is unavailable" in message
        featured = await programme.get(programme.urls.registry, f"/factories/{programme.loaded.featured_factory}")
        changes = {
            "factoryId": featured["id"],
            "changes": {"local_name": "អង្គរ"},
            "expectedVersion": featured["version"],
        }
        outcome(await programme.mutate("updateFactory", changes, PROGRAMME, gateway=url), "updateFactory")
