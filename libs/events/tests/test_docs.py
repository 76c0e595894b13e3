"""The generated event documentation: it describes what is really sent, and what is committed is
what the code generates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from betterwork_events import brand_feed, docs, openapi
from betterwork_events.catalogue import SCHEMA_URI, EventContract, JsonObject, load_all_contracts
from betterwork_events.contracts import advisory as av
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import committee as cm
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.contracts import surveys as sv
from betterwork_events.contracts import training as tr
from betterwork_events.envelope import Envelope
from jsonschema import Draft7Validator, Draft202012Validator
from pydantic import ValidationError

COMMITTED_DOCS = Path(__file__).parents[1] / "docs"

catalogue = load_all_contracts()
CONTRACTS = catalogue.contracts()
ANGKOR_APPAREL = "KH-2026-0042-5"
DUPLICATE_RECORD = "KH-2026-0043-3"
NORTHWIND = "BR-0001"
MONDAY = date(2026, 3, 2)
PROFILE = fr.FactoryProfile(
    name="Angkor Apparel Co., Ltd.",
    local_name="អង្គរ អាប៉ារ៉ែល",
    country="KH",
    address="National Road 4, Kambol, Phnom Penh",
    location=fr.GeoPoint(latitude=11.5149, longitude=104.8212),
    products=("t-shirts", "knitwear"),
    workforce=fr.Workforce(total=2400, women=1980, men=420, migrant=35),
    ownership=fr.Ownership(parent_group="Mekong Textile Group", ownership_country="HK"),
    registration_numbers=(fr.RegistrationNumber(authority="Ministry of Commerce", number="00012345"),),
    contacts=(
        fr.Contact(name="Sok Dara", role="HR manager", email="hr@angkor-apparel.example", phone="+855 23 000 000"),
    ),
)

VISIT = {"assessment_id": "5b0f8a7e-2c1d-4e3f-9a8b-7c6d5e4f3a2b", "factory_id": ANGKOR_APPAREL}
WAGES = "compensation.minimum-wages.01"
ASSESSMENT_EXAMPLES = [
    ae.AssessmentScheduled(
        **VISIT,
        country="KH",
        planned_date=date(2026, 3, 10),
        assessors=("assessor-sokha", "assessor-dara"),
        tool_version="KH-global-1",
    ),
    ae.AssessmentCancelled(**VISIT, reason="the factory was closed for the Khmer New Year holiday"),
    ae.AssessmentStarted(**VISIT, started_on=date(2026, 3, 10)),
    ae.FindingRecorded(
        **VISIT,
        question_id=WAGES,
        compliance_point_id="compensation.minimum-wages",
        result=ae.Result.NON_COMPLIANT,
        evidence="Payroll for February: 212 sewing operators paid USD 190, below the USD 208 minimum wage.",
        attachments=(
            ae.Attachment(
                filename="payroll-feb.pdf", content_type="application/pdf", size_bytes=48213, sha256="a" * 64
            ),
        ),
    ),
    ae.ZeroToleranceIssueRaised(
        **VISIT, question_id="child-labour.child-labourers.01", issue=ae.ZeroToleranceIssue.CHILD_LABOUR
    ),
    ae.ZeroToleranceIssueAcknowledged(
        **VISIT,
        question_id="child-labour.child-labourers.01",
        acknowledged_by="manager-chan",
        acknowledged_at=datetime(2026, 3, 18, 11, 5, tzinfo=UTC),
    ),
    ae.ZeroToleranceIssueEscalated(
        **VISIT,
        question_id="child-labour.child-labourers.01",
        escalated_by="manager-chan",
        escalated_to="Ministry of Labour and Vocational Training",
        action_taken="The child was removed from work and enrolled in the remediation programme.",
        escalated_on=date(2026, 3, 19),
    ),
    ae.AssessmentSubmitted(**VISIT),
    ae.AssessmentReturned(**VISIT, comments="Add the interview notes behind the overtime findings."),
    ae.AssessmentApproved(**VISIT, reviewer="reviewer-vanna"),
    ae.AssessmentCompleted(
        **VISIT,
        country="KH",
        tool_version="KH-global-1",
        published_on=date(2026, 4, 2),
        compliance_points=(
            ae.CompliancePointSummary(
                compliance_point_id="compensation.minimum-wages",
                cluster_id="compensation",
                non_compliant=True,
                non_compliant_questions=(WAGES,),
            ),
        ),
        clusters=(
            ae.ClusterSummary(
                cluster_id="compensation",
                compliance_points_assessed=7,
                compliance_points_non_compliant=1,
                non_compliance_rate=0.1429,
            ),
        ),
        recurring_questions=(WAGES,),
        previous_assessment_id="0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b",
    ),
    ae.PublicReportPublished(
        **VISIT,
        country="KH",
        published_on=date(2026, 4, 2),
        non_compliant_public_issues=("compensation.minimum-wages",),
    ),
    ae.ImprovementActionAdded(
        **VISIT,
        action_id="3fa85f6457",
        question_id=WAGES,
        what="Pay February arrears to 212 operators",
        who="HR manager",
        due_on=date(2026, 4, 30),
    ),
    ae.ImprovementProgressReported(
        **VISIT, action_id="3fa85f6457", note="Arrears paid with the April wages", done=True
    ),
    ae.FindingRemediated(**VISIT, question_id=WAGES, note="Arrears paid; payroll system corrected"),
    ae.RemediationVerified(**VISIT, question_id=WAGES, verified_by="advisor-kim"),
    ae.RemediationRejected(**VISIT, question_id=WAGES, reason="April payslips still show the old rate for 14 workers"),
    ae.PublicResponseRecorded(
        **VISIT, response="All arrears have been paid and payroll now uses the 2026 minimum wage."
    ),
]
SAIGON_STITCH = "VN-2026-0012-8"
DONG_NAI_KNITWEAR = "VN-2026-0031-8"
SST_SESSION = "TS-7KQ2M9XDRA"
SST_FACTORIES = (SAIGON_STITCH, DONG_NAI_KNITWEAR)
SST = tr.ScheduledCourse(
    code="SST",
    title="Supervisory Skills Training",
    catalogue_version="2026.1",
    hours=16,
    audience=(tr.Role.SUPERVISOR,),
    pre_post_tests=True,
    feedback=True,
)
TRAINING_DAYS = (date(2026, 3, 10), date(2026, 3, 11))
ANGKOR_PICC = {"committee_id": f"{ANGKOR_APPAREL}-C1", "factory_id": ANGKOR_APPAREL}
SREYMOM = cm.Person(employee_number="AA-01873", name="Chan Sreymom", sex=cm.Sex.FEMALE, job_title="sewing operator")
SOPHEA = cm.Person(employee_number="AA-00412", name="Keo Sophea", sex=cm.Sex.FEMALE, job_title="quality inspector")
SREYPOV = cm.Person(employee_number="AA-03310", name="Srey Pov", sex=cm.Sex.FEMALE)
WORKER_SEAT = cm.CommitteeMember(
    member_id="M-1",
    person=SREYMOM,
    side=cm.Side.WORKERS,
    term_starts_on=date(2026, 3, 16),
    term_ends_on=date(2028, 3, 15),
    election_id="E-1",
)
MANAGEMENT_SEAT = cm.CommitteeMember(
    member_id="M-3",
    person=cm.Person(employee_number="AA-00007", name="Sok Dara", sex=cm.Sex.FEMALE, job_title="HR manager"),
    side=cm.Side.MANAGEMENT,
    office=cm.Office.SECRETARY,
    term_starts_on=date(2026, 3, 16),
)
ANGKOR_PLAN = {"plan_id": f"{ANGKOR_APPAREL}-AP1", "factory_id": ANGKOR_APPAREL}
EXITS_PRIORITY = av.AdvisoryPriority(
    priority_id="P-1",
    topic=av.AdvisoryTopic.FIRE_SAFETY,
    description="Keep every emergency exit of the cutting floor clear",
    links=("finding:KH-2026-0042-5-A1-F7", "action-item:KH-2026-0042-5-C1/AI-1"),
)
EXTRA_VISITS = av.Approval(
    approved_by="Country programme manager, Better Factories Cambodia",
    approved_on=date(2026, 3, 30),
    reason="two fire-safety findings need a visit every six weeks",
)

SAFETY = sv.Question(id="feels-safe", text="I feel safe at work", type=sv.QuestionType.SCALE, scale_max=5)
OUTLOOK = sv.Question(id="orders-outlook", text="Orders next year", type=sv.QuestionType.CHOICE, options=("up", "down"))
SURVEY_ROUND = {"round_id": "3f9c1d2e7a6b4c5d", "factory_id": ANGKOR_APPAREL}
SURVEY_EXAMPLES = [
    sv.QuestionnairePublished(
        questionnaire_id="worker-wellbeing",
        kind=sv.SurveyKind.WORKER,
        title="Worker well-being",
        version=2,
        questions=(SAFETY,),
    ),
    sv.SurveyRoundOpened(
        **SURVEY_ROUND,
        country="KH",
        questionnaire_id="worker-wellbeing",
        questionnaire_version=2,
        kind=sv.SurveyKind.WORKER,
        questions=(SAFETY,),
        opened_on=MONDAY,
    ),
    sv.WorkerSurveyResponseRecorded(
        **SURVEY_ROUND,
        response_id="9b2f4e0c1a7d4d8e9f3a6b5c4d3e2f1a",
        sex=tr.Sex.FEMALE,
        age_band=sv.AgeBand.FROM_25_TO_34,
        role=tr.Role.WORKER,
        answers=(sv.Answer(question_id="feels-safe", value=4),),
    ),
    sv.ManagerSurveyResponseRecorded(
        **SURVEY_ROUND,
        response_id="0d1c2b3a49584f6e8d7c6b5a49382716",
        figures=sv.BusinessFigures(
            period_start=date(2025, 1, 1),
            period_end=date(2025, 12, 31),
            sales=12_500_000,
            currency="USD",
            production_capacity=180_000,
            employment=2400,
        ),
        answers=(sv.Answer(question_id="orders-outlook", value="up"),),
    ),
    sv.SurveyRoundClosed(**SURVEY_ROUND, closed_on=MONDAY, responses=412),
]

# One realistic event per contract. A new contract needs one here: test_every_contract_has_an_example.
EXAMPLES: dict[str, EventContract] = {
    event.event_type: event
    for event in [
        fr.FactoryRegistered(factory_id=ANGKOR_APPAREL, profile=PROFILE),
        fr.FactoryProfileUpdated(
            factory_id=ANGKOR_APPAREL,
            profile=PROFILE.model_copy(update={"address": "Kambol, Phnom Penh"}),
            changed=("address",),
        ),
        fr.FactoryEnrollmentApplied(factory_id=ANGKOR_APPAREL, country="KH"),
        fr.FactoryEnrolled(
            factory_id=ANGKOR_APPAREL, country="KH", service_package=fr.ServicePackage.CORE, enrolled_on=MONDAY
        ),
        fr.FactoryEnrollmentSuspended(factory_id=ANGKOR_APPAREL, reason="service fees unpaid for two quarters"),
        fr.FactoryEnrollmentReinstated(factory_id=ANGKOR_APPAREL, reason="fees paid"),
        fr.FactoryWithdrawn(factory_id=ANGKOR_APPAREL, reason="the factory left the programme"),
        fr.FactoryClosed(factory_id=ANGKOR_APPAREL, reason="the factory shut down"),
        fr.FactoryMerged(
            factory_id=DUPLICATE_RECORD, surviving_factory_id=ANGKOR_APPAREL, reason="same site registered twice"
        ),
        fr.FactoryDuplicateAbsorbed(
            factory_id=ANGKOR_APPAREL,
            merged_factory_id=DUPLICATE_RECORD,
            brand_links={NORTHWIND: MONDAY},
            consenting_brands=(NORTHWIND,),
        ),
        fr.BrandLinked(factory_id=ANGKOR_APPAREL, brand_id=NORTHWIND, since=MONDAY),
        fr.BrandUnlinked(factory_id=ANGKOR_APPAREL, brand_id=NORTHWIND, until=date(2026, 9, 30)),
        fr.ReportSharingConsentGranted(factory_id=ANGKOR_APPAREL, brand_id=NORTHWIND),
        fr.ReportSharingConsentRevoked(factory_id=ANGKOR_APPAREL, brand_id=NORTHWIND),
        fr.BrandRegistered(
            brand_id=NORTHWIND,
            name="Northwind Outfitters",
            kind=fr.BrandKind.RETAILER,
            headquarters_country="US",
            partnership=fr.PartnershipStatus.PARTNER,
        ),
        fr.BrandPartnershipChanged(brand_id=NORTHWIND, partnership=fr.PartnershipStatus.FORMER_PARTNER),
        *ASSESSMENT_EXAMPLES,
        *SURVEY_EXAMPLES,
        tr.TrainingSessionScheduled(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            country="VN",
            course=SST,
            days=TRAINING_DAYS,
            venue="Better Work Vietnam training room, Thu Dau Mot, Binh Duong",
            trainer="Nguyen Thi Lan, enterprise advisor",
        ),
        tr.TrainingSessionRescheduled(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            days=(date(2026, 3, 10), date(2026, 3, 12)),
            venue="Better Work Vietnam training room, Thu Dau Mot, Binh Duong",
            reason="Dong Nai Knitwear ships a peak order on 11 March; its supervisors cannot leave the lines",
        ),
        tr.ParticipantRegistered(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            participant_id="SS-S-001",
            factory_id=SAIGON_STITCH,
            role=tr.Role.SUPERVISOR,
            sex=tr.Sex.FEMALE,
        ),
        tr.AttendanceRecorded(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            day=TRAINING_DAYS[0],
            present=("DN-S-101", "DN-S-102", "SS-S-001", "SS-S-002", "SS-S-003"),
        ),
        tr.TestScoreRecorded(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            participant_id="SS-S-001",
            factory_id=SAIGON_STITCH,
            phase=tr.TestPhase.POST,
            score=85,
        ),
        tr.FeedbackGiven(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            participant_id="DN-S-101",
            factory_id=DONG_NAI_KNITWEAR,
            rating=5,
            comment="The role plays on giving instructions without shouting were the most useful part",
        ),
        tr.TrainingDelivered(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            course_code="SST",
            first_day=TRAINING_DAYS[0],
            last_day=TRAINING_DAYS[1],
            hours=16,
            participant_hours=72,
            registered=5,
            attended=tr.Headcount(
                total=5,
                by_sex=tr.BySex(female=3, male=1, other_or_undisclosed=1),
                by_role=tr.ByRole(worker=0, supervisor=5, manager=0),
                women_supervisors_and_managers=3,
            ),
            completed=4,
            factories=(
                tr.FactoryAttendance(
                    factory_id=SAIGON_STITCH,
                    registered=3,
                    attended=tr.Headcount(
                        total=3,
                        by_sex=tr.BySex(female=2, male=1, other_or_undisclosed=0),
                        by_role=tr.ByRole(worker=0, supervisor=3, manager=0),
                        women_supervisors_and_managers=2,
                    ),
                    participant_hours=40,
                ),
                tr.FactoryAttendance(
                    factory_id=DONG_NAI_KNITWEAR,
                    registered=2,
                    attended=tr.Headcount(
                        total=2,
                        by_sex=tr.BySex(female=1, male=0, other_or_undisclosed=1),
                        by_role=tr.ByRole(worker=0, supervisor=2, manager=0),
                        women_supervisors_and_managers=1,
                    ),
                    participant_hours=32,
                ),
            ),
        ),
        tr.TrainingSessionCancelled(
            session_id=SST_SESSION,
            factory_ids=SST_FACTORIES,
            reason="typhoon warning for Binh Duong: the venue is closed",
        ),
        cm.CommitteeEstablished(**ANGKOR_PICC, country="KH", established_on=MONDAY),
        cm.ElectionRecorded(
            **ANGKOR_PICC,
            election_id="E-1",
            held_on=date(2026, 3, 16),
            seats=2,
            candidates=(
                cm.Candidate(person=SREYMOM, votes=412),
                cm.Candidate(person=SOPHEA, votes=388),
                cm.Candidate(person=SREYPOV, votes=150),
            ),
            elected=(WORKER_SEAT, WORKER_SEAT.model_copy(update={"member_id": "M-2", "person": SOPHEA})),
        ),
        cm.ManagementRepresentativeAppointed(**ANGKOR_PICC, member=MANAGEMENT_SEAT),
        cm.MemberOfficeAssigned(**ANGKOR_PICC, member_id="M-1", office=cm.Office.CHAIR),
        cm.MemberLeft(
            **ANGKOR_PICC, member_id="M-3", left_on=date(2026, 5, 4), reason="moved to the group's head office"
        ),
        cm.MemberReplaced(
            **ANGKOR_PICC,
            member_id="M-2",
            replaced_on=date(2026, 5, 4),
            reason="resigned from the factory",
            replacement=WORKER_SEAT.model_copy(
                update={"member_id": "M-4", "person": SREYPOV, "term_starts_on": date(2026, 5, 4)}
            ),
        ),
        cm.MeetingRecorded(
            **ANGKOR_PICC,
            meeting_id="MT-1",
            held_on=date(2026, 4, 8),
            attendees=("M-1", "M-2", "M-3"),
            guests=("Pich Sopheap (Better Factories Cambodia advisor)",),
            agenda=(
                cm.AgendaTopic(
                    title="Blocked emergency exit on the cutting floor",
                    references=("finding:KH-2026-0042-5-A1-F7", "compliance-point:OSH-emergency-exits"),
                ),
                cm.AgendaTopic(title="Drinking water in the canteen"),
            ),
            minutes="The committee walked the cutting floor; the east exit was blocked by fabric rolls.",
            decisions=("Fabric rolls are stored away from every exit",),
        ),
        cm.ActionItemRaised(
            **ANGKOR_PICC,
            action_item_id="AI-1",
            meeting_id="MT-1",
            description="Clear the east exit and mark the floor in front of it",
            owner="M-3",
            due_on=date(2026, 4, 15),
            references=("finding:KH-2026-0042-5-A1-F7",),
        ),
        cm.ActionItemStarted(**ANGKOR_PICC, action_item_id="AI-1", note="floor marking paint ordered"),
        cm.ActionItemClosed(
            **ANGKOR_PICC, action_item_id="AI-1", closed_on=date(2026, 4, 14), outcome="exit cleared and marked"
        ),
        cm.CommitteeDissolved(
            **ANGKOR_PICC, dissolved_on=date(2026, 12, 31), reason="the factory closed and its workers were laid off"
        ),
        av.AdvisoryPlanAgreed(
            **ANGKOR_PLAN,
            country="KH",
            cycle=1,
            starts_on=date(2026, 4, 1),
            ends_on=date(2027, 3, 31),
            service_package=fr.ServicePackage.CORE,
            visits_included=4,
            visits_promised=6,
            extra_visits_approval=EXTRA_VISITS,
            advisor="Pich Sopheap",
            priorities=(EXITS_PRIORITY,),
        ),
        av.AdvisorAssigned(
            **ANGKOR_PLAN, advisor="Heng Vanna", assigned_on=date(2026, 9, 1), reason="Pich Sopheap moved to Siem Reap"
        ),
        av.AdvisoryPriorityAgreed(
            **ANGKOR_PLAN,
            priority=EXITS_PRIORITY.model_copy(
                update={
                    "priority_id": "P-2",
                    "topic": av.AdvisoryTopic.WORKING_HOURS,
                    "description": "Plan overtime so that no line works more than 60 hours a week",
                    "links": ("finding:KH-2026-0042-5-A1-F9",),
                }
            ),
        ),
        av.AdvisoryVisitsRevised(
            **ANGKOR_PLAN,
            visits_promised=7,
            reason="one more visit on overtime planning",
            extra_visits_approval=EXTRA_VISITS,
        ),
        av.AdvisoryVisitPlanned(
            **ANGKOR_PLAN,
            visit_id="V-1",
            planned_on=date(2026, 4, 2),
            planned_for=date(2026, 4, 20),
            topics=(av.AdvisoryTopic.FIRE_SAFETY,),
        ),
        av.AdvisoryVisitHeld(
            **ANGKOR_PLAN,
            visit_id="V-1",
            held_on=date(2026, 4, 21),
            advisor="Pich Sopheap",
            remote=False,
            participants=av.Participants(
                management=(av.Attendee(name="Sok Dara", role="HR manager"),),
                committee_members=(
                    av.CommitteeAttendee(
                        committee_id=f"{ANGKOR_APPAREL}-C1", member_id="M-1", side=cm.Side.WORKERS, sex=cm.Sex.FEMALE
                    ),
                ),
                union=av.UnionPresence(
                    union="Cambodian Alliance of Trade Unions",
                    representatives=(av.Attendee(name="Meas Sokly", role="shop steward"),),
                ),
            ),
            topics=(av.TopicWorked(topic=av.AdvisoryTopic.FIRE_SAFETY, priority_id="P-1", note="walked the floor"),),
            notes="The east exit of the cutting floor was blocked by fabric rolls; the HR manager agreed a store.",
        ),
        av.AdvisoryCommitmentMade(
            **ANGKOR_PLAN,
            commitment_id="CM-1",
            visit_id="V-1",
            description="Move the fabric rolls away from the east exit and mark the floor",
            topic=av.AdvisoryTopic.FIRE_SAFETY,
            priority_id="P-1",
            due_on=date(2026, 5, 1),
        ),
        av.AdvisoryCommitmentFollowedUp(
            **ANGKOR_PLAN,
            commitment_id="CM-1",
            visit_id="V-2",
            status=av.FollowUpStatus.DONE,
            note="exit clear, floor marked in yellow",
        ),
        av.AdvisoryVisitCancelled(
            **ANGKOR_PLAN, visit_id="V-3", cancelled_on=date(2026, 9, 10), reason="the factory closed for Pchum Ben"
        ),
        av.AdvisoryVisitMissed(
            **ANGKOR_PLAN,
            visit_id="V-4",
            missed_on=date(2026, 10, 5),
            reason="the factory gate was closed to the advisor",
        ),
        av.AdvisoryVisitRecordConfirmed(
            **ANGKOR_PLAN, visit_id="V-1", confirmed_on=date(2026, 4, 23), comment="the new store is being built"
        ),
        av.AdvisoryVisitRecordCommented(
            **ANGKOR_PLAN, visit_id="V-4", commented_on=date(2026, 10, 6), comment="nobody told the guard of the visit"
        ),
    ]
}

# Constraints beyond the shape, one bad value each: the schema must carry them too.
CONSTRAINT_VIOLATIONS: dict[str, dict[str, JsonObject]] = {
    fr.FactoryRegistered.event_type: {
        "country not ISO 3166 alpha-2": {"profile": PROFILE.model_dump(mode="json") | {"country": "Cambodia"}},
        "empty name": {"profile": PROFILE.model_dump(mode="json") | {"name": ""}},
        "address too long": {"profile": PROFILE.model_dump(mode="json") | {"address": "x" * 1001}},
        "negative workforce": {
            "profile": PROFILE.model_dump(mode="json")
            | {"workforce": {"total": -1, "women": 0, "men": 0, "migrant": 0}}
        },
    },
    fr.FactoryProfileUpdated.event_type: {"nothing changed": {"changed": []}},
    fr.FactoryEnrollmentSuspended.event_type: {"empty reason": {"reason": ""}},
    tr.ParticipantRegistered.event_type: {
        "a participant id with spaces": {"participant_id": "Tran Thi Mai"},
        "a sex outside the list": {"sex": "unknown"},
    },
    tr.TestScoreRecorded.event_type: {"score above 100": {"score": 101}},
    tr.FeedbackGiven.event_type: {"rating of 0": {"rating": 0}},
    tr.TrainingSessionScheduled.event_type: {"no days": {"days": []}, "no factories": {"factory_ids": []}},
    cm.ElectionRecorded.event_type: {
        "no candidates": {"candidates": []},
        "negative votes": {"candidates": [{"person": SREYMOM.model_dump(mode="json"), "votes": -1}]},
    },
    av.AdvisoryPlanAgreed.event_type: {
        "no visits": {"visits_promised": 0},
        "a topic of no cluster": {"priorities": [EXITS_PRIORITY.model_dump(mode="json") | {"topic": "osh"}]},
        "a priority linked to nothing": {"priorities": [EXITS_PRIORITY.model_dump(mode="json") | {"links": []}]},
        "a link of no known kind": {
            "priorities": [EXITS_PRIORITY.model_dump(mode="json") | {"links": ["action-item:AI-1"]}]
        },
    },
    av.AdvisoryVisitHeld.event_type: {"nothing worked on": {"topics": []}, "no notes": {"notes": ""}},
    av.AdvisoryCommitmentFollowedUp.event_type: {"a status of no kind": {"status": "forgotten"}},
    cm.MeetingRecorded.event_type: {
        "nobody attended": {"attendees": []},
        "a reference of no known kind": {"agenda": [{"title": "Overtime", "references": ["KH-2026-0042-5-A1-F7"]}]},
        "not a member id": {"attendees": ["Chan Sreymom"]},
    },
}


def example_data(event_type: str) -> JsonObject:
    # The body exactly as the event store records it and the relay publishes it.
    return EXAMPLES[event_type].model_dump(mode="json")


def bad_instances() -> list[Any]:
    cases = []
    for contract in CONTRACTS:
        data = example_data(contract.event_type)
        variants = {"unknown field": data | {"inspector_notes": "not part of the contract"}}
        for field in contract.model_json_schema().get("required", []):
            variants[f"without {field}"] = {k: v for k, v in data.items() if k != field}
        for field, value in data.items():
            variants[f"{field} of the wrong type"] = data | {field: [value]}
        for label, change in CONSTRAINT_VIOLATIONS.get(contract.event_type, {}).items():
            variants[label] = data | change
        cases += [pytest.param(contract, bad, id=f"{contract.event_type}: {label}") for label, bad in variants.items()]
    return cases


def envelope(event: EventContract, *, with_optional_attributes: bool) -> Envelope:
    optional: dict[str, Any] = {}
    if with_optional_attributes:
        optional = {
            "correlationid": UUID("0b7e6f1c-5a2d-4e8b-9c3f-7d1a2b4c6e8f"),
            "causationid": UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "actor": "programme:kh-enterprise-advisor-017",
        }
    return Envelope(
        id=UUID("c2a4e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e8f"),
        source="/betterwork/factory-registry",
        type=event.event_type,
        subject=f"factory-{ANGKOR_APPAREL}",
        time=datetime(2025, 3, 4, 2, 30, 15, tzinfo=UTC),
        data_json=event.model_dump_json(),
        streamversion=1,
        position=1842,
        factoryid=event.factory_id_key,  # the event store always records it for events about a factory
        **optional,
    )


def kafka_headers(envelope: Envelope) -> dict[str, str]:
    return kafka_headers_of(envelope.kafka_headers())


def kafka_headers_of(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    return {name: value.decode() for name, value in headers}


def resolve(document: JsonObject, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def messages_by_type() -> dict[str, JsonObject]:
    """The messages of the services' own topics (the brand feed's are described apart)."""
    document = docs.asyncapi_document(catalogue)
    return {
        message["name"]: message
        for key, channel in document["channels"].items()
        if key != docs.BRAND_CHANNEL
        for message in channel["messages"].values()
    }


def brand_feed_messages() -> dict[str, JsonObject]:
    channel = docs.asyncapi_document(catalogue)["channels"][docs.BRAND_CHANNEL]
    return {message["name"]: message for message in channel["messages"].values()}


# --- AsyncAPI -----------------------------------------------------------------------------------


def test_the_document_is_asyncapi_3() -> None:
    assert docs.asyncapi_document(catalogue)["asyncapi"] == "3.0.0"


def test_the_factory_registry_topic_carries_a_message_for_every_factory_registry_contract() -> None:
    channel = docs.asyncapi_document(catalogue)["channels"]["factory-registry.events"]
    expected = {c.event_type for c in CONTRACTS if c.topic_service == "factory-registry"}

    assert expected, "the catalogue has no factory-registry contracts"
    assert channel["address"] == "factory-registry.events"
    assert {message["name"] for message in channel["messages"].values()} == expected


def test_every_contract_is_a_message_on_its_services_topic_with_its_schema_as_payload() -> None:
    channels = docs.asyncapi_document(catalogue)["channels"]
    for contract in CONTRACTS:
        message = channels[f"{contract.topic_service}.events"]["messages"][contract.event_type]
        assert message["name"] == message["title"] == contract.event_type
        payload = message["payload"]["schema"]
        # The schema file's, its definitions written in (the AsyncAPI parser cannot follow `#/$defs/...`).
        assert payload == docs.embedded_payload_schema(contract)
        assert payload["$id"] == docs.event_schema(contract)["$id"] and "$defs" not in payload
        assert '"$ref"' not in json.dumps(payload)
        assert Draft202012Validator(payload).is_valid(example_data(contract.event_type))


def test_every_topic_has_a_receive_operation_for_all_its_messages() -> None:
    document = docs.asyncapi_document(catalogue)
    operations = list(document["operations"].values())
    for channel in document["channels"].values():
        (operation,) = [op for op in operations if resolve(document, op["channel"]["$ref"]) is channel]
        assert operation["action"] == "receive"
        received = [resolve(document, ref["$ref"]) for ref in operation["messages"]]
        assert sorted(m["name"] for m in received) == sorted(m["name"] for m in channel["messages"].values())


def test_the_correlation_id_points_at_a_header_that_is_described() -> None:
    for message in messages_by_type().values():
        assert message["correlationId"]["location"] == "$message.header#/ce_correlationid"
        assert "ce_correlationid" in message["headers"]["properties"]


def test_the_kafka_key_is_described_as_the_factory_id_or_for_streams_of_several_factories_the_stream() -> None:
    for event_type, message in messages_by_type().items():
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string"
        keyed_by = "The factory id" if catalogue.contract(event_type).keyed_by_factory else "The stream id"
        assert key["description"].startswith(keyed_by)


def test_a_training_session_for_several_factories_keys_all_its_events_by_the_session() -> None:
    participant = EXAMPLES[tr.ParticipantRegistered.event_type]
    sent = envelope(participant, with_optional_attributes=False)

    assert participant.factory_id_key is None and "ce_factoryid" not in kafka_headers(sent)
    assert "ce_factoryid" not in messages_by_type()[tr.ParticipantRegistered.event_type]["headers"]["properties"]


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_the_headers_schema_describes_exactly_the_headers_the_envelope_sends(event_type: str) -> None:
    schema = messages_by_type()[event_type]["headers"]
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    every_header = kafka_headers(envelope(EXAMPLES[event_type], with_optional_attributes=True))
    always_sent = kafka_headers(envelope(EXAMPLES[event_type], with_optional_attributes=False))

    validator.validate(every_header)
    validator.validate(always_sent)
    assert set(schema["properties"]) == set(every_header)
    assert set(schema["required"]) == set(always_sent)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_the_headers_schema_rejects_the_headers_of_another_event_type(event_type: str) -> None:
    schema = messages_by_type()[event_type]["headers"]
    other = next(e for t, e in EXAMPLES.items() if t != event_type)

    assert not Draft7Validator(schema).is_valid(kafka_headers(envelope(other, with_optional_attributes=True)))


# --- The brand feed ------------------------------------------------------------------------------

NEVER_FOR_BRANDS = {
    ae.AssessmentScheduled,
    ae.AssessmentStarted,
    ae.AssessmentCancelled,
    ae.FindingRecorded,
    ae.ZeroToleranceIssueRaised,
    ae.ZeroToleranceIssueAcknowledged,
    ae.ZeroToleranceIssueEscalated,
    ae.AssessmentSubmitted,
    ae.AssessmentReturned,
    ae.AssessmentApproved,
}


def test_the_brand_channel_is_one_topic_per_brand_named_like_the_gateway_names_it() -> None:
    channel = docs.asyncapi_document(catalogue)["channels"][docs.BRAND_CHANNEL]

    assert channel["address"] == "brand.{brandId}.events"
    assert set(channel["parameters"]) == {"brandId"}
    assert channel["address"].replace("{brandId}", NORTHWIND) == brand_feed.topic(NORTHWIND)


def test_the_brand_channel_carries_published_data_and_relationships_and_nothing_from_before_publication() -> None:
    carried = set(brand_feed_messages())

    assert carried == {c.event_type for c in brand_feed.CONTRACTS}
    assert carried == {
        ae.AssessmentCompleted.event_type,
        ae.PublicReportPublished.event_type,
        ae.FindingRemediated.event_type,
        ae.RemediationVerified.event_type,
        ae.RemediationRejected.event_type,
        fr.BrandLinked.event_type,
        fr.BrandUnlinked.event_type,
        fr.ReportSharingConsentGranted.event_type,
        fr.ReportSharingConsentRevoked.event_type,
    }
    assert not carried & {c.event_type for c in NEVER_FOR_BRANDS}


@pytest.mark.parametrize("contract", brand_feed.CONTRACTS, ids=lambda c: c.event_type)
def test_the_brand_headers_schema_describes_exactly_the_headers_a_brand_receives(
    contract: type[EventContract],
) -> None:
    schema = brand_feed_messages()[contract.event_type]["headers"]
    sent = envelope(EXAMPLES[contract.event_type], with_optional_attributes=True)
    received = kafka_headers_of(brand_feed.BrandFeedEvent.for_brand(sent, NORTHWIND).kafka_headers())

    Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER).validate(received)
    assert set(schema["properties"]) == set(schema["required"]) == set(received)
    assert "ce_actor" not in received and schema["additionalProperties"] is False


@pytest.mark.parametrize("contract", brand_feed.CONTRACTS, ids=lambda c: c.event_type)
def test_a_brands_copy_has_the_body_its_schema_describes(contract: type[EventContract]) -> None:
    sent = envelope(EXAMPLES[contract.event_type], with_optional_attributes=True)
    copy = brand_feed.BrandFeedEvent.for_brand(sent, NORTHWIND)
    message = brand_feed_messages()[contract.event_type]

    Draft202012Validator(message["payload"]["schema"]).validate(json.loads(copy.kafka_value()))


def test_the_brand_operation_tells_brands_to_ignore_a_repeated_id() -> None:
    operation = docs.asyncapi_document(catalogue)["operations"][f"receive.{docs.BRAND_CHANNEL}"]

    assert "same ce_id" in operation["bindings"]["kafka"]["groupId"]["description"]


# --- JSON Schema per event type -----------------------------------------------------------------


def test_every_contract_has_an_example() -> None:
    assert set(EXAMPLES) == {contract.event_type for contract in CONTRACTS}


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.event_type)
def test_the_schema_is_draft_2020_12_and_identified_by_its_dataschema_uri(contract: type[EventContract]) -> None:
    schema = docs.event_schema(contract)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_URI.format(type=contract.event_type)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.event_type)
def test_the_schema_accepts_a_real_event(contract: type[EventContract]) -> None:
    Draft202012Validator(docs.event_schema(contract)).validate(example_data(contract.event_type))


@pytest.mark.parametrize(("contract", "bad"), bad_instances())
def test_the_schema_rejects_what_the_contract_rejects(contract: type[EventContract], bad: JsonObject) -> None:
    with pytest.raises(ValidationError):
        contract.model_validate(bad)
    assert not Draft202012Validator(docs.event_schema(contract)).is_valid(bad)


# --- The committed output -----------------------------------------------------------------------


def test_the_committed_event_docs_are_what_the_catalogue_generates() -> None:
    problems = docs.drift(COMMITTED_DOCS, docs.generated_files(catalogue), docs.OWNED)

    assert problems == [], "regenerate with: uv run python -m betterwork_events.docs --out libs/events/docs"


def test_the_committed_openapi_docs_are_what_the_services_generate() -> None:
    files = openapi.generated_files()
    problems = docs.drift(COMMITTED_DOCS / "openapi", files, openapi.OWNED)

    assert "factory-registry.openapi.json" in files
    assert problems == [], "regenerate with: uv run python -m betterwork_events.openapi --out libs/events/docs/openapi"


def test_check_fails_on_a_changed_missing_or_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    some_schema = docs.schema_file(CONTRACTS[0].event_type)
    assert docs.main(["--out", str(tmp_path)]) == 0
    assert docs.main(["--out", str(tmp_path), "--check"]) == 0

    (tmp_path / some_schema).write_text("{}\n")
    (tmp_path / docs.ASYNCAPI_FILE).unlink()
    (tmp_path / docs.schema_file("org.betterwork.factory.demolished.v1")).write_text("{}\n")
    capsys.readouterr()

    assert docs.main(["--out", str(tmp_path), "--check"]) == 1
    report = capsys.readouterr().err
    assert f"out of date: {some_schema}" in report
    assert f"missing: {docs.ASYNCAPI_FILE}" in report
    assert "not generated (stale): schemas/org.betterwork.factory.demolished.v1.json" in report


def test_regenerating_removes_the_schema_of_a_removed_contract(tmp_path: Path) -> None:
    stale = tmp_path / docs.schema_file("org.betterwork.factory.demolished.v1")
    stale.parent.mkdir()
    stale.write_text("{}\n")
    (tmp_path / "README.md").write_text("not ours\n")

    assert docs.main(["--out", str(tmp_path)]) == 0

    assert not stale.exists()
    assert (tmp_path / "README.md").exists()
    assert docs.drift(tmp_path, docs.generated_files(catalogue), docs.OWNED) == []
