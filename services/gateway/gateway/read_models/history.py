"""One timeline per factory, across every service: what happened to it, for those who may read it.

Every event that names a factory becomes one row per factory it names (a training session for
two factories: a row in each one's timeline; an event about one participant: a row in that
participant's factory's only). Each row carries a short summary built from the event's data,
never a personal or confidential value (no planned date, no worker's or staff member's name, no
free text a person wrote), and a visibility class decided here, from the event type, when the
row is written. Which classes each audience reads is the policy's decision (`Scope.history`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts import advisory as ve
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import committee as ce
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.contracts import surveys as se
from betterwork_events.contracts import training as te
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.directory import factories
from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope


class Visibility(StrEnum):
    """Who an entry is for, at least: the policy says which classes each audience reads."""

    PROGRAMME = "programme"  # scheduling and the visit itself, findings, reviews, zero tolerance
    FACTORY = "factory"  # also the factory: its registry record, improvement plans, committee, trainings
    BRAND = "brand"  # also its linked consenting brands: published reports, remediation status


factory_history = sa.Table(
    "factory_history",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, primary_key=True),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("visibility", sa.Text, nullable=False),
)

Summary = Callable[[Any], str]


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _non_compliant(e: ae.AssessmentCompleted) -> str:
    found = sum(p.non_compliant for p in e.compliance_points)
    return (
        f"Assessment report published: {found} of {_count(len(e.compliance_points), 'compliance point')} non-compliant"
    )


def _training_delivered(e: te.TrainingDelivered, factory_id: str) -> str:
    own = next((f for f in e.factories if f.factory_id == factory_id), None)
    # Of a session shared with other factories, each factory reads its own people's numbers only.
    attended = f": {own.attended.total} of {own.registered} registered attended" if own else ""
    return f"Training {e.course_code} delivered{attended}"


# What each event says in a timeline, and to whom. Summaries take only ids, codes, counts and
# statuses from the event: never a date still to come, a name, or free text.
ENTRIES: dict[type[EventContract], tuple[Visibility, Summary]] = {
    # factory-registry: the factory's own record (the registry shows it to programme and factory)
    fr.FactoryRegistered: (Visibility.FACTORY, lambda e: f"Registered in the programme ({e.profile.country})"),
    fr.FactoryProfileUpdated: (Visibility.FACTORY, lambda e: f"Profile updated: {', '.join(e.changed)}"),
    fr.FactoryEnrollmentApplied: (Visibility.FACTORY, lambda e: f"Applied to enroll in the {e.country} programme"),
    fr.FactoryEnrolled: (
        Visibility.FACTORY,
        lambda e: f"Enrolled in the {e.country} programme ({e.service_package.value} package)",
    ),
    fr.FactoryEnrollmentSuspended: (Visibility.FACTORY, lambda e: "Enrollment suspended"),
    fr.FactoryEnrollmentReinstated: (Visibility.FACTORY, lambda e: "Enrollment reinstated"),
    fr.FactoryWithdrawn: (Visibility.FACTORY, lambda e: "Withdrew from the programme"),
    fr.FactoryClosed: (Visibility.FACTORY, lambda e: "Closed"),
    fr.FactoryMerged: (Visibility.FACTORY, lambda e: f"Record merged into {e.surviving_factory_id}"),
    fr.FactoryDuplicateAbsorbed: (
        Visibility.FACTORY,
        lambda e: f"Duplicate record {e.merged_factory_id} merged into this one",
    ),
    # A link or a consent is the factory's business with one brand: not for its other brands.
    fr.BrandLinked: (Visibility.FACTORY, lambda e: f"Supplies brand {e.brand_id}"),
    fr.BrandUnlinked: (Visibility.FACTORY, lambda e: f"No longer supplies brand {e.brand_id}"),
    fr.ReportSharingConsentGranted: (Visibility.FACTORY, lambda e: f"Shares its reports with brand {e.brand_id}"),
    fr.ReportSharingConsentRevoked: (
        Visibility.FACTORY,
        lambda e: f"Stopped sharing its reports with brand {e.brand_id}",
    ),
    # assessment: an unannounced visit does not exist outside the programme until its report
    ae.AssessmentScheduled: (Visibility.PROGRAMME, lambda e: f"Assessment {e.assessment_id} scheduled"),
    ae.AssessmentCancelled: (Visibility.PROGRAMME, lambda e: f"Assessment {e.assessment_id} cancelled"),
    ae.AssessmentStarted: (Visibility.PROGRAMME, lambda e: f"Assessment {e.assessment_id} started"),
    ae.FindingRecorded: (Visibility.PROGRAMME, lambda e: f"Finding recorded for {e.question_id}: {e.result.value}"),
    ae.ZeroToleranceIssueRaised: (
        Visibility.PROGRAMME,
        lambda e: f"Zero-tolerance issue raised: {e.issue.value} ({e.question_id})",
    ),
    ae.ZeroToleranceIssueAcknowledged: (
        Visibility.PROGRAMME,
        lambda e: f"Zero-tolerance issue on {e.question_id} acknowledged by {e.acknowledged_by}",
    ),
    ae.ZeroToleranceIssueEscalated: (
        Visibility.PROGRAMME,
        lambda e: f"Zero-tolerance issue on {e.question_id} escalated to {e.escalated_to}",
    ),
    ae.AssessmentSubmitted: (Visibility.PROGRAMME, lambda e: f"Assessment {e.assessment_id} submitted for review"),
    ae.AssessmentReturned: (Visibility.PROGRAMME, lambda e: f"Assessment {e.assessment_id} returned by review"),
    ae.AssessmentApproved: (Visibility.PROGRAMME, lambda e: f"Assessment {e.assessment_id} approved by review"),
    ae.AssessmentCompleted: (Visibility.BRAND, _non_compliant),
    ae.PublicReportPublished: (
        Visibility.BRAND,
        lambda e: f"Public transparency record published: {_count(len(e.non_compliant_public_issues), 'issue')}",
    ),
    ae.PublicResponseRecorded: (Visibility.BRAND, lambda e: "Responded to its public transparency record"),
    ae.ImprovementActionAdded: (Visibility.FACTORY, lambda e: f"Improvement action planned for {e.question_id}"),
    ae.ImprovementProgressReported: (
        Visibility.FACTORY,
        lambda e: "Improvement action done" if e.done else "Progress reported on an improvement action",
    ),
    ae.FindingRemediated: (Visibility.BRAND, lambda e: f"Finding {e.question_id} reported remediated"),
    ae.RemediationVerified: (Visibility.BRAND, lambda e: f"Remediation of {e.question_id} verified"),
    ae.RemediationRejected: (Visibility.BRAND, lambda e: f"Remediation of {e.question_id} rejected: open again"),
    # committee: the factory's own committee (the committee service shows it to programme and factory)
    ce.CommitteeEstablished: (Visibility.FACTORY, lambda e: f"Committee {e.committee_id} established"),
    ce.ElectionRecorded: (
        Visibility.FACTORY,
        lambda e: f"Committee election: {_count(e.seats, 'seat')}, {_count(len(e.candidates), 'candidate')}",
    ),
    ce.ManagementRepresentativeAppointed: (
        Visibility.FACTORY,
        lambda e: f"Management representative {e.member.member_id} appointed",
    ),
    ce.MemberOfficeAssigned: (Visibility.FACTORY, lambda e: f"Member {e.member_id} is now {e.office.value}"),
    ce.MemberLeft: (Visibility.FACTORY, lambda e: f"Member {e.member_id} left the committee"),
    ce.MemberReplaced: (
        Visibility.FACTORY,
        lambda e: f"Member {e.member_id} replaced by {e.replacement.member_id}",
    ),
    ce.MeetingRecorded: (
        Visibility.FACTORY,
        lambda e: (
            f"Committee meeting {e.meeting_id}: {_count(len(e.attendees), 'member')} present, "
            f"{_count(len(e.agenda), 'topic')}"
        ),
    ),
    ce.ActionItemRaised: (Visibility.FACTORY, lambda e: f"Committee action item {e.action_item_id} raised"),
    ce.ActionItemStarted: (Visibility.FACTORY, lambda e: f"Committee action item {e.action_item_id} started"),
    ce.ActionItemClosed: (Visibility.FACTORY, lambda e: f"Committee action item {e.action_item_id} closed"),
    ce.CommitteeDissolved: (Visibility.FACTORY, lambda e: f"Committee {e.committee_id} dissolved"),
    # advisory: the factory's plan and visits (the committee service shows them to programme and factory)
    ve.AdvisoryPlanAgreed: (Visibility.FACTORY, lambda e: f"Advisory plan {e.plan_id} agreed"),
    ve.AdvisorAssigned: (Visibility.FACTORY, lambda e: f"Advisor assigned to plan {e.plan_id}"),
    ve.AdvisoryPriorityAgreed: (Visibility.FACTORY, lambda e: f"Advisory priority agreed in plan {e.plan_id}"),
    ve.AdvisoryVisitsRevised: (Visibility.FACTORY, lambda e: f"Advisory visits of plan {e.plan_id} revised"),
    ve.AdvisoryVisitPlanned: (Visibility.FACTORY, lambda e: f"Advisory visit {e.visit_id} planned"),
    ve.AdvisoryVisitHeld: (Visibility.FACTORY, lambda e: f"Advisory visit {e.visit_id} held"),
    ve.AdvisoryCommitmentMade: (Visibility.FACTORY, lambda e: f"Commitment {e.commitment_id} made"),
    ve.AdvisoryCommitmentFollowedUp: (
        Visibility.FACTORY,
        lambda e: f"Commitment {e.commitment_id} followed up: {e.status.value}",
    ),
    ve.AdvisoryVisitCancelled: (Visibility.FACTORY, lambda e: f"Advisory visit {e.visit_id} cancelled"),
    ve.AdvisoryVisitMissed: (Visibility.FACTORY, lambda e: f"Advisory visit {e.visit_id} missed"),
    ve.AdvisoryVisitRecordConfirmed: (Visibility.FACTORY, lambda e: f"Record of visit {e.visit_id} confirmed"),
    ve.AdvisoryVisitRecordCommented: (Visibility.FACTORY, lambda e: f"Record of visit {e.visit_id} commented"),
    # training: the factory's own trainings (the training service shows a factory its sessions)
    te.TrainingSessionScheduled: (
        Visibility.FACTORY,
        lambda e: f"Training {e.course.code} scheduled: {e.course.title}",
    ),
    te.TrainingSessionRescheduled: (Visibility.FACTORY, lambda e: f"Training session {e.session_id} rescheduled"),
    te.ParticipantRegistered: (
        Visibility.FACTORY,
        lambda e: f"A {e.role.value} registered for training session {e.session_id}",
    ),
    te.AttendanceRecorded: (Visibility.FACTORY, lambda e: f"Attendance of training session {e.session_id} recorded"),
    te.TestScoreRecorded: (
        Visibility.FACTORY,
        lambda e: f"A participant's {e.phase.value}-training test recorded ({e.session_id})",
    ),
    te.FeedbackGiven: (Visibility.FACTORY, lambda e: f"A participant rated training session {e.session_id}"),
    te.TrainingDelivered: (Visibility.FACTORY, lambda e: f"Training {e.course_code} delivered"),  # per factory below
    te.TrainingSessionCancelled: (Visibility.FACTORY, lambda e: f"Training session {e.session_id} cancelled"),
    # research surveys: the factory knows a round was held; a worker's response is the programme's
    # entry, and even there says nothing of the worker or the answers
    se.SurveyRoundOpened: (
        Visibility.FACTORY,
        lambda e: f"{e.kind.value.capitalize()} survey round {e.round_id} opened",
    ),
    se.WorkerSurveyResponseRecorded: (
        Visibility.PROGRAMME,
        lambda e: f"A worker survey response recorded in round {e.round_id}",
    ),
    se.ManagerSurveyResponseRecorded: (
        Visibility.FACTORY,
        lambda e: f"Manager survey response recorded in round {e.round_id}",
    ),
    se.SurveyRoundClosed: (
        Visibility.FACTORY,
        lambda e: f"Survey round {e.round_id} closed with {_count(e.responses, 'response')}",
    ),
}


def names_a_factory(contract: type[EventContract]) -> bool:
    return bool({"factory_id", "factory_ids"} & set(contract.model_fields))


def factories_named(event: EventContract) -> list[str]:
    """The timelines an event belongs to: the one factory an event (or a participant) is about,
    else every factory a training session trains."""
    single = getattr(event, "factory_id", None)
    if single is not None:
        return [str(single)]
    return list(dict.fromkeys(getattr(event, "factory_ids", ())))


def summary_of(event: EventContract, factory_id: str) -> str:
    if isinstance(event, te.TrainingDelivered):
        return _training_delivered(event, factory_id)
    return ENTRIES[type(event)][1](event)


projection = Projection("factory-history", [factory_history])


async def record(conn: AsyncConnection, event: EventContract, envelope: Envelope) -> None:
    visibility = ENTRIES[type(event)][0]
    rows = [
        {
            "event_id": str(envelope.id),
            "factory_id": factory_id,
            "time": envelope.time,
            "service": event.topic_service,
            "type": envelope.type,
            "summary": summary_of(event, factory_id),
            "visibility": visibility.value,
        }
        for factory_id in factories_named(event)
    ]
    if rows:
        await conn.execute(insert(factory_history).values(rows).on_conflict_do_nothing())


# Every contract of the catalogue that names a factory (tests/test_history.py holds it to that).
projection.on(*ENTRIES)(record)


# --- queries ------------------------------------------------------------------------------------

NEWEST_FIRST = Order((factory_history.c.time, factory_history.c.event_id), descending=True)


@dataclass(frozen=True)
class HistoryFilter:
    service: str | None = None
    since: datetime | None = None


# A merged record's events belong to the timeline of the factory it was merged into.
_record = sa.select(factories.c.id, factories.c.merged_into).subquery("record")
TIMELINE = sa.func.coalesce(_record.c.merged_into, factory_history.c.factory_id)


def _readable(scope: Scope) -> sa.Select[Any]:
    """The entries of factories' timelines the caller may read."""
    return (
        sa.select(factory_history)
        .select_from(factory_history.outerjoin(_record, _record.c.id == factory_history.c.factory_id))
        .where(scope.factory(TIMELINE), scope.history(factory_history.c.visibility))
    )


