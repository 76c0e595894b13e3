"""Assessments over HTTP: the registry enrolls a factory, the assessment service learns it from
Kafka, and an unannounced assessment runs from schedule to verified remediation."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from assessment.tool import tool
from betterwork_events.auth import Audience
from betterwork_events.envelope import Envelope
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

from tests.e2e.conftest import PROGRAMME, bearer
from tests.support import eventually, if_match, read_topic, serve

TOOL = tool("global-1").for_country("KH")
TODAY = dt.datetime.now(dt.UTC).date()
REVIEWER = bearer(Audience.PROGRAMME)  # subject dev-user: not one of the assessors below
ASSESSORS = ["assessor-sokha", "assessor-dara"]


@dataclass
class Services:
    registry: httpx.AsyncClient
    assessment: httpx.AsyncClient
    gateway: httpx.AsyncClient
    kafka: str
    topic_prefix: str

    async def enrolled_factory(self, name: str = "Angkor Apparel Co., Ltd.", enroll: bool = True) -> str:
        body = {"name": name, "country": "KH", "address": "National Road 4, Phnom Penh", "confirmed_new": True}
        factory_id = (await self.registry.post("/factories", json=body, headers=PROGRAMME)).json()["id"]
        await self.registry.post(f"/factories/{factory_id}/enrollment/apply", headers=PROGRAMME | if_match(1))
        if enroll:
            enrolled = {"service_package": "core", "enrolled_on": "2026-01-05"}
            await self.registry.post(
                f"/factories/{factory_id}/enrollment/enroll", json=enrolled, headers=PROGRAMME | if_match(2)
            )
        return factory_id

    async def schedule(self, factory_id: str) -> httpx.Response:
        body = {"factory_id": factory_id, "planned_date": str(TODAY + dt.timedelta(days=9)), "assessors": ASSESSORS}
        return await self.assessment.post("/assessments", json=body, headers=PROGRAMME)

    async def schedule_when_known(self, factory_id: str) -> dict[str, Any]:
        scheduled: dict[str, Any] = {}

        async def known() -> bool:
            response = await self.schedule(factory_id)
            scheduled.update(response.json())
            return response.status_code == 201

        await eventually(known, what="the assessment service learning of the enrolled factory")
        return scheduled

    async def step(
        self,
        assessment: dict[str, Any],
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] = PROGRAMME,
    ) -> httpx.Response:
        return await self.assessment.post(f"/assessments/{assessment['id']}/{path}", json=body, headers=headers)

    async def finding(
        self, assessment_id: str, question_id: str, result: str, version: int, evidence: str = ""
    ) -> httpx.Response:
        return await self.assessment.put(
            f"/assessments/{assessment_id}/findings/{question_id}",
            json={"result": result, "evidence": evidence},
            headers=PROGRAMME | {"If-Match": f'"{version}"'},
        )

    async def publish_visit(self, assessment: dict[str, Any], non_compliant: set[str]) -> None:
        """Run the visit through to a published report."""
        version = int((await self.step(assessment, "start", {"started_on": str(TODAY)})).headers["etag"].strip('"'))
        for q in TOOL.questions:
            response = await self.finding(
                assessment["id"], q.id, "non-compliant" if q.id in non_compliant else "compliant", version
            )
            assert response.status_code == 200, response.text
            version = int(response.headers["etag"].strip('"'))
        assert (await self.step(assessment, "submit")).status_code == 200
        assert (await self.step(assessment, "approve", headers=REVIEWER)).status_code == 200
        assert (await self.step(assessment, "publish", {"published_on": str(TODAY)})).status_code == 200

    async def reports_seen_by(self, headers: dict[str, str], factory_id: str) -> list[dict[str, Any]] | None:
        query = f'{{ factory(id: "{factory_id}") {{ assessmentReports {{ nodes {{ id recurringQuestions compliancePoints {{ compliancePointId nonCompliant remediation }} }} }} }} }}'
        response = await self.gateway.post("/graphql", json={"query": query}, headers=headers)
        factory = response.json()["data"]["factory"]
        return None if factory is None else factory["assessmentReports"]["nodes"]

    async def events(self) -> list[Envelope]:
        records = await read_topic(self.kafka, f"{self.topic_prefix}assessment.events")
        return [Envelope.from_kafka(r.value, r.headers) for r in records]


@pytest.fixture
async def services(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[Services]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    assessment = create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common))
    gateway_db = await create_database("gateway")
    async with serve(registry) as registry_url:
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common))
        async with (
            serve(assessment) as assessment_url,
            serve(gateway) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as r,
            httpx.AsyncClient(base_url=assessment_url) as a,
            httpx.AsyncClient(base_url=gateway_url) as g,
        ):
            yield Services(r, a, g, kafka, topic_prefix)


def question(issue: str | None = None, cluster: str | None = None) -> str:
    for q in TOOL.questions:
        if issue is not None and q.zero_tolerance_issue == issue:
            return q.id
        if (
            cluster is not None
            and not q.zero_tolerance
            and TOOL.compliance_point(q.compliance_point_id).cluster_id == cluster
        ):
            return q.id
    raise LookupError(issue or cluster)


async def test_an_unannounced_assessment_from_schedule_to_verified_remediation(services: Services) -> None:
    factory_id = await services.enrolled_factory()
    own = bearer(Audience.FACTORY, factory_id)
    assessment = await services.schedule_when_known(factory_id)
    assert assessment["status"] == "scheduled" and assessment["tool_version"] == TOOL.version

    # Before the visit the factory cannot learn that an assessment exists, let alone its date.
    assert (await services.assessment.get(f"/assessments/{assessment['id']}", headers=own)).status_code == 404
    assert (await services.assessment.get("/assessments", headers=own)).json() == []
    assert (
        await services.assessment.get(f"/assessments/{assessment['id']}", headers=bearer(Audience.BRAND, "BR-0001"))
    ).status_code == 403  # brands read through the gateway; refused before anything is looked up

    started = await services.step(assessment, "start", {"started_on": str(TODAY)})
    assert started.json()["status"] == "in-progress"
    version = int(started.headers["etag"].strip('"'))

    # Two assessors on the same version: one wins, the other gets 409, nothing is lost.
    wage, child_labour = question(cluster="compensation"), question(issue="child-labour")
    first = await services.finding(assessment["id"], wage, "non-compliant", version, "payslips below minimum wage")
    second = await services.finding(assessment["id"], wage, "compliant", version, "looked fine to me")
    assert first.status_code == 200 and second.status_code == 409
    missing = await services.assessment.put(
        f"/assessments/{assessment['id']}/findings/{wage}", json={"result": "compliant"}, headers=PROGRAMME
    )
    assert missing.status_code == 428
    version = int(first.headers["etag"].strip('"'))
    bad = await services.finding(assessment["id"], wage, "maybe", version)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "result"]

    # A zero-tolerance finding reaches Kafka at once, long before the report.
    zt = await services.finding(
        assessment["id"], child_labour, "non-compliant", version, "a 13-year-old trimming threads"
    )
    version = int(zt.headers["etag"].strip('"'))

    async def zero_tolerance_published() -> bool:
        return any(
            e.type == "org.betterwork.assessment.zero-tolerance-issue-raised.v1" for e in await services.events()
        )

    await eventually(zero_tolerance_published, what="ZeroToleranceIssueRaised on Kafka")

    early = await services.step(assessment, "submit")
    assert early.status_code == 409 and "questions have no finding yet" in early.json()["detail"]
    for q in TOOL.questions:
        if q.id not in (wage, child_labour):
            response = await services.finding(assessment["id"], q.id, "compliant", version)
            assert response.status_code == 200, response.text
            version += 1

    assert (await services.step(assessment, "submit")).json()["status"] == "submitted"
    by_assessor = await services.step(assessment, "approve")  # PROGRAMME is assessor-sokha
    assert by_assessor.status_code == 409 and "second person" in by_assessor.json()["detail"]
    assert (await services.step(assessment, "approve", headers=REVIEWER)).json()["status"] == "approved"
    published = await services.step(assessment, "publish", {"published_on": str(TODAY)})
    assert published.json()["status"] == "published"
    late = await services.finding(assessment["id"], wage, "compliant", int(published.headers["etag"].strip('"')))
    assert late.status_code == 409 and "published" in late.json()["detail"]

    async def completed() -> Envelope | None:
        return next((e for e in await services.events() if e.type == "org.betterwork.assessment.completed.v1"), None)

    await eventually(lambda: _is_not_none(completed()), what="AssessmentCompleted on Kafka")
    summary = (await completed()).data  # type: ignore[union-attr]
    non_compliant_points = {p["compliance_point_id"] for p in summary["compliance_points"] if p["non_compliant"]}
    assert non_compliant_points == {
        TOOL.question(wage).compliance_point_id,
        TOOL.question(child_labour).compliance_point_id,
    }

    # Now the factory sees its report (without the planned date) and works its improvement plan.
    report = (await services.assessment.get(f"/assessments/{assessment['id']}", headers=own)).json()
    assert "planned_date" not in report and "assessors" not in report and "review_comments" not in report
    action = {"what": "pay the arrears of March", "who": "HR manager", "due_on": str(TODAY - dt.timedelta(days=1))}
    planned = await services.step(assessment, f"findings/{wage}/actions", action, own)
    assert planned.status_code == 200 and planned.json()["improvement_actions"][0]["overdue"] is True
    assert (
        await services.step(assessment, f"findings/{wage}/remediated", {"note": "arrears paid"}, own)
    ).status_code == 200
    assert (await services.step(assessment, f"findings/{wage}/verify", None, own)).status_code == 403
    verified = await services.step(assessment, f"findings/{wage}/verify")
    assert next(f for f in verified.json()["findings"] if f["question_id"] == wage)["remediation"] == "verified"

    transparency = await services.assessment.get(f"/transparency/{factory_id}")
    assert transparency.status_code == 200
    assert TOOL.question(wage).compliance_point_id in transparency.json()["non_compliant_public_issues"]

    # Its history: programme staff read every change; the factory the visit, the report and its plan.
    history = f"/assessments/{assessment['id']}/history"
    whole = (await services.assessment.get(history, headers=PROGRAMME)).json()

    async def stream() -> list[Envelope]:
        return [e for e in await services.events() if e.subject == f"assessment-{assessment['id']}"]

    async def all_relayed() -> bool:
        return len(await stream()) >= len(whole)

    await eventually(all_relayed, what="the whole stream on Kafka")
    assert [(c["version"], c["type"]) for c in whole] == [(e.streamversion, e.type) for e in await stream()]
    assert whole[0]["data"]["planned_date"] == assessment["planned_date"] and whole[0]["actor"].endswith(
        "assessor-sokha"
    )
    seen = (await services.assessment.get(history, headers=own)).json()
    assert [c["type"].removeprefix("org.betterwork.assessment.") for c in seen] == [
        "started.v1",
        "completed.v1",
        "public-report-published.v1",
        "improvement-action-added.v1",
        "finding-remediated.v1",
        "remediation-verified.v1",
    ]
    told = json.dumps(seen)
    for secret in (assessment["planned_date"], *ASSESSORS, "dev-user", "zero-tolerance", "a 13-year-old", "evidence"):
        assert secret not in told, secret
    assert {c["actor"] for c in seen} == {"programme", "factory"}
    assert seen[3]["data"] == {"action_id": seen[3]["data"]["action_id"], "question_id": wage} | {
        k: action[k] for k in ("what", "who", "due_on")
    }
    other = await services.enrolled_factory("Mekong Footwear Ltd.")
    assert (await services.assessment.get(history, headers=bearer(Audience.FACTORY, other))).status_code == 404
    assert (await services.assessment.get(history, headers=bearer(Audience.BRAND, "BR-0001"))).status_code == 403


async def _is_not_none(value: Any) -> bool:
    return (await value) is not None


async def test_only_enrolled_factories_are_assessed(services: Services) -> None:
    applicant = await services.enrolled_factory("Mekong Footwear Ltd.", enroll=False)

    async def refused_as_not_enrolled() -> bool:
        response = await services.schedule(applicant)
        return response.status_code == 409 and "not enrolled" in response.json()["detail"]

    await eventually(refused_as_not_enrolled, what="scheduling refused for an applicant factory")
    assert (await services.schedule("KH-2026-9999-1")).status_code == 404


async def test_nobody_but_programme_staff_schedules_or_assesses(services: Services) -> None:
    factory_id = await services.enrolled_factory()
    assessment = await services.schedule_when_known(factory_id)
    for who in (
        bearer(Audience.FACTORY, factory_id),
        bearer(Audience.BRAND, "BR-0001"),
        bearer(Audience.GOVERNMENT, "KH"),
    ):
        body = {"factory_id": factory_id, "planned_date": str(TODAY + dt.timedelta(days=3)), "assessors": ["x"]}
        assert (await services.assessment.post("/assessments", json=body, headers=who)).status_code == 403
        assert (await services.step(assessment, "start", {"started_on": str(TODAY)}, who)).status_code == 403
    assert (await services.assessment.get("/assessments", headers=bearer(Audience.BRAND, "BR-0001"))).status_code == 403


async def test_a_brand_reads_published_reports_of_consenting_suppliers_and_never_a_planned_visit(
    services: Services,
) -> None:
    factory_id = await services.enrolled_factory()
    brand = (
        await services.registry.post(
            "/brands",
            json={"name": "Northwind Outfitters", "kind": "retailer", "partnership": "partner"},
            headers=PROGRAMME,
        )
    ).json()
    await services.registry.post(
        f"/factories/{factory_id}/brands",
        json={"brand_id": brand["id"], "since": "2025-01-15"},
        headers=PROGRAMME | if_match(3),
    )
    await services.registry.put(
        f"/factories/{factory_id}/consents/{brand['id']}", headers=bearer(Audience.FACTORY, factory_id) | if_match(4)
    )
    as_brand, as_rival = bearer(Audience.BRAND, brand["id"]), bearer(Audience.BRAND, "BR-0999")
    first = await services.schedule_when_known(factory_id)

    async def brand_sees_the_factory_without_reports() -> bool:
        return await services.reports_seen_by(as_brand, factory_id) == []

    await eventually(brand_sees_the_factory_without_reports, what="the brand seeing its supplier")
    wage = question(cluster="compensation")
    await services.publish_visit(first, {wage})

    async def brand_sees_one_report() -> bool:
        reports = await services.reports_seen_by(as_brand, factory_id)
        return reports is not None and len(reports) == 1

    await eventually(brand_sees_one_report, what="the published report reaching the brand")
    [report] = await services.reports_seen_by(as_brand, factory_id)  # type: ignore[misc]
    assert report["id"] == first["id"]
    wages = next(p for p in report["compliancePoints"] if p["nonCompliant"])
    assert wages["compliancePointId"] == TOOL.question(wage).compliance_point_id and wages["remediation"] == ["open"]
    assert await services.reports_seen_by(as_rival, factory_id) is None  # another brand: no such factory

    # A second visit is scheduled: nothing of it shows anywhere outside the programme.
    await services.schedule(factory_id)
    query = {"query": "{ factories { nodes { id: factoryId assessmentReports { nodes { id publishedOn } } } } }"}
    for who in (as_brand, bearer(Audience.FACTORY, factory_id)):
        everything = (await services.gateway.post("/graphql", json=query, headers=who)).text
        assert str(TODAY + dt.timedelta(days=9)) not in everything
        assert everything.count('"id"') == 2  # the factory and its one published report

    # Revoking consent takes effect for everything read after it.
    await services.registry.delete(
        f"/factories/{factory_id}/consents/{brand['id']}", headers=bearer(Audience.FACTORY, factory_id) | if_match(5)
    )

    async def brand_sees_nothing() -> bool:
        return await services.reports_seen_by(as_brand, factory_id) is None

    await eventually(brand_sees_nothing, what="revocation reaching the gateway")


async def test_a_whole_assessment_is_recorded_in_one_request_all_or_none(services: Services) -> None:
    factory_id = await services.enrolled_factory()
    assessment = await services.schedule_when_known(factory_id)
    started = await services.step(assessment, "start", {"started_on": str(TODAY)})
    version = int(started.headers["etag"].strip('"'))
    path = f"/assessments/{assessment['id']}/findings"
    wage, child_labour = question(cluster="compensation"), question(issue="child-labour")
    findings = [
        {"question_id": q.id, "result": "non-compliant" if q.id in (wage, child_labour) else "compliant"}
        for q in TOOL.questions
    ]

    unversioned = await services.assessment.post(path, json={"findings": findings}, headers=PROGRAMME)
    assert unversioned.status_code == 428
    versioned = PROGRAMME | {"If-Match": f'"{version}"'}
    unknown = await services.assessment.post(
        path,
        json={"findings": [*findings, {"question_id": "no-such-question", "result": "compliant"}]},
        headers=versioned,
    )
    assert unknown.status_code == 404
    twice = await services.assessment.post(path, json={"findings": [*findings, findings[0]]}, headers=versioned)
    assert twice.status_code == 422 and "named more than once" in twice.json()["detail"]
    as_factory = bearer(Audience.FACTORY, factory_id) | {"If-Match": f'"{version}"'}
    assert (await services.assessment.post(path, json={"findings": findings}, headers=as_factory)).status_code == 403

    recorded = await services.assessment.post(path, json={"findings": findings}, headers=versioned)
    assert recorded.status_code == 200, recorded.text
    # One FindingRecorded per question, and the zero-tolerance issue raised at once.
    assert int(recorded.headers["etag"].strip('"')) == version + len(TOOL.questions) + 1
    assert {f["question_id"] for f in recorded.json()["findings"]} == {q.id for q in TOOL.questions}
    stale = await services.assessment.post(path, json={"findings": findings[:1]}, headers=versioned)
    assert stale.status_code == 409
    assert (await services.step(assessment, "submit")).json()["status"] == "submitted"


async def test_a_zero_tolerance_issue_stays_on_the_desk_until_acknowledged_and_escalated(services: Services) -> None:
    factory_id = await services.enrolled_factory()
    assessment = await services.schedule_when_known(factory_id)
    version = int((await services.step(assessment, "start", {"started_on": str(TODAY)})).headers["etag"].strip('"'))
    child_labour, wage = question(issue="child-labour"), question(cluster="compensation")
    raised = await services.finding(assessment["id"], child_labour, "non-compliant", version, "a 13-year-old")
    assert raised.status_code == 200, raised.text
    cases = f"/assessments/{assessment['id']}/zero-tolerance"
    case = f"{cases}/{child_labour}"
    alerts = """{ zeroToleranceAlerts(status: [OPEN, ACKNOWLEDGED, ESCALATED]) { nodes {
      questionId status overdue acknowledgedBy acknowledgedAt escalatedBy escalatedTo actionTaken escalatedOn } } }"""

    async def alert(status: str) -> dict[str, Any] | None:
        data = (await services.gateway.post("/graphql", json={"query": alerts}, headers=PROGRAMME)).json()["data"]
        found = [a for a in data["zeroToleranceAlerts"]["nodes"] if a["status"] == status]
        return found[0] if found else None

    await eventually(lambda: _is_not_none(alert("OPEN")), what="the alert on the gateway's desk")
    [open_case] = (await services.assessment.get(cases, headers=PROGRAMME)).json()
    assert (open_case["question_id"], open_case["status"], open_case["overdue"]) == (child_labour, "open", False)

    # Only programme staff see the desk or act on it; nobody acknowledges what was never raised.
    for outsider in (bearer(Audience.FACTORY, factory_id), bearer(Audience.BRAND, "BR-0001")):
        assert (await services.assessment.get(cases, headers=outsider)).status_code == 403
        assert (await services.assessment.post(f"{case}/acknowledgement", headers=outsider)).status_code == 403
    never = await services.assessment.post(f"{cases}/{wage}/acknowledgement", headers=PROGRAMME)
    assert never.status_code == 404 and "raised no zero-tolerance issue" in never.json()["detail"]

    escalation = {
        "escalated_to": "Ministry of Labour",
        "action_taken": "child removed to school",
        "escalated_on": str(TODAY),
    }
    too_early = await services.assessment.post(
        f"{case}/escalation", json=escalation, headers=PROGRAMME | {"If-Match": '"0"'}
    )
    assert too_early.status_code == 409 and "acknowledge" in too_early.json()["detail"]
    acknowledged = await services.assessment.post(f"{case}/acknowledgement", headers=REVIEWER)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged" and acknowledged.json()["acknowledged_by"] == "dev-user"
    again = await services.assessment.post(f"{case}/acknowledgement", headers=PROGRAMME)
    assert again.status_code == 409 and "already acknowledged by dev-user" in again.json()["detail"]

    assert (await services.assessment.post(f"{case}/escalation", json=escalation, headers=PROGRAMME)).status_code == 428
    future = escalation | {"escalated_on": str(TODAY + dt.timedelta(days=2))}
    etag = {"If-Match": acknowledged.headers["etag"]}
    refused = await services.assessment.post(f"{case}/escalation", json=future, headers=PROGRAMME | etag)
    assert refused.status_code == 409 and "in the future" in refused.json()["detail"]
    stale = await services.assessment.post(
        f"{case}/escalation", json=escalation, headers=PROGRAMME | {"If-Match": '"0"'}
    )
    assert stale.status_code == 409
    escalated = await services.assessment.post(f"{case}/escalation", json=escalation, headers=PROGRAMME | etag)
    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["status"] == "escalated" and escalated.json()["escalated_to"] == "Ministry of Labour"

    await eventually(lambda: _is_not_none(alert("ESCALATED")), what="the escalation on the gateway's desk")
    done = await alert("ESCALATED")
    assert done is not None
    assert (
        done["acknowledgedBy"],
        done["escalatedBy"],
        done["escalatedTo"],
        done["actionTaken"],
        done["escalatedOn"],
    ) == (
        "dev-user",
        "assessor-sokha",
        "Ministry of Labour",
        "child removed to school",
        str(TODAY),
    )
    assert done["overdue"] is False and done["acknowledgedAt"] is not None
    waiting = """{ zeroToleranceAlerts { nodes { assessmentId } } }"""
    data = (await services.gateway.post("/graphql", json={"query": waiting}, headers=PROGRAMME)).json()["data"]
    assert assessment["id"] not in {a["assessmentId"] for a in data["zeroToleranceAlerts"]["nodes"]}  # off the desk


async def test_one_open_visit_per_factory_and_no_dates_in_the_future(services: Services) -> None:
    factory_id = await services.enrolled_factory()
    first = await services.schedule_when_known(factory_id)
    second = await services.schedule(factory_id)
    assert second.status_code == 409 and f"already has an open assessment ({first['id']})" in second.json()["detail"]

    tomorrow = str(TODAY + dt.timedelta(days=2))  # a day ahead of every time zone's today
    future = await services.step(first, "start", {"started_on": tomorrow})
    assert future.status_code == 409 and "in the future" in future.json()["detail"]
    started = await services.step(first, "start", {"started_on": str(TODAY)})
    assert started.status_code == 200
    cancelled = await services.step(first, "cancel", {"reason": "the gates were shut to the assessors"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    # Once it is cancelled the factory can be visited again; two schedulers at once get one visit.
    racing = await asyncio.gather(*(services.schedule(factory_id) for _ in range(4)))
    assert sorted(r.status_code for r in racing) == [201, 409, 409, 409]
