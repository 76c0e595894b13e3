"""Assessments through their lifecycle, their findings, and the zero-tolerance alert desk.

Who reads what (policy.py decides; the types below only carry out its answers):
- programme staff: every assessment from the day it is scheduled, with its planned date,
  assessors, quality review, findings with their evidence and zero-tolerance issues, and alerts;
- a factory: its own published assessments and their findings with evidence; no planned date,
  no staff names, no quality review. Before publication an assessment does not exist for it;
- a brand: the published assessments of its consenting suppliers and their findings' results,
  without evidence, staff names or review;
- a government: nothing individual (FORBIDDEN), as for factories.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any

import strawberry
from betterwork_events.contracts.assessment import Result as FindingResult
from betterwork_events.contracts.assessment import ZeroToleranceIssue

from gateway import policy
from gateway.graphql.arguments import calendar_year
from gateway.graphql.context import Context
from gateway.graphql.improvement_plans import Remediation, current_date
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, from_global_id, global_id
from gateway.read_models import assessments as model
from gateway.read_models import improvement_plans as plans
from gateway.read_models import pages
from gateway.read_models.assessments import AssessmentFilter, FindingFilter
from gateway.read_models.pages import PageRequest

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Where an assessment stands")
class AssessmentStatus(Enum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


# The events' own enums, so that the schema says what the contracts say.
strawberry.enum(
    FindingResult,
    name="FindingResult",
    description="A finding's answer to its question (every question is phrased so that yes is compliant)",
)
strawberry.enum(
    ZeroToleranceIssue,
    description="What a non-compliant zero-tolerance question raises under the zero-tolerance protocol",
)


@strawberry.enum(
    description="Where a zero-tolerance alert stands under the protocol: OPEN until a manager acknowledges "
    "it, ACKNOWLEDGED until its escalation is recorded, then ESCALATED"
)
class ZeroToleranceAlertStatus(Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


WAITING = [ZeroToleranceAlertStatus.OPEN, ZeroToleranceAlertStatus.ACKNOWLEDGED]


@strawberry.type(description="A file attached as evidence (the file itself lives in document storage)")
class Attachment:
    filename: str
    content_type: str
    size_bytes: int
    sha256: str


@strawberry.type(description="The finding for one question of an assessment")
class Finding:
    assessment_id: strawberry.ID
    question_id: str
    compliance_point_id: str
    cluster_id: str
    result: FindingResult
    evidence: str | None = strawberry.field(
        description="The assessors' notes: programme staff, and the factory once published; null for brands"
    )
    attachments: list[Attachment] | None = strawberry.field(
        description="Metadata of the files attached as evidence; null where the evidence is"
    )
    zero_tolerance_issue: ZeroToleranceIssue | None = strawberry.field(
        description="The zero-tolerance issue this finding raised, if any"
    )
    recurring: bool | None = strawberry.field(
        description="Non-compliant here and in the factory's previous published assessment; null until published"
    )

    @strawberry.field(description="How it is being remedied: null unless non-compliant in a published report")
    async def remediation(self, info: Info, today: dt.date | None = None) -> Remediation | None:
        key = (str(self.assessment_id), self.question_id)
        row = await info.context.loader(plans.remediations_of_findings).load(key)
        return Remediation.of(row, current_date(today)) if row is not None else None

    @classmethod
    def of(cls, row: Any, scope: policy.Scope) -> Finding:
        evidence = scope.sees_evidence
        return cls(
            assessment_id=strawberry.ID(row.assessment_id),
            question_id=row.question_id,
            compliance_point_id=row.compliance_point_id,
            cluster_id=row.cluster_id,
            result=FindingResult(row.result),
            evidence=row.evidence if evidence else None,
            attachments=[Attachment(**a) for a in row.attachments] if evidence else None,
            zero_tolerance_issue=ZeroToleranceIssue(row.zero_tolerance_issue) if row.zero_tolerance_issue else None,
            recurring=row.recurring,
        )


def _finding_filter(
    result: FindingResult | None, compliance_point: str | None, cluster: str | None, **more: Any
) -> FindingFilter:
    return FindingFilter(
        result=result.value if result else None, compliance_point=compliance_point, cluster=cluster, **more
    )


@strawberry.type(description="An unannounced compliance assessment of a factory")
class Assessment(Node):
    assessment_id: strawberry.ID = strawberry.field(description="The assessment service's id")
    factory_id: strawberry.ID
    country: str
    tool_version: str = strawberry.field(description="The assessment tool it is made with, e.g. KH-global-1")
    status: AssessmentStatus
    cycle: int | None = strawberry.field(
        description="The factory's nth assessment not cancelled, in order of scheduling; null where an earlier "
        "one is not yet published (it would tell of a visit to come) and for cancelled ones"
    )
    planned_date: dt.date | None = strawberry.field(description="Confidential: programme staff only")
    assessors: list[str] | None = strawberry.field(description="Staff names: programme staff only")
    started_on: dt.date | None
    submitted_at: dt.datetime | None = strawberry.field(description="Quality review: programme staff only")
    approved_at: dt.datetime | None = strawberry.field(description="Quality review: programme staff only")
    reviewer: str | None = strawberry.field(description="Staff name: programme staff only")
    review_comments: list[str] | None = strawberry.field(description="Quality review: programme staff only")
    published_on: dt.date | None
    previous_assessment_id: strawberry.ID | None = strawberry.field(
        description="The factory's previous published assessment, which recurrence is counted against"
    )

    @strawberry.field(description="Its findings, by question")
    async def findings(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        result: FindingResult | None = None,
        compliance_point: str | None = None,
        cluster: str | None = None,
    ) -> Connection[Finding]:
        loader = info.context.pages(model.findings_of_assessments)
        key = (str(self.assessment_id), _finding_filter(result, compliance_point, cluster))
        scope = info.context.scope
        return connection(await loader.load((key, PageRequest.of(first, after))), lambda row: Finding.of(row, scope))

    @classmethod
    def of(cls, row: Any, scope: policy.Scope) -> Assessment:
        staff, review = scope.sees_staff_names, scope.sees_quality_review
        return cls(
            id=global_id("Assessment", row.id),
            assessment_id=strawberry.ID(row.id),
            factory_id=strawberry.ID(row.factory_id),
            country=row.country,
            tool_version=row.tool_version,
            status=AssessmentStatus(row.status),
            cycle=row.cycle,
            planned_date=row.planned_date if scope.sees_unpublished else None,
            assessors=list(row.assessors) if staff else None,
            started_on=row.started_on,
            submitted_at=row.submitted_at if review else None,
            approved_at=row.approved_at if review else None,
            reviewer=row.reviewer if staff else None,
            review_comments=list(row.review_comments) if review else None,
            published_on=row.published_on,
            previous_assessment_id=strawberry.ID(row.previous_assessment_id) if row.previous_assessment_id else None,
        )


@strawberry.type(description="A zero-tolerance issue raised, and what the programme has done about it")
class ZeroToleranceAlert:
    assessment_id: strawberry.ID
    factory_id: strawberry.ID
    country: str
    question_id: str
    issue: ZeroToleranceIssue
    raised_at: dt.datetime
    status: ZeroToleranceAlertStatus
    days_waiting: int = strawberry.field(description="Whole days from the day it was raised (UTC) to `today`")
    overdue: bool = strawberry.field(description="Still unacknowledged more than 24 hours after it was raised")
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    escalated_by: str | None
    escalated_to: str | None = strawberry.field(description="Who the issue was referred to")
    action_taken: str | None = strawberry.field(description="What was done, as the escalation recorded it")
    escalated_on: dt.date | None

    @classmethod
    def of(cls, row: Any, today: dt.date) -> ZeroToleranceAlert:
        return cls(
            assessment_id=strawberry.ID(row.assessment_id),
            factory_id=strawberry.ID(row.factory_id),
            country=row.country,
            question_id=row.question_id,
            issue=ZeroToleranceIssue(row.issue),
            raised_at=row.raised_at,
            status=ZeroToleranceAlertStatus(row.status),
            days_waiting=(today - row.raised_at.astimezone(dt.UTC).date()).days,
            overdue=row.overdue,
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            escalated_by=row.escalated_by,
            escalated_to=row.escalated_to,
            action_taken=row.action_taken,
            escalated_on=row.escalated_on,
        )


def _assessment_filter(
    status: AssessmentStatus | None,
    cycle: int | None,
    published_from: dt.date | None,
    published_to: dt.date | None,
    year: int | None,
    **more: Any,
) -> AssessmentFilter:
    return AssessmentFilter(
        status=status.value if status else None,
        cycle=cycle,
        published_from=published_from,
        published_to=published_to,
        year=calendar_year(year),
        **more,
    )


async def of_factory(
    factory_id: str,
    info: Info,
    first: int | None,
    after: str | None,
    status: AssessmentStatus | None,
    cycle: int | None,
    published_from: dt.date | None,
    published_to: dt.date | None,
    year: int | None,
) -> Connection[Assessment]:
    """`Factory.assessments`: every factory of a page in one query."""
    loader = info.context.pages(model.assessments_of_factories)
    key = (factory_id, _assessment_filter(status, cycle, published_from, published_to, year))
    scope = info.context.scope
    page = await loader.load((key, PageRequest.of(first, after)))
    return connection(page, lambda row: Assessment.of(row, scope))


async def assessment(info: Info, assessment_id: str) -> Assessment | None:
    """None whether it does not exist, is not published yet or is out of reach: all alike."""
    row = await info.context.loader(model.assessments_by_id).load(assessment_id)
    return Assessment.of(row, info.context.scope) if row is not None else None


@strawberry.type
class Query:
    @strawberry.field(description="The assessments you may read, newest scheduled first")
    async def assessments(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        country: str | None = None,
        status: AssessmentStatus | None = None,
        factory_id: strawberry.ID | None = None,
        cycle: int | None = None,
        published_from: dt.date | None = None,
        published_to: dt.date | None = None,
        year: Annotated[int | None, strawberry.argument(description="Published in this calendar year")] = None,
    ) -> Connection[Assessment]:
        scope = info.context.scope
        wanted = _assessment_filter(
            status, cycle, published_from, published_to, year, country=country, factory_id=factory_id
        )
        query, order = model.assessments_query(scope, wanted)
        page = await pages.page(info.context.reads, query, order, PageRequest.of(first, after))
        return connection(page, lambda row: Assessment.of(row, scope))

    @strawberry.field(description="One assessment, by its id or its global id; null if it is not yours to read")
    async def assessment(self, info: Info, id: strawberry.ID) -> Assessment | None:
        found = from_global_id(id)
        return await assessment(info, found[1] if found is not None and found[0] == "Assessment" else id)

    @strawberry.field(description="The findings you may read, by assessment and question")
    async def findings(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        country: str | None = None,
        cluster: str | None = None,
        compliance_point: str | None = None,
        result: FindingResult | None = None,
        recurring: bool | None = None,
    ) -> Connection[Finding]:
        scope = info.context.scope
        query = model.findings_query(
            scope, _finding_filter(result, compliance_point, cluster, country=country, recurring=recurring)
        )
        page = await pages.page(info.context.reads, query, model.FINDINGS_ORDER, PageRequest.of(first, after))
        return connection(page, lambda row: Finding.of(row, scope))

    @strawberry.field(
        description="Zero-tolerance alerts, longest waiting first (by default those still waiting: open or "
        "acknowledged): programme staff only"
    )
    async def zero_tolerance_alerts(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        country: str | None = None,
        today: Annotated[
            dt.date | None, strawberry.argument(description="The day to count waiting days to (default: today, UTC)")
        ] = None,
        status: Annotated[
            list[ZeroToleranceAlertStatus] | None,
            strawberry.argument(description="Only alerts in these states (default: OPEN and ACKNOWLEDGED)"),
        ] = None,
        overdue: Annotated[
            bool | None, strawberry.argument(description="Only alerts that are (true) or are not (false) overdue")
        ] = None,
    ) -> Connection[ZeroToleranceAlert]:
        statuses = [s.value for s in (WAITING if status is None else status)]
        now = dt.datetime.now(dt.UTC)
        query, order = model.alerts_query(info.context.scope, country, statuses, overdue, now)
        page = await pages.page(info.context.reads, query, order, PageRequest.of(first, after))
        day = today or dt.datetime.now(dt.UTC).date()
        return connection(page, lambda row: ZeroToleranceAlert.of(row, day))
