"""A factory's history in GraphQL: every service's events in one timeline, newest first, each entry
for those who may read it; the unannounced visit nobody outside the programme hears of."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from betterwork_events.auth import Audience
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import committee as ce
from betterwork_events.contracts import training as te

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import eventually

HISTORY = """query ($id: ID!, $first: Int, $after: String, $service: HistoryService, $since: DateTime) {
  factory(id: $id) {
    history(first: $first, after: $after, service: $service, since: $since) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { time service type summary }
    }
  }
}"""
TODAY = dt.date(2026, 5, 4)
NEXT_VISIT = TODAY + dt.timedelta(days=23)
ASSESSORS = ("assessor-sokha", "assessor-dara")
REVIEWER = "reviewer-vanna"
TRAINER = "Pich Sopheap, enterprise advisor"
WAGES = "compensation.minimum-wages.01"

REGISTRY = [
    "org.betterwork.factory.registered.v1",
    "org.betterwork.factory.enrollment-applied.v1",
    "org.betterwork.factory.enrolled.v1",
]
# What the factory's and its consenting brand's timelines hold of a visit: its report and after.
PUBLISHED = ["org.betterwork.assessment.completed.v1", "org.betterwork.assessment.finding-remediated.v1"]
BEFORE_PUBLICATION = [
    "org.betterwork.assessment.scheduled.v1",
    "org.betterwork.assessment.started.v1",
    "org.betterwork.assessment.finding-recorded.v1",
    "org.betterwork.assessment.zero-tolerance-issue-raised.v1",
    "org.betterwork.assessment.submitted.v1",
    "org.betterwork.assessment.approved.v1",
]


@dataclass
class Timeline:
    angkor: str
    mekong: str
    northwind: str  # buys from Angkor, which consents
    lotus: str  # buys from Angkor, which does not consent
    harbour: str  # buys from neither
    visit: str  # Angkor's next unannounced visit
    session: str  # a training Angkor and Mekong share
    completed: Any = None  # the envelope of the published report
    training: Any = None  # the envelope of the shared training's scheduling


def course() -> te.ScheduledCourse:
    return te.ScheduledCourse(
        code="SST",
        title="Safety and health for supervisors",
        catalogue_version="2026.1",
        hours=12,
        audience=(te.Role.SUPERVISOR,),
        pre_post_tests=True,
        feedback=True,
    )


def headcount(women: int, men: int) -> te.Headcount:
    return te.Headcount(
        total=women + men,
        by_sex=te.BySex(female=women, male=men, other_or_undisclosed=0),
        by_role=te.ByRole(worker=0, supervisor=women + men, manager=0),
        women_supervisors_and_managers=women,
    )


async def types_of(read_side: ReadSide, factory_id: str, headers: dict[str, str], **variables: Any) -> list[str]:
    answer = await read_side.graphql(HISTORY, headers, {"id": factory_id, "first": 100} | variables)
    assert "errors" not in answer, answer
    found = answer["data"]["factory"]
    return [entry["type"] for entry in found["history"]["nodes"]] if found else []


async def until_latest(read_side: ReadSide, factory_id: str, event_type: str) -> None:
    """Wait for the projection to have applied an event of this type as the factory's latest."""

    async def latest() -> bool:
        return (await types_of(read_side, factory_id, PROGRAMME))[:1] == [event_type]

    await eventually(latest, what=f"{event_type} in {factory_id}'s history")


