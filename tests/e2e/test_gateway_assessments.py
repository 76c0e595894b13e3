"""Assessments, findings and zero-tolerance alerts in GraphQL: the lifecycle from real events on
Kafka, cycles, filters, pages, each audience's reach, redelivery, and no N+1."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from betterwork_events.auth import Audience
from betterwork_events.contracts import assessment as ae
from betterwork_events.envelope import Envelope

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer

WAGES = "compensation.minimum-wages.01"
PAYSLIPS = "compensation.minimum-wages.02"
CHILD = "child-labour.child-labourers.01"
EXITS = "osh.emergency-preparedness.08"
PLANNED = dt.date(2026, 3, 17)  # confidential: the visit is unannounced
STARTED = dt.date(2026, 3, 18)
TODAY = dt.date(2026, 4, 2)
PAYSLIP_SCAN = ae.Attachment(
    filename="payslips-line-14.pdf", content_type="application/pdf", size_bytes=48_213, sha256="ab" * 32
)

ASSESSMENT = """assessmentId factoryId country toolVersion status cycle plannedDate assessors startedOn
  submittedAt approvedAt reviewer reviewComments publishedOn previousAssessmentId"""
FINDING = """assessmentId questionId compliancePointId clusterId result evidence
  attachments { filename contentType sizeBytes sha256 } zeroToleranceIssue recurring"""
ONE = '{ assessment(id: "%s") { id ' + ASSESSMENT + " findings(first: 100) { totalCount nodes { " + FINDING + " } } } }"

FACTORY_ASSESSMENTS = '{ factory(id: "%s") { assessments { totalCount nodes { assessmentId status cycle } } } }'
REPORTS = '{ factory(id: "%s") { assessmentReports { nodes { id } } } }'


def point_of(question_id: str) -> str:
    return question_id.rsplit(".", 1)[0]


@dataclass
class Visit:
    """One assessment's stream: each step publishes the event the assessment service would."""

    read_side: ReadSide
    factory_id: str
    country: str = "KH"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    results: dict[str, ae.Result] = field(default_factory=dict)
    envelopes: list[Envelope] = field(default_factory=list)

    @property
    def stream(self) -> str:
        return f"assessment-{self.id}"

    async def publish(self, event_type: type[ae.AssessmentEvent], **values: Any) -> Envelope:
        event = event_type(assessment_id=self.id, factory_id=self.factory_id, **values)
        envelope = await self.read_side.publish(event, stream=self.stream)
        self.envelopes.append(envelope)
        return envelope

    async def schedule(self, planned: dt.date = PLANNED) -> Visit:
        await self.publish(
            ae.AssessmentScheduled,
            country=self.country,
            planned_date=planned,
            assessors=("assessor-sokha", "assessor-dara"),
            tool_version=f"{self.country}-global-1",
        )
        return self

    async def find(self, question_id: str, result: ae.Result, evidence: str = "", **more: Any) -> None:
        self.results[question_id] = result
        await self.publish(
            ae.FindingRecorded,
            question_id=question_id,
            compliance_point_id=point_of(question_id),
            result=result,
            evidence=evidence,
            **more,
        )

    async def assessed(self, findings: dict[str, ae.Result], started: dt.date = STARTED) -> None:
        await self.publish(ae.AssessmentStarted, started_on=started)
        for question_id, result in findings.items():
            await self.find(question_id, result)
        await self.publish(ae.AssessmentSubmitted)
        await self.publish(ae.AssessmentApproved, reviewer="reviewer-chenda")

    async def complete(self, on: dt.date, previous: Visit | None = None) -> Envelope:
        """AssessmentCompleted with the summary the service computes from the findings."""
        failing = {q for q, r in self.results.items() if r is ae.Result.NON_COMPLIANT}
        points = [
            ae.CompliancePointSummary(
                compliance_point_id=p,
                cluster_id=p.split(".")[0],
                non_compliant=any(point_of(q) == p for q in failing),
                non_compliant_questions=tuple(sorted(q for q in failing if point_of(q) == p)),
            )
            for p in sorted({point_of(q) for q, r in self.results.items() if r is not ae.Result.NOT_APPLICABLE})
        ]
        before = {q for q, r in previous.results.items() if r is ae.Result.NON_COMPLIANT} if previous else set()
        recurring = tuple(sorted(failing & before))
        return await self.publish(
            ae.AssessmentCompleted,
            country=self.country,
            tool_version=f"{self.country}-global-1",
            published_on=on,
            compliance_points=tuple(points),
            clusters=(),
            recurring_questions=recurring,
            previous_assessment_id=previous.id if previous else None,
        )

    async def published(self, on: dt.date, findings: dict[str, ae.Result], previous: Visit | None = None) -> Visit:
        await self.schedule()
        await self.assessed(findings)
        await self.complete(on, previous)
        return self


