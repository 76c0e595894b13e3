"""Roles and country teams inside the programme, tried as each of them would: an assessor assesses
but never approves, a quality reviewer reviews but never assesses, whoever recorded a finding never
approves it (whatever their role), only a country manager cancels and escalates, and a country team
never touches another country's factories. Over HTTP, against the real PostgreSQL and Kafka."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from assessment.views import FactoryAssessmentView
from betterwork_events.auth import Audience, Role, mint

from tests.e2e import test_assessment
from tests.e2e.conftest import PROGRAMME, SETTINGS, bearer
from tests.e2e.test_assessment import TODAY, TOOL, Services, question
from tests.e2e.test_surveys import ANSWERS, SOKHA, WELLBEING
from tests.support import eventually

services = test_assessment.services  # the registry, assessment and gateway fixture of the assessment tests


def staff(country: str, role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SETTINGS, Audience.PROGRAMME, country, subject=subject, role=role)}"}


KH_ASSESSOR = staff("KH", Role.ASSESSOR, "assessor-sokha")
KH_REVIEWER = staff("KH", Role.QUALITY_REVIEWER, "reviewer-chenda")
KH_MANAGER = staff("KH", Role.COUNTRY_MANAGER, "manager-vanna")
VN_ASSESSOR = staff("VN", Role.ASSESSOR, "assessor-minh")
VN_MANAGER = staff("VN", Role.COUNTRY_MANAGER, "manager-linh")
SAIGON_STITCH = {
    "name": "Saigon Stitch Garment Co., Ltd.",
    "country": "VN",
    "address": "Lot C5, My Phuoc 2 Industrial Park, Ben Cat, Binh Duong",
    "confirmed_new": True,
}


def etag(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"If-Match": response.headers["etag"]}


async def scheduled_by(services: Services, headers: dict[str, str], factory_id: str) -> httpx.Response:
    body = {"factory_id": factory_id, "planned_date": str(TODAY + dt.timedelta(days=9)), "assessors": ["sokha"]}
    return await services.assessment.post("/assessments", json=body, headers=headers)


async def known(services: Services, factory_id: str) -> None:
    """Wait until the assessment service has learnt of the factory (a refusal for lack of a role
    comes before any lookup, so it would not tell)."""

    async def learnt() -> bool:
        response = await scheduled_by(services, VN_MANAGER, factory_id)  # refused, for its country, once known
        return response.status_code != 404

    await eventually(learnt, what="the assessment service learning of the factory")


async def test_each_role_takes_its_own_steps_of_an_assessment_and_no_other(services: Services) -> None:
    a = services.assessment
    angkor = await services.enrolled_factory()
    await known(services, angkor)
    path = "/assessments"

    # Before any lookup: a reviewer does not schedule; another country's team does not either.
    assert (await scheduled_by(services, KH_REVIEWER, angkor)).status_code == 403
    refused = await scheduled_by(services, VN_ASSESSOR, angkor)
    assert refused.status_code == 403 and "only its country team" in refused.json()["detail"]
    created = await scheduled_by(services, KH_ASSESSOR, angkor)
    assert created.status_code == 201, created.text
    assessment = created.json()
    visit = f"{path}/{assessment['id']}"
    listed = (await a.get(path, headers=KH_MANAGER)).json()
    assert [x["id"] for x in listed] == [assessment["id"]]  # the refusals wrote nothing

    # Programme staff read every country's assessments; they change only their own country's.
    assert (await a.get(visit, headers=VN_MANAGER)).json()["planned_date"] == assessment["planned_date"]
    for outsider in (VN_MANAGER, VN_ASSESSOR):
        foreign = await a.post(f"{visit}/start", json={"started_on": str(TODAY)}, headers=outsider)
        assert foreign.status_code == 403 and "KH" in foreign.json()["detail"]
    assert (await a.post(f"{visit}/cancel", json={"reason": "x"}, headers=KH_ASSESSOR)).status_code == 403
    assert (await a.post(f"{visit}/start", json={"started_on": str(TODAY)}, headers=KH_REVIEWER)).status_code == 403
    started = await a.post(f"{visit}/start", json={"started_on": str(TODAY)}, headers=KH_ASSESSOR)
    version = etag(started)

    wage = question(cluster="compensation")
    findings = [
        {"question_id": q.id, "result": "non-compliant" if q.id == wage else "compliant"} for q in TOOL.questions
    ]
    as_reviewer = await a.post(f"{visit}/findings", json={"findings": findings}, headers=KH_REVIEWER | version)
    assert as_reviewer.status_code == 403
    recorded = await a.post(f"{visit}/findings", json={"findings": findings}, headers=KH_ASSESSOR | version)
    # The country manager amends one finding: now they too recorded findings of this assessment.
    amended = await a.put(
        f"{visit}/findings/{wage}",
        json={"result": "non-compliant", "evidence": "payslips of line 14"},
        headers=KH_MANAGER | etag(recorded),
    )
    submitted = await a.post(f"{visit}/submit", headers=KH_ASSESSOR | etag(amended))
    assert submitted.json()["status"] == "submitted"

    # Four eyes: neither whoever recorded a finding (the events' actor says who) nor an assessor approves.
    assert (await a.post(f"{visit}/approve", headers=KH_ASSESSOR)).status_code == 403
    by_recorder = await a.post(f"{visit}/approve", headers=KH_MANAGER)
    assert by_recorder.status_code == 409 and "you recorded findings" in by_recorder.json()["detail"]
    assert (await a.post(f"{visit}/approve", headers=VN_MANAGER)).status_code == 403
    assert (await a.post(f"{visit}/publish", json={"published_on": str(TODAY)}, headers=KH_ASSESSOR)).status_code == 403
    approved = await a.post(f"{visit}/approve", headers=KH_REVIEWER)
    assert approved.json()["status"] == "approved", approved.text
    published = await a.post(f"{visit}/publish", json={"published_on": str(TODAY)}, headers=KH_REVIEWER)
    assert published.json()["status"] == "published", published.text

    # The factory's answer is its own model's fields, exactly: nothing confidential, not even empty.
    report = (await a.get(visit, headers=bearer(Audience.FACTORY, angkor))).json()
    assert set(report) == set(FactoryAssessmentView.model_fields)
    # Its improvement plan: the factory and its country's staff, never another country's.
    remediated = await a.post(f"{visit}/findings/{wage}/remediated", json={"note": "paid"}, headers=VN_MANAGER)
    assert remediated.status_code == 403
    remediated = await a.post(
        f"{visit}/findings/{wage}/remediated", json={"note": "paid"}, headers=bearer(Audience.FACTORY, angkor)
    )
    assert remediated.status_code == 200
    assert (await a.post(f"{visit}/findings/{wage}/verify", headers=VN_ASSESSOR)).status_code == 403
    assert (await a.post(f"{visit}/findings/{wage}/verify", headers=KH_ASSESSOR)).status_code == 200


async def test_only_the_country_manager_acknowledges_and_escalates_a_zero_tolerance_issue(
    services: Services,
) -> None:
    a = services.assessment
    angkor = await services.enrolled_factory()
    await known(services, angkor)
    visit = f"/assessments/{(await scheduled_by(services, KH_ASSESSOR, angkor)).json()['id']}"
    version = etag(await a.post(f"{visit}/start", json={"started_on": str(TODAY)}, headers=KH_ASSESSOR))
    child_labour = question(issue="child-labour")
    raised = await a.put(
        f"{visit}/findings/{child_labour}", json={"result": "non-compliant"}, headers=KH_ASSESSOR | version
    )
    assert raised.status_code == 200, raised.text
    case = f"{visit}/zero-tolerance/{child_labour}"

    for refused in (KH_ASSESSOR, KH_REVIEWER, VN_MANAGER):
        assert (await a.post(f"{case}/acknowledgement", headers=refused)).status_code == 403
    assert (await a.get(f"{visit}/zero-tolerance", headers=KH_ASSESSOR)).json()[0]["status"] == "open"
    acknowledged = await a.post(f"{case}/acknowledgement", headers=KH_MANAGER)
    assert acknowledged.json()["acknowledged_by"] == "manager-vanna", acknowledged.text
    escalation = {"escalated_to": "Ministry of Labour", "action_taken": "child removed", "escalated_on": str(TODAY)}
    for refused in (KH_ASSESSOR, VN_MANAGER):
        answer = await a.post(f"{case}/escalation", json=escalation, headers=refused | etag(acknowledged))
        assert answer.status_code == 403
    escalated = await a.post(f"{case}/escalation", json=escalation, headers=KH_MANAGER | etag(acknowledged))
    assert escalated.json()["status"] == "escalated", escalated.text

    # Cancelling is the country manager's too (the assessor who runs the visit may not).
    assert (await a.post(f"{visit}/cancel", json={"reason": "gates shut"}, headers=KH_ASSESSOR)).status_code == 403
    cancelled = await a.post(f"{visit}/cancel", json={"reason": "gates shut"}, headers=KH_MANAGER)
    assert cancelled.json()["status"] == "cancelled", cancelled.text


async def test_the_global_catalogue_is_the_administrators_and_a_round_its_country_managers(
    services: Services,
) -> None:
    a = services.assessment
    angkor = await services.enrolled_factory()
    saigon = (await services.registry.post("/factories", json=SAIGON_STITCH, headers=PROGRAMME)).json()["id"]
    await known(services, angkor)
    catalogue = "/questionnaires/worker-wellbeing/versions"
    for refused in (KH_MANAGER, KH_ASSESSOR):
        assert (await a.post(catalogue, json=WELLBEING, headers=refused)).status_code == 403
    assert (await a.post(catalogue, json=WELLBEING, headers=PROGRAMME)).status_code == 201  # the administrator

    body = {"factory_id": angkor, "questionnaire_id": "worker-wellbeing", "questionnaire_version": 1}
    body |= {"opened_on": str(TODAY)}
    for refused in (KH_ASSESSOR, VN_MANAGER):
        assert (await a.post("/survey-rounds", json=body, headers=refused)).status_code == 403
    opened = await a.post("/survey-rounds", json=body, headers=KH_MANAGER)
    assert opened.status_code == 201, opened.text
    survey_round = f"/survey-rounds/{opened.json()['id']}"
    response = SOKHA | {"answers": ANSWERS}
    for refused in (KH_REVIEWER, VN_ASSESSOR):
        assert (await a.post(f"{survey_round}/worker-responses", json=response, headers=refused)).status_code == 403
    counted: dict[str, Any] = (
        await a.post(f"{survey_round}/worker-responses", json=response, headers=KH_ASSESSOR)
    ).json()
    assert counted["responses"] == 1
    assert (
        await a.post(f"{survey_round}/close", json={"closed_on": str(TODAY)}, headers=KH_ASSESSOR)
    ).status_code == 403
    closed = await a.post(f"{survey_round}/close", json={"closed_on": str(TODAY)}, headers=KH_MANAGER)
    assert closed.json()["status"] == "closed", closed.text

    # Vietnam's team opens rounds in Vietnam (the factory is not enrolled: refused for that, not for the team).
    async def refused_as_not_enrolled() -> bool:
        answer = await a.post("/survey-rounds", json=body | {"factory_id": saigon}, headers=VN_MANAGER)
        return answer.status_code == 409

    await eventually(refused_as_not_enrolled, what="the Vietnamese factory reaching the assessment service")