async def build(read_side: ReadSide) -> Timeline:
    angkor = await read_side.factory("Angkor Apparel Co., Ltd.")
    mekong = await read_side.factory("Mekong Footwear Ltd.")
    northwind, lotus, harbour = [
        await read_side.brand(n) for n in ("Northwind Outfitters", "Lotus Retail Group", "Harbour & Pine")
    ]
    await read_side.supplies(angkor, northwind, consents=True)
    await read_side.supplies(angkor, lotus, consents=False)
    world = Timeline(angkor, mekong, northwind, lotus, harbour, str(uuid.uuid4()), "TS-7KQ2M9XDRA")

    published = str(uuid.uuid4())
    stream = f"assessment-{published}"
    of_visit = {"assessment_id": published, "factory_id": angkor}
    for event in [
        ae.AssessmentScheduled(
            **of_visit, country="KH", planned_date=TODAY, assessors=ASSESSORS, tool_version="KH-global-1"
        ),
        ae.AssessmentStarted(**of_visit, started_on=TODAY),
        ae.FindingRecorded(
            **of_visit,
            question_id=WAGES,
            compliance_point_id="compensation.minimum-wages",
            result=ae.Result.NON_COMPLIANT,
            evidence="payslips of line 14 below the minimum wage",
        ),
        ae.ZeroToleranceIssueRaised(**of_visit, question_id=WAGES, issue=ae.ZeroToleranceIssue.FORCED_LABOUR),
        ae.AssessmentSubmitted(**of_visit),
        ae.AssessmentApproved(**of_visit, reviewer=REVIEWER),
    ]:
        await read_side.publish(event, stream)
    world.completed = await read_side.publish(
        ae.AssessmentCompleted(
            **of_visit,
            country="KH",
            tool_version="KH-global-1",
            published_on=TODAY,
            compliance_points=(
                ae.CompliancePointSummary(
                    compliance_point_id="compensation.minimum-wages",
                    cluster_id="compensation",
                    non_compliant=True,
                    non_compliant_questions=(WAGES,),
                ),
            ),
            clusters=(),
        ),
        stream,
    )
    await read_side.publish(ae.FindingRemediated(**of_visit, question_id=WAGES, note="arrears paid"), stream)
    next_visit = {"assessment_id": world.visit, "factory_id": angkor}
    await read_side.publish(
        ae.AssessmentScheduled(
            **next_visit, country="KH", planned_date=NEXT_VISIT, assessors=ASSESSORS, tool_version="KH-global-1"
        ),
        f"assessment-{world.visit}",
    )

    committee = f"{angkor}-C1"
    await read_side.publish(
        ce.CommitteeEstablished(
            committee_id=committee, factory_id=angkor, country="KH", established_on=TODAY - dt.timedelta(days=60)
        ),
        f"committee-{committee}",
    )

    both = (angkor, mekong)
    session = f"training-session-{world.session}"
    days = (TODAY + dt.timedelta(days=14), TODAY + dt.timedelta(days=15))
    world.training = await read_side.publish(
        te.TrainingSessionScheduled(
            session_id=world.session,
            factory_ids=both,
            country="KH",
            course=course(),
            days=days,
            venue="Better Factories Cambodia training room",
            trainer=TRAINER,
        ),
        session,
    )
    await read_side.publish(
        te.ParticipantRegistered(
            session_id=world.session,
            factory_ids=both,
            participant_id="MF-S-101",
            factory_id=mekong,
            role=te.Role.SUPERVISOR,
            sex=te.Sex.FEMALE,
            name="Chan Sreymom",
        ),
        session,
    )
    await read_side.publish(
        te.TrainingDelivered(
            session_id=world.session,
            factory_ids=both,
            course_code="SST",
            first_day=days[0],
            last_day=days[1],
            hours=12,
            participant_hours=84,
            registered=9,
            attended=headcount(5, 2),
            completed=7,
            factories=(
                te.FactoryAttendance(factory_id=angkor, registered=3, attended=headcount(2, 0), participant_hours=24),
                te.FactoryAttendance(factory_id=mekong, registered=6, attended=headcount(3, 2), participant_hours=60),
            ),
        ),
        session,
    )

    await until_latest(read_side, angkor, "org.betterwork.training.delivered.v1")

    async def registry_in() -> bool:  # the registry's topic is relayed apart from the others
        return "org.betterwork.factory.report-sharing-consent-granted.v1" in await types_of(
            read_side, angkor, PROGRAMME
        )

    await eventually(registry_in, what="the registry's events in Angkor's history")
    assert "org.betterwork.committee.established.v1" in await types_of(read_side, angkor, PROGRAMME)
    return world


ANGKOR_FOR_ITSELF = [
    "org.betterwork.training.delivered.v1",
    "org.betterwork.training.session-scheduled.v1",
    "org.betterwork.committee.established.v1",
    *reversed(PUBLISHED),
]


async def test_each_audience_reads_the_timeline_it_may(read_side: ReadSide) -> None:
    world = await build(read_side)
    programme = await types_of(read_side, world.angkor, PROGRAMME)
    # Newest first, across the four services (the registry's events came first).
    assert (
        programme[:8]
        == [
            "org.betterwork.training.delivered.v1",
            "org.betterwork.training.session-scheduled.v1",
            "org.betterwork.committee.established.v1",
            "org.betterwork.assessment.scheduled.v1",  # the visit to come
            *reversed(PUBLISHED),
            *reversed(BEFORE_PUBLICATION[-2:]),
        ]
    )
    assert programme[8:12] == list(reversed(BEFORE_PUBLICATION[:4]))
    assert set(REGISTRY) < set(programme[12:]) and "org.betterwork.factory.brand-linked.v1" in programme

    angkor = await types_of(read_side, world.angkor, bearer(Audience.FACTORY, world.angkor))
    assert angkor[:5] == ANGKOR_FOR_ITSELF
    assert not set(angkor) & set(BEFORE_PUBLICATION), "the visit is the programme's until its report"
    assert set(REGISTRY) | {"org.betterwork.factory.report-sharing-consent-granted.v1"} <= set(angkor)

    # The consenting brand: the published report and its remediation, nothing else.
    assert await types_of(read_side, world.angkor, bearer(Audience.BRAND, world.northwind)) == list(reversed(PUBLISHED))
    # Out of reach answers as missing: another factory, a brand without consent, an unlinked brand.
    for caller in (
        bearer(Audience.FACTORY, world.mekong),
        bearer(Audience.BRAND, world.lotus),
        bearer(Audience.BRAND, world.harbour),
    ):
        answer = await read_side.graphql(HISTORY, caller, {"id": world.angkor})
        assert answer == {"data": {"factory": None}}, caller
    for country in ("KH", "VN"):
        refused = await read_side.graphql(HISTORY, bearer(Audience.GOVERNMENT, country), {"id": world.angkor})
        assert refused["data"] == {"factory": None} and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # No planned date, no staff's or worker's name in any summary, whoever reads.
    for headers in (PROGRAMME, bearer(Audience.FACTORY, world.angkor), bearer(Audience.BRAND, world.northwind)):
        text = json.dumps(await read_side.graphql(HISTORY, headers, {"id": world.angkor, "first": 100}))
        for secret in (str(NEXT_VISIT), "sokha", "dara", REVIEWER, "Sopheap", "Sreymom", "payslips"):
            assert secret not in text, (headers, secret)
    brand_text = json.dumps(
        await read_side.graphql(HISTORY, bearer(Audience.BRAND, world.northwind), {"id": world.angkor})
    )
    assert world.visit not in brand_text