async def entries_of_event(engine: Reader, scope: Scope, factory_id: str, event_id: str) -> list[Any]:
    """What one event put on a factory's timeline, as far as the caller may read it."""
    async with engine.connect() as conn:
        found = await conn.execute(
            _readable(scope).where(sa.literal(factory_id, sa.Text) == TIMELINE, factory_history.c.event_id == event_id)
        )
        return list(found)


async def history_of_factories(
    engine: Reader, scope: Scope, keys: Sequence[tuple[str, HistoryFilter]], request: PageRequest
) -> list[Page]:
    """Each factory's timeline, newest first, as far as the caller may read it: one query per
    distinct filter in the batch."""
    found: dict[tuple[str, HistoryFilter], Page] = {}
    by_filter: dict[HistoryFilter, list[str]] = {}
    for factory_id, only in keys:
        by_filter.setdefault(only, []).append(factory_id)
    for only, factory_ids in by_filter.items():
        query = _readable(scope)
        if only.service is not None:
            query = query.where(factory_history.c.service == only.service)
        if only.since is not None:
            query = query.where(factory_history.c.time >= only.since)
        pages = await pages_per_parent(engine, query, TIMELINE, factory_ids, NEWEST_FIRST, request)
        found |= {(factory_id, only): page for factory_id, page in zip(factory_ids, pages, strict=True)}
    return [found[key] for key in keys]