async def graphql(
    read_side: ReadSide, query: str, headers: dict[str, str], variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = await read_side.graphql(query, headers, variables)
    assert "errors" not in answer, answer
    return answer["data"]


async def in_directory(read_side: ReadSide, *factory_ids: str) -> None:
    """Wait for the directory to have the factories (the registry's relay is on its own clock)."""
    listed = "{ factories(first: 100) { nodes { factoryId } } }"
    await read_side.until(
        listed, PROGRAMME, lambda d: set(factory_ids) <= {f["factoryId"] for f in d["factories"]["nodes"]}, "directory"
    )


async def until_published(read_side: ReadSide, count: int) -> None:
    listed = "{ assessments(first: 100, status: PUBLISHED) { nodes { assessmentId } } }"
    await read_side.until(listed, PROGRAMME, lambda d: len(d["assessments"]["nodes"]) == count, f"{count} published")


async def until_status(read_side: ReadSide, visit: Visit, status: str) -> dict[str, Any]:
    data = await read_side.until(
        ONE % visit.id, PROGRAMME, lambda d: (d["assessment"] or {}).get("status") == status, f"{visit.id} {status}"
    )
    return data["assessment"]


# --- the lifecycle --------------------------------------------------------------------------


async def test_an_assessment_through_its_lifecycle_as_programme_staff_read_it(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    visit = await Visit(read_side, angkor).schedule()
    scheduled = await until_status(read_side, visit, "SCHEDULED")
    assert scheduled == {
        "id": scheduled["id"],
        "assessmentId": visit.id,
        "factoryId": angkor,
        "country": "KH",
        "toolVersion": "KH-global-1",
        "status": "SCHEDULED",
        "cycle": 1,
        "plannedDate": str(PLANNED),
        "assessors": ["assessor-sokha", "assessor-dara"],
        "startedOn": None,
        "submittedAt": None,
        "approvedAt": None,
        "reviewer": None,
        "reviewComments": [],
        "publishedOn": None,
        "previousAssessmentId": None,
        "findings": {"totalCount": 0, "nodes": []},
    }

    await visit.publish(ae.AssessmentStarted, started_on=STARTED)
    assert (await until_status(read_side, visit, "IN_PROGRESS"))["startedOn"] == str(STARTED)
    await visit.find(WAGES, ae.Result.NON_COMPLIANT, "line 14 paid below the minimum wage", attachments=(PAYSLIP_SCAN,))
    await visit.find(CHILD, ae.Result.NON_COMPLIANT, "two workers of 14 on line 3")
    await visit.publish(ae.ZeroToleranceIssueRaised, question_id=CHILD, issue=ae.ZeroToleranceIssue.CHILD_LABOUR)
    await visit.find(EXITS, ae.Result.COMPLIANT)
    submitted = await visit.publish(ae.AssessmentSubmitted)
    assert dt.datetime.fromisoformat((await until_status(read_side, visit, "SUBMITTED"))["submittedAt"]) == (
        submitted.time
    )
    await visit.publish(ae.AssessmentReturned, comments="Attach the payslips of line 14 to the wages finding")
    returned = await until_status(read_side, visit, "RETURNED")
    assert returned["reviewComments"] == ["Attach the payslips of line 14 to the wages finding"]
    await visit.find(EXITS, ae.Result.NOT_APPLICABLE, "no emergency exits on this floor plan")  # amended
    await visit.publish(ae.AssessmentSubmitted)
    approved_at = (await visit.publish(ae.AssessmentApproved, reviewer="reviewer-chenda")).time
    approved = await until_status(read_side, visit, "APPROVED")
    assert dt.datetime.fromisoformat(approved["approvedAt"]) == approved_at
    assert approved["reviewer"] == "reviewer-chenda"
    await visit.complete(dt.date(2026, 4, 1))

    published = await until_status(read_side, visit, "PUBLISHED")
    assert published["publishedOn"] == "2026-04-01" and published["cycle"] == 1
    assert published["findings"] == {
        "totalCount": 3,
        "nodes": [
            {
                "assessmentId": visit.id,
                "questionId": CHILD,
                "compliancePointId": "child-labour.child-labourers",
                "clusterId": "child-labour",
                "result": "NON_COMPLIANT",
                "evidence": "two workers of 14 on line 3",
                "attachments": [],
                "zeroToleranceIssue": "CHILD_LABOUR",
                "recurring": False,
            },
            {
                "assessmentId": visit.id,
                "questionId": WAGES,
                "compliancePointId": "compensation.minimum-wages",
                "clusterId": "compensation",
                "result": "NON_COMPLIANT",
                "evidence": "line 14 paid below the minimum wage",
                "attachments": [
                    {"filename": "payslips-line-14.pdf", "contentType": "application/pdf", "sizeBytes": 48213}
                    | {"sha256": "ab" * 32}
                ],
                "zeroToleranceIssue": None,
                "recurring": False,
            },
            {
                "assessmentId": visit.id,
                "questionId": EXITS,
                "compliancePointId": "osh.emergency-preparedness",
                "clusterId": "osh",
                "result": "NOT_APPLICABLE",
                "evidence": "no emergency exits on this floor plan",
                "attachments": [],
                "zeroToleranceIssue": None,
                "recurring": False,
            },
        ],
    }
    # The global id finds it again; the existing published-report read model still has it too.
    node = await graphql(
        read_side,
        "query ($id: ID!) { node(id: $id) { ... on Assessment { assessmentId } } }",
        PROGRAMME,
        {"id": published["id"]},
    )
    assert node == {"node": {"assessmentId": visit.id}}
    await in_directory(read_side, angkor)
    reports = await graphql(read_side, REPORTS % angkor, PROGRAMME)
    assert reports["factory"]["assessmentReports"]["nodes"] == [{"id": visit.id}]


async def test_cycles_count_the_assessments_not_cancelled_in_order_of_scheduling(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    first = await Visit(read_side, angkor).published(dt.date(2025, 5, 6), {WAGES: ae.Result.NON_COMPLIANT})
    dropped = await Visit(read_side, angkor).schedule()
    await dropped.publish(ae.AssessmentCancelled, reason="the factory closed for Khmer New Year")
    pending = await Visit(read_side, angkor).schedule()  # scheduled before `later`, still to happen
    later = await Visit(read_side, angkor).published(dt.date(2026, 2, 3), {WAGES: ae.Result.COMPLIANT}, first)
    listed = FACTORY_ASSESSMENTS % angkor
    await in_directory(read_side, angkor)

    def cycles(data: dict[str, Any]) -> dict[str, Any]:
        return {a["assessmentId"]: a["cycle"] for a in data["factory"]["assessments"]["nodes"]}

    programme = await read_side.until(listed, PROGRAMME, lambda d: len(cycles(d)) == 4, "four assessments")
    assert cycles(programme) == {first.id: 1, dropped.id: None, pending.id: 2, later.id: 3}
    # The factory sees its two published reports; "cycle 3" would tell it a visit is planned.
    as_factory = await graphql(read_side, listed, bearer(Audience.FACTORY, angkor))
    assert cycles(as_factory) == {first.id: 1, later.id: None}
    by_cycle = "{ assessments(cycle: %d) { nodes { assessmentId } } }"
    assert (await graphql(read_side, by_cycle % 3, PROGRAMME))["assessments"]["nodes"] == [{"assessmentId": later.id}]
    assert (await graphql(read_side, by_cycle % 2, bearer(Audience.FACTORY, angkor)))["assessments"]["nodes"] == []

    # Once the visit between is cancelled, every audience reads the same, final numbers.
    await pending.publish(ae.AssessmentCancelled, reason="assessors reassigned to a zero-tolerance case")
    await until_status(read_side, pending, "CANCELLED")
    renumbered = {first.id: 1, dropped.id: None, pending.id: None, later.id: 2}
    assert cycles(await graphql(read_side, listed, PROGRAMME)) == renumbered
    assert cycles(await graphql(read_side, listed, bearer(Audience.FACTORY, angkor))) == {first.id: 1, later.id: 2}


# --- each audience --------------------------------------------------------------------------


@dataclass
class World:
    angkor: str
    mekong: str
    saigon: str
    report: Visit  # Angkor's, published
    upcoming: Visit  # Angkor's next, unannounced
    mekong_report: Visit
    saigon_report: Visit
    callers: dict[str, dict[str, str]]


async def world_of(read_side: ReadSide) -> World:
    angkor, mekong = await read_side.factory("Angkor Apparel"), await read_side.factory("Mekong Footwear")
    saigon = await read_side.factory("Saigon Stitch", country="VN")
    northwind, lotus, harbour = [await read_side.brand(n) for n in ("Northwind", "Lotus Retail", "Harbour & Pine")]
    await read_side.supplies(angkor, northwind, consents=True)
    await read_side.supplies(angkor, lotus, consents=False)
    await read_side.supplies(mekong, lotus, consents=True)
    report = Visit(read_side, angkor)
    await report.schedule()
    await report.publish(ae.AssessmentStarted, started_on=STARTED)
    await report.find(
        WAGES, ae.Result.NON_COMPLIANT, "line 14 paid below the minimum wage", attachments=(PAYSLIP_SCAN,)
    )
    await report.find(CHILD, ae.Result.NON_COMPLIANT, "two workers of 14 on line 3")
    await report.publish(ae.ZeroToleranceIssueRaised, question_id=CHILD, issue=ae.ZeroToleranceIssue.CHILD_LABOUR)
    await report.publish(ae.AssessmentSubmitted)
    await report.publish(ae.AssessmentReturned, comments="Name the payslips you saw")
    await report.publish(ae.AssessmentSubmitted)
    await report.publish(ae.AssessmentApproved, reviewer="reviewer-chenda")
    await report.complete(dt.date(2026, 3, 30))
    upcoming = await Visit(read_side, angkor).schedule(dt.date(2026, 9, 14))
    mekong_report = await Visit(read_side, mekong).published(dt.date(2026, 1, 20), {WAGES: ae.Result.COMPLIANT})
    saigon_report = await Visit(read_side, saigon, country="VN").published(
        dt.date(2026, 2, 10), {PAYSLIPS: ae.Result.NON_COMPLIANT}
    )
    callers = {
        "programme": PROGRAMME,
        "factory itself": bearer(Audience.FACTORY, angkor),
        "another factory": bearer(Audience.FACTORY, mekong),
        "linked consenting brand": bearer(Audience.BRAND, northwind),
        "linked brand without consent": bearer(Audience.BRAND, lotus),
        "unlinked brand": bearer(Audience.BRAND, harbour),
        "government KH": bearer(Audience.GOVERNMENT, "KH"),
        "government VN": bearer(Audience.GOVERNMENT, "VN"),
    }
    everything = "{ assessments(first: 100) { totalCount } findings { totalCount } }"
    await until_published(read_side, 3)
    await read_side.until(everything, PROGRAMME, lambda d: d["assessments"]["totalCount"] == 4, "the world")
    await in_directory(read_side, angkor, mekong, saigon)
    brand = callers["linked consenting brand"]
    await read_side.until(everything, brand, lambda d: d["assessments"]["totalCount"] == 1, "the consent")
    return World(angkor, mekong, saigon, report, upcoming, mekong_report, saigon_report, callers)


EVERY_READ = (
    "{ assessments(first: 100) { totalCount nodes { " + ASSESSMENT + " findings { nodes { " + FINDING + " } } } }"
    " findings(first: 100) { totalCount nodes { " + FINDING + " } } }"
)


async def test_each_audience_reads_only_the_assessments_and_findings_it_may(read_side: ReadSide) -> None:
    world = await world_of(read_side)
    reads = {
        "programme": {world.report.id, world.upcoming.id, world.mekong_report.id, world.saigon_report.id},
        "factory itself": {world.report.id},
        "another factory": {world.mekong_report.id},
        "linked consenting brand": {world.report.id},
        "linked brand without consent": {world.mekong_report.id},
        "unlinked brand": set(),
    }
    for caller, expected in reads.items():
        headers = world.callers[caller]
        data = await graphql(read_side, EVERY_READ, headers)
        seen = {a["assessmentId"] for a in data["assessments"]["nodes"]}
        if caller == "programme":
            assert seen >= expected and data["assessments"]["totalCount"] == 4, caller
        else:
            assert seen == expected and data["assessments"]["totalCount"] == len(expected), caller
        assert {f["assessmentId"] for f in data["findings"]["nodes"]} <= seen, caller
        for visit in (world.report, world.upcoming, world.mekong_report, world.saigon_report):
            one = await read_side.graphql(ONE % visit.id, headers)
            assert (one["data"]["assessment"] is not None) == (visit.id in expected or caller == "programme"), caller
        missing = await read_side.graphql(ONE % str(uuid.uuid4()), headers)
        hidden = await read_side.graphql(ONE % world.upcoming.id, headers)
        if caller != "programme":
            assert hidden == missing == {"data": {"assessment": None}}, caller
            text = json.dumps(data)
            for secret in (world.upcoming.id, "2026-09-14", str(PLANNED), "assessor-sokha", "reviewer-chenda"):
                assert secret not in text, (caller, secret)
            assert "Name the payslips" not in text, caller
            for assessment in data["assessments"]["nodes"]:
                assert assessment["plannedDate"] is None and assessment["assessors"] is None, caller
                assert assessment["reviewComments"] is None and assessment["submittedAt"] is None, caller

    programme = await graphql(read_side, ONE % world.report.id, PROGRAMME)
    assert programme["assessment"]["reviewComments"] == ["Name the payslips you saw"]
    own = (await graphql(read_side, ONE % world.report.id, world.callers["factory itself"]))["assessment"]
    assert own["status"] == "PUBLISHED" and own["startedOn"] == str(STARTED) and own["publishedOn"] == "2026-03-30"
    assert own["findings"]["totalCount"] == 2
    wages = next(f for f in own["findings"]["nodes"] if f["questionId"] == WAGES)
    assert wages["evidence"] == "line 14 paid below the minimum wage" and wages["attachments"][0]["sizeBytes"] == 48213
    child = next(f for f in own["findings"]["nodes"] if f["questionId"] == CHILD)
    assert child["zeroToleranceIssue"] == "CHILD_LABOUR"  # published now
    brand = (await graphql(read_side, ONE % world.report.id, world.callers["linked consenting brand"]))["assessment"]
    assert {(f["questionId"], f["result"]) for f in brand["findings"]["nodes"]} == {
        (WAGES, "NON_COMPLIANT"),
        (CHILD, "NON_COMPLIANT"),
    }
    assert all(f["evidence"] is None and f["attachments"] is None for f in brand["findings"]["nodes"])

    # Nested under the factory: the same reach.
    nested = FACTORY_ASSESSMENTS % world.angkor
    assert (await graphql(read_side, nested, PROGRAMME))["factory"]["assessments"]["totalCount"] == 2
    own_list = (await graphql(read_side, nested, world.callers["factory itself"]))["factory"]["assessments"]
    assert own_list == {
        "totalCount": 1,
        "nodes": [{"assessmentId": world.report.id, "status": "PUBLISHED", "cycle": 1}],
    }

    for government in ("government KH", "government VN"):
        for query in (EVERY_READ, ONE % world.report.id, "{ findings { totalCount } }"):
            refused = await read_side.graphql(query, world.callers[government])
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", (government, query)
            assert world.report.id not in json.dumps(refused.get("data")), government


async def test_a_scheduled_assessment_does_not_exist_for_a_factory_until_published(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    factory = bearer(Audience.FACTORY, angkor)
    visit = Visit(read_side, angkor)
    await visit.schedule()
    await visit.assessed({WAGES: ae.Result.NON_COMPLIANT, CHILD: ae.Result.NON_COMPLIANT})
    await visit.publish(ae.ZeroToleranceIssueRaised, question_id=CHILD, issue=ae.ZeroToleranceIssue.CHILD_LABOUR)
    await until_status(read_side, visit, "APPROVED")
    await in_directory(read_side, angkor)
    for query in (ONE % visit.id, EVERY_READ, FACTORY_ASSESSMENTS % angkor):
        text = json.dumps(await graphql(read_side, query, factory))
        assert visit.id not in text and "CHILD_LABOUR" not in text and str(PLANNED) not in text, query
    await visit.complete(dt.date(2026, 4, 1))
    data = await read_side.until(ONE % visit.id, factory, lambda d: d["assessment"] is not None, "published")
    assert data["assessment"]["plannedDate"] is None and data["assessment"]["findings"]["totalCount"] == 2


# --- filters and pages ----------------------------------------------------------------------


async def test_findings_filter_by_country_cluster_compliance_point_result_and_recurrence(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    saigon = await read_side.factory("Saigon Stitch", country="VN")
    earlier = {WAGES: ae.Result.NON_COMPLIANT, PAYSLIPS: ae.Result.NON_COMPLIANT, EXITS: ae.Result.COMPLIANT}
    first = await Visit(read_side, angkor).published(dt.date(2025, 4, 1), earlier)
    again = {WAGES: ae.Result.NON_COMPLIANT, PAYSLIPS: ae.Result.COMPLIANT, EXITS: ae.Result.NON_COMPLIANT}
    second = await Visit(read_side, angkor).published(dt.date(2026, 4, 1), again, previous=first)
    vietnam = await Visit(read_side, saigon, country="VN").published(
        dt.date(2026, 3, 1), {WAGES: ae.Result.NON_COMPLIANT}
    )
    every = [(v, q, r) for v in (first, second, vietnam) for q, r in v.results.items()]
    listed = "{ findings(first: 100%s) { totalCount nodes { assessmentId questionId recurring } } }"
    await until_published(read_side, 3)

    def expect(keep: Any) -> set[tuple[str, str]]:
        return {(v.id, q) for v, q, r in every if keep(v, q, r)}

    recurring_in_second = set(second.results) & {q for q, r in first.results.items() if r is ae.Result.NON_COMPLIANT}
    recurring_in_second = {q for q in recurring_in_second if second.results[q] is ae.Result.NON_COMPLIANT}
    for arguments, keep in [
        ('country: "VN"', lambda v, q, r: v.country == "VN"),
        ('cluster: "osh"', lambda v, q, r: q.startswith("osh.")),
        ('compliancePoint: "compensation.minimum-wages"', lambda v, q, r: point_of(q) == "compensation.minimum-wages"),
        ("result: NON_COMPLIANT", lambda v, q, r: r is ae.Result.NON_COMPLIANT),
        ("recurring: true", lambda v, q, r: v is second and q in recurring_in_second),
        (
            'recurring: false, country: "KH"',
            lambda v, q, r: v.country == "KH" and not (v is second and q in recurring_in_second),
        ),
        (
            'result: NON_COMPLIANT, cluster: "compensation", country: "KH"',
            lambda v, q, r: v.country == "KH" and r is ae.Result.NON_COMPLIANT and q.startswith("compensation."),
        ),
    ]:
        data = await graphql(read_side, listed % f", {arguments}", PROGRAMME)
        found = {(f["assessmentId"], f["questionId"]) for f in data["findings"]["nodes"]}
        assert found == expect(keep) and data["findings"]["totalCount"] == len(found), arguments
    assert expect(lambda v, q, r: v is second and q in recurring_in_second) == {(second.id, WAGES)}

    # The same filters nested under an assessment, for every assessment at one level.
    await in_directory(read_side, angkor)
    nested = """{ factory(id: "%s") { assessments { nodes { assessmentId
      findings(result: NON_COMPLIANT, cluster: "compensation") { totalCount nodes { questionId } } } } } }"""
    data = await graphql(read_side, nested % angkor, PROGRAMME)
    assert {
        a["assessmentId"]: [f["questionId"] for f in a["findings"]["nodes"]]
        for a in data["factory"]["assessments"]["nodes"]
    } == {
        first.id: sorted([WAGES, PAYSLIPS]),
        second.id: [WAGES],
    }
    previous = "query ($id: ID!) { assessment(id: $id) { previousAssessmentId } }"
    assert (await graphql(read_side, previous, PROGRAMME, {"id": second.id})) == {
        "assessment": {"previousAssessmentId": first.id}
    }


async def test_assessments_filter_by_country_status_factory_and_publication(read_side: ReadSide) -> None:
    angkor, mekong = await read_side.factory("Angkor Apparel"), await read_side.factory("Mekong Footwear")
    saigon = await read_side.factory("Saigon Stitch", country="VN")
    old = await Visit(read_side, angkor).published(dt.date(2024, 11, 20), {WAGES: ae.Result.COMPLIANT})
    recent = await Visit(read_side, mekong).published(dt.date(2025, 6, 30), {WAGES: ae.Result.COMPLIANT})
    newest = await Visit(read_side, saigon, country="VN").published(dt.date(2026, 1, 5), {WAGES: ae.Result.COMPLIANT})
    upcoming = await Visit(read_side, angkor).schedule()
    query = "{ assessments(first: 100%s) { totalCount nodes { assessmentId } } }"
    await until_published(read_side, 3)
    await read_side.until(query % "", PROGRAMME, lambda d: d["assessments"]["totalCount"] == 4, "projected")
    for arguments, expected in [
        ("", [upcoming, newest, recent, old]),  # newest scheduled first
        ('country: "KH"', [upcoming, recent, old]),
        ("status: SCHEDULED", [upcoming]),
        ("status: PUBLISHED", [newest, recent, old]),
        (f'factoryId: "{angkor}"', [upcoming, old]),
        ("year: 2025", [recent]),
        ('publishedFrom: "2025-06-30"', [newest, recent]),
        ('publishedTo: "2025-06-29"', [old]),
        ('publishedFrom: "2024-01-01", publishedTo: "2025-12-31", country: "KH"', [recent, old]),
    ]:
        data = (await graphql(read_side, query % f", {arguments}", PROGRAMME))["assessments"]
        assert [a["assessmentId"] for a in data["nodes"]] == [v.id for v in expected], arguments
        assert data["totalCount"] == len(expected), arguments


PAGE = """query ($first: Int, $after: String) { assessments(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { assessmentId } } }"""
FINDINGS_PAGE = """query ($first: Int, $after: String) { findings(first: $first, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { assessmentId questionId } } }"""


async def test_pages_walk_assessments_and_findings_without_gaps_or_repeats(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    visits = [await Visit(read_side, angkor).schedule() for _ in range(7)]
    report = visits[0]
    questions = [WAGES, PAYSLIPS, CHILD, EXITS, "compensation.minimum-wages.03"]
    await report.assessed(dict.fromkeys(questions, ae.Result.COMPLIANT))
    await until_status(read_side, report, "APPROVED")
    await read_side.until(PAGE, PROGRAMME, lambda d: d["assessments"]["totalCount"] == 7, "projected")

    async def walk(query: str, root: str, first: int, key: Any) -> list[Any]:
        seen, after = [], None
        while True:
            answer = await read_side.graphql(query, PROGRAMME, {"first": first, "after": after})
            page = answer["data"][root]
            seen += [key(n) for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    assert await walk(PAGE, "assessments", 3, lambda n: n["assessmentId"]) == [v.id for v in reversed(visits)]
    assert await walk(FINDINGS_PAGE, "findings", 2, lambda n: n["questionId"]) == sorted(questions)

    nested = """query ($id: ID!, $first: Int, $after: String) { assessment(id: $id) {
      findings(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
      nodes { questionId } } } }"""
    seen, after = [], None
    while True:
        page = (await read_side.graphql(nested, PROGRAMME, {"id": report.id, "first": 2, "after": after}))["data"][
            "assessment"
        ]["findings"]
        assert page["totalCount"] == len(questions) and page["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [n["questionId"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(questions)

    for variables, words in [({"first": 101}, "between 0 and 100"), ({"after": "WzFd"}, "not one this list gave")]:
        answer = await read_side.graphql(PAGE, PROGRAMME, variables)
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and words in answer["errors"][0]["message"]
    not_a_time = base64.urlsafe_b64encode(json.dumps(["yesterday", "a"]).encode()).decode()
    bad_time = (await read_side.graphql(PAGE, PROGRAMME, {"after": not_a_time}))["errors"][0]
    assert bad_time["extensions"]["code"] == "BAD_USER_INPUT"


# --- zero-tolerance alerts -------------------------------------------------------------------

ALERTS = """{ zeroToleranceAlerts(today: "%s"%s) { totalCount nodes {
  assessmentId factoryId country questionId issue raisedAt status daysWaiting } } }"""


async def test_open_zero_tolerance_alerts_with_how_long_each_has_waited(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    saigon = await read_side.factory("Saigon Stitch", country="VN")
    raised: list[tuple[Visit, Envelope]] = []
    for factory_id, country, question, issue in [
        (angkor, "KH", CHILD, ae.ZeroToleranceIssue.CHILD_LABOUR),
        (saigon, "VN", "forced-labour.bonded-labour.01", ae.ZeroToleranceIssue.FORCED_LABOUR),
    ]:
        visit = await Visit(read_side, factory_id, country=country).schedule()
        await visit.publish(ae.AssessmentStarted, started_on=STARTED)
        await visit.find(question, ae.Result.NON_COMPLIANT, "seen on the floor")
        raised.append((visit, await visit.publish(ae.ZeroToleranceIssueRaised, question_id=question, issue=issue)))
    today = TODAY.isoformat()
    data = await read_side.until(
        ALERTS % (today, ""), PROGRAMME, lambda d: len(d["zeroToleranceAlerts"]["nodes"]) == 2, "alerts"
    )
    expected = [
        {
            "assessmentId": visit.id,
            "factoryId": visit.factory_id,
            "country": visit.country,
            "questionId": envelope.contract().question_id,  # type: ignore[attr-defined]
            "issue": envelope.contract().issue.name,  # type: ignore[attr-defined]
            "raisedAt": envelope.time.isoformat(),
            "status": "OPEN",
            "daysWaiting": (TODAY - envelope.time.date()).days,
        }
        for visit, envelope in raised
    ]
    nodes = data["zeroToleranceAlerts"]["nodes"]
    for node in nodes:
        node["raisedAt"] = dt.datetime.fromisoformat(node["raisedAt"]).isoformat()
    assert nodes == expected  # longest waiting first
    vn = (await graphql(read_side, ALERTS % (today, ', country: "VN"'), PROGRAMME))["zeroToleranceAlerts"]
    assert [a["factoryId"] for a in vn["nodes"]] == [saigon]
    later = (await graphql(read_side, ALERTS % ("2030-01-01", ', country: "KH"'), PROGRAMME))["zeroToleranceAlerts"]
    assert later["nodes"][0]["daysWaiting"] == (dt.date(2030, 1, 1) - raised[0][1].time.date()).days

    brand = await read_side.brand("Northwind")
    await read_side.supplies(angkor, brand, consents=True)
    for headers in (
        bearer(Audience.FACTORY, angkor),
        bearer(Audience.BRAND, brand),
        bearer(Audience.GOVERNMENT, "KH"),
    ):
        refused = await read_side.graphql(ALERTS % (today, ""), headers)
        assert refused["data"] is None
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN" and "programme staff only" in error["message"]


async def test_an_alert_unacknowledged_for_a_day_is_overdue_and_acknowledgement_takes_it_off(
    read_side: ReadSide,
) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    late, fresh = await Visit(read_side, angkor).schedule(), await Visit(read_side, angkor).schedule()
    now = dt.datetime.now(dt.UTC)
    for visit, raised_at in ((late, now - dt.timedelta(hours=25)), (fresh, now - dt.timedelta(hours=23))):
        await visit.publish(ae.AssessmentStarted, started_on=STARTED)
        await visit.find(CHILD, ae.Result.NON_COMPLIANT, "seen on the floor")
        event = ae.ZeroToleranceIssueRaised(
            assessment_id=visit.id, factory_id=angkor, question_id=CHILD, issue=ae.ZeroToleranceIssue.CHILD_LABOUR
        )
        await read_side.send(dataclasses.replace(read_side.envelope(event, visit.stream), time=raised_at))
    query = """query ($overdue: Boolean) { zeroToleranceAlerts(overdue: $overdue) {
      nodes { assessmentId status overdue acknowledgedBy } } }"""

    def alerts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {a["assessmentId"]: a for a in data["zeroToleranceAlerts"]["nodes"]}

    data = await read_side.until(query, PROGRAMME, lambda d: len(alerts(d)) == 2, "both alerts")
    assert {k: v["overdue"] for k, v in alerts(data).items()} == {late.id: True, fresh.id: False}
    overdue = alerts((await read_side.graphql(query, PROGRAMME, {"overdue": True}))["data"])
    assert list(overdue) == [late.id]

    acknowledged_at = now - dt.timedelta(minutes=5)
    ack = ae.ZeroToleranceIssueAcknowledged(
        assessment_id=late.id,
        factory_id=angkor,
        question_id=CHILD,
        acknowledged_by="manager-chan",
        acknowledged_at=acknowledged_at,
    )
    await read_side.publish(ack, stream=f"zero-tolerance-{late.id}-{CHILD}")
    data = await read_side.until(
        query, PROGRAMME, lambda d: alerts(d)[late.id]["status"] == "ACKNOWLEDGED", "the acknowledgement"
    )
    assert alerts(data)[late.id] == {
        "assessmentId": late.id,
        "status": "ACKNOWLEDGED",
        "overdue": False,
        "acknowledgedBy": "manager-chan",
    }
    assert alerts((await read_side.graphql(query, PROGRAMME, {"overdue": True}))["data"]) == {}
    only_open = "{ zeroToleranceAlerts(status: [OPEN]) { nodes { assessmentId } } }"
    assert [
        a["assessmentId"]
        for a in (await read_side.graphql(only_open, PROGRAMME))["data"]["zeroToleranceAlerts"]["nodes"]
    ] == [fresh.id]


# --- redelivery ------------------------------------------------------------------------------


async def test_redelivered_and_replayed_events_change_nothing(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    visit = await Visit(read_side, angkor).schedule()
    await visit.publish(ae.AssessmentStarted, started_on=STARTED)
    await visit.find(WAGES, ae.Result.NON_COMPLIANT, "first look")
    first_finding = visit.envelopes[-1]
    await visit.find(WAGES, ae.Result.COMPLIANT, "the arrears were paid before we left")
    raised = await visit.publish(
        ae.ZeroToleranceIssueRaised, question_id=CHILD, issue=ae.ZeroToleranceIssue.CHILD_LABOUR
    )
    await visit.publish(ae.AssessmentSubmitted)
    returned = await visit.publish(ae.AssessmentReturned, comments="Say who paid the arrears")
    before = await until_status(read_side, visit, "RETURNED")

    # The same envelopes again, and the same events as a replay would bring them (new ids, the
    # versions they had): an older finding does not undo the amendment, no comment is doubled.
    await read_side.send(*visit.envelopes)
    replayed = [dataclasses.replace(e, id=uuid.uuid4()) for e in (first_finding, returned, raised)]
    await read_side.send(*replayed)
    marker = await visit.publish(ae.AssessmentSubmitted)  # applied after everything sent before it
    after = await until_status(read_side, visit, "SUBMITTED")
    assert {**after, "status": "RETURNED", "submittedAt": before["submittedAt"]} == before
    assert dt.datetime.fromisoformat(after["submittedAt"]) == marker.time
    assert after["reviewComments"] == ["Say who paid the arrears"]
    [wages] = after["findings"]["nodes"]
    assert (wages["result"], wages["evidence"]) == ("COMPLIANT", "the arrears were paid before we left")
    alerts = await graphql(read_side, ALERTS % (TODAY, ""), PROGRAMME)
    assert alerts["zeroToleranceAlerts"]["totalCount"] == 1


# --- no N+1 -----------------------------------------------------------------------------------

NESTED = """query ($first: Int) { factories(first: $first) { nodes { factoryId
  assessments { totalCount nodes { assessmentId status cycle
    findings { totalCount nodes { questionId result evidence zeroToleranceIssue recurring } } } } } } }"""


@contextmanager
def statements_of(read_side: ReadSide) -> Iterator[list[str]]:
    """The read-model queries the gateway runs meanwhile (not the consumers' bookkeeping)."""
    engine = read_side.gateway_app.state.runtime.engine.sync_engine
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "consumer_offsets" not in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


async def test_a_page_of_factories_with_assessments_and_findings_is_a_fixed_number_of_queries(
    read_side: ReadSide,
) -> None:
    factories = [await read_side.factory(f"Phnom Penh Garment {n:02}") for n in range(25)]
    envelopes = []
    for factory_id in factories:
        for published_on in (dt.date(2025, 3, 4), dt.date(2026, 3, 4)):
            visit = Visit(read_side, factory_id)
            events: list[ae.AssessmentEvent] = [
                ae.AssessmentScheduled(
                    assessment_id=visit.id,
                    factory_id=factory_id,
                    country="KH",
                    planned_date=PLANNED,
                    assessors=("assessor-sokha",),
                    tool_version="KH-global-1",
                ),
                ae.AssessmentStarted(assessment_id=visit.id, factory_id=factory_id, started_on=STARTED),
                *(
                    ae.FindingRecorded(
                        assessment_id=visit.id,
                        factory_id=factory_id,
                        question_id=q,
                        compliance_point_id=point_of(q),
                        result=ae.Result.NON_COMPLIANT,
                    )
                    for q in (WAGES, PAYSLIPS)
                ),
                ae.AssessmentCompleted(
                    assessment_id=visit.id,
                    factory_id=factory_id,
                    country="KH",
                    tool_version="KH-global-1",
                    published_on=published_on,
                    compliance_points=(),
                    clusters=(),
                ),
            ]
            envelopes += [read_side.envelope(e, visit.stream) for e in events]
    await read_side.send(*envelopes)
    await read_side.until(
        "{ findings { totalCount } }", PROGRAMME, lambda d: d["findings"]["totalCount"] == 25 * 2 * 2, "projected"
    )
    await in_directory(read_side, *factories)
    await read_side.graphql(NESTED, PROGRAMME, {"first": 1})  # the pool's first connections are made

    counts = {}
    for n in (5, 25):
        with statements_of(read_side) as seen:
            answer = await read_side.graphql(NESTED, PROGRAMME, {"first": n})
        nodes = answer["data"]["factories"]["nodes"]
        assert len(nodes) == n
        assert all(len(a["findings"]["nodes"]) == 2 for f in nodes for a in f["assessments"]["nodes"])
        assert all(f["assessments"]["totalCount"] == 2 for f in nodes)
        counts[n] = len(seen)
    assert counts[5] == counts[25] == 3, counts  # factories, their assessments, their findings