async def test_a_shared_training_is_in_each_named_factorys_history_with_its_own_numbers(read_side: ReadSide) -> None:
    world = await build(read_side)
    query = {"id": world.mekong, "first": 100, "service": "TRAINING"}
    mekong = (await read_side.graphql(HISTORY, bearer(Audience.FACTORY, world.mekong), query))["data"]["factory"]
    entries = mekong["history"]["nodes"]
    assert [e["type"] for e in entries] == [
        "org.betterwork.training.delivered.v1",
        "org.betterwork.training.participant-registered.v1",  # Mekong's participant: in Mekong's history only
        "org.betterwork.training.session-scheduled.v1",
    ]
    assert {e["service"] for e in entries} == {"TRAINING"}
    assert entries[0]["summary"] == "Training SST delivered: 5 of 6 registered attended"
    angkor = (await read_side.graphql(HISTORY, PROGRAMME, query | {"id": world.angkor}))["data"]["factory"]
    assert [e["summary"] for e in angkor["history"]["nodes"]] == [
        "Training SST delivered: 2 of 3 registered attended",
        "Training SST scheduled: Safety and health for supervisors",
    ]


async def test_pages_and_filters_of_a_timeline(read_side: ReadSide) -> None:
    world = await build(read_side)
    everything = (await read_side.graphql(HISTORY, PROGRAMME, {"id": world.angkor, "first": 100}))["data"]
    nodes = everything["factory"]["history"]["nodes"]
    total = everything["factory"]["history"]["totalCount"]
    assert total == len(nodes)
    assert [n["time"] for n in nodes] == sorted((n["time"] for n in nodes), reverse=True)

    seen: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await read_side.graphql(HISTORY, PROGRAMME, {"id": world.angkor, "first": 4, "after": after})
        assert "errors" not in answer, answer
        page = answer["data"]
        history = page["factory"]["history"]
        assert history["totalCount"] == total
        seen += history["nodes"]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]
    assert seen == nodes

    assessment = await types_of(read_side, world.angkor, PROGRAMME, service="ASSESSMENT")
    assert assessment == ["org.betterwork.assessment.scheduled.v1", *reversed(PUBLISHED), *reversed(BEFORE_PUBLICATION)]
    since = nodes[2]["time"]
    assert await types_of(read_side, world.angkor, PROGRAMME, since=since) == [n["type"] for n in nodes[:3]]


async def test_a_redelivered_event_changes_nothing(read_side: ReadSide) -> None:
    world = await build(read_side)
    callers = [
        (world.angkor, PROGRAMME),
        (world.angkor, bearer(Audience.FACTORY, world.angkor)),
        (world.angkor, bearer(Audience.BRAND, world.northwind)),
        (world.mekong, bearer(Audience.FACTORY, world.mekong)),
    ]
    before = [await types_of(read_side, factory_id, headers) for factory_id, headers in callers]
    await read_side.send(world.completed)
    await read_side.send(world.training)
    # Later events on the same partitions: once they are in, the redeliveries were applied.
    visit = world.completed.contract().assessment_id
    await read_side.publish(
        ae.RemediationVerified(assessment_id=visit, factory_id=world.angkor, question_id=WAGES, verified_by="x"),
        f"assessment-{visit}",
    )
    await read_side.publish(
        te.TrainingSessionCancelled(
            session_id=world.session, factory_ids=(world.angkor, world.mekong), reason="the venue flooded"
        ),
        f"training-session-{world.session}",
    )
    verified, cancelled = (
        "org.betterwork.assessment.remediation-verified.v1",
        "org.betterwork.training.session-cancelled.v1",
    )
    await until_latest(read_side, world.mekong, cancelled)

    async def both_in() -> bool:  # two topics: neither waits for the other
        return (await types_of(read_side, world.angkor, PROGRAMME))[:2] == [cancelled, verified]

    await eventually(both_in, what="both later events in Angkor's history")
    expected = [
        [cancelled, verified, *before[0]],
        [cancelled, verified, *before[1]],
        [verified, *before[2]],
        [cancelled, *before[3]],
    ]
    assert [await types_of(read_side, factory_id, headers) for factory_id, headers in callers] == expected
