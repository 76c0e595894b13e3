"""Events on `assessment.events`: unannounced compliance assessments, their findings, and the
remediation of what was found.

`AssessmentScheduled.planned_date` is confidential: the topic is for the programme's own
services; whatever reaches factories or brands (the gateway, brand feeds) must leave it out
until the visit has happened.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from betterwork_events.catalogue import EventContract, contract

Text = Annotated[str, Field(min_length=1, max_length=10_000)]
Short = Annotated[str, Field(min_length=1, max_length=300)]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Result(StrEnum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    NOT_APPLICABLE = "not-applicable"


class ZeroToleranceIssue(StrEnum):
    CHILD_LABOUR = "child-labour"
    FORCED_LABOUR = "forced-labour"
    ABUSE_OR_HARASSMENT = "abuse-or-harassment"
    IMMINENT_DANGER = "imminent-danger"


class Attachment(Part):
    """What was attached as evidence (the file itself lives in document storage)."""

    filename: Short
    content_type: Short = Field(examples=["image/jpeg"])
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CompliancePointSummary(Part):
    compliance_point_id: str
    cluster_id: str
    non_compliant: bool
    non_compliant_questions: tuple[str, ...] = ()


class ClusterSummary(Part):
    cluster_id: str
    compliance_points_assessed: int = Field(ge=0, description="Compliance points with at least one applicable question")
    compliance_points_non_compliant: int = Field(ge=0)
    non_compliance_rate: float = Field(ge=0, le=1, description="Share of assessed compliance points non-compliant")


class AssessmentEvent(EventContract):
    topic_service = "assessment"
    assessment_id: str
    factory_id: str


@contract("org.betterwork.assessment.scheduled.v1")
class AssessmentScheduled(AssessmentEvent):
    """Programme staff scheduled an unannounced assessment. The planned date is confidential."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    planned_date: dt.date
    assessors: tuple[str, ...] = Field(min_length=1)
    tool_version: str = Field(description="The assessment tool the assessment is made with, for good")


@contract("org.betterwork.assessment.cancelled.v1")
class AssessmentCancelled(AssessmentEvent):
    reason: Text


@contract("org.betterwork.assessment.started.v1")
class AssessmentStarted(AssessmentEvent):
    """The assessors arrived at the factory."""

    started_on: dt.date


@contract("org.betterwork.assessment.finding-recorded.v1")
class FindingRecorded(AssessmentEvent):
    """A finding for one question; a later one for the same question amends it."""

    question_id: str
    compliance_point_id: str
    result: Result
    evidence: str = Field(default="", max_length=10_000)
    attachments: tuple[Attachment, ...] = ()


@contract("org.betterwork.assessment.zero-tolerance-issue-raised.v1")
class ZeroToleranceIssueRaised(AssessmentEvent):
    """Raised the moment a zero-tolerance finding is recorded, not when the report is published."""

    question_id: str
    issue: ZeroToleranceIssue


@contract("org.betterwork.assessment.zero-tolerance-issue-acknowledged.v1")
class ZeroToleranceIssueAcknowledged(AssessmentEvent):
    """A country programme manager took charge of a zero-tolerance issue. Until then it is open,
    and overdue once `ACKNOWLEDGE_WITHIN` has passed since it was raised."""

    question_id: str
    acknowledged_by: Short
    acknowledged_at: dt.datetime


@contract("org.betterwork.assessment.zero-tolerance-issue-escalated.v1")
class ZeroToleranceIssueEscalated(AssessmentEvent):
    """What was done about an acknowledged zero-tolerance issue, by whom and when: the protocol's
    record (e.g. referred to the labour inspectorate, child removed to a remediation programme)."""

    question_id: str
    escalated_by: Short
    escalated_to: Short = Field(
        description="Who the issue was referred to", examples=["Ministry of Labour, Phnom Penh"]
    )
    action_taken: Text
    escalated_on: dt.date


@contract("org.betterwork.assessment.submitted.v1")
class AssessmentSubmitted(AssessmentEvent):
    """The assessors sent the assessment to quality review."""


@contract("org.betterwork.assessment.returned.v1")
class AssessmentReturned(AssessmentEvent):
    """Quality review sent it back to the assessors with comments."""

    comments: Text


@contract("org.betterwork.assessment.approved.v1")
class AssessmentApproved(AssessmentEvent):
    reviewer: str


@contract("org.betterwork.assessment.completed.v1")
class AssessmentCompleted(AssessmentEvent):
    """The report is published, with its non-compliance summary."""

    country: str
    tool_version: str
    published_on: dt.date
    compliance_points: tuple[CompliancePointSummary, ...]
    clusters: tuple[ClusterSummary, ...]
    recurring_questions: tuple[str, ...] = Field(
        default=(), description="Non-compliant now and in the factory's previous published assessment"
    )
    previous_assessment_id: str | None = None


@contract("org.betterwork.assessment.public-report-published.v1")
class PublicReportPublished(AssessmentEvent):
    """The factory's public transparency record, replacing the one from its previous report."""

    country: str
    published_on: dt.date
    non_compliant_public_issues: tuple[str, ...] = Field(
        description="Publicly reported compliance points found non-compliant"
    )


@contract("org.betterwork.assessment.improvement-action-added.v1")
class ImprovementActionAdded(AssessmentEvent):
    """The factory plans how it will remedy a non-compliant finding."""

    action_id: str
    question_id: str
    what: Text
    who: Short
    due_on: dt.date


@contract("org.betterwork.assessment.improvement-progress-reported.v1")
class ImprovementProgressReported(AssessmentEvent):
    action_id: str
    note: Text
    done: bool = False


@contract("org.betterwork.assessment.finding-remediated.v1")
class FindingRemediated(AssessmentEvent):
    """The factory says the non-compliance is put right."""

    question_id: str
    note: Text


@contract("org.betterwork.assessment.remediation-verified.v1")
class RemediationVerified(AssessmentEvent):
    question_id: str
    verified_by: str


@contract("org.betterwork.assessment.remediation-rejected.v1")
class RemediationRejected(AssessmentEvent):
    """Programme staff found the remediation wanting; the finding is open again."""

    question_id: str
    reason: Text


@contract("org.betterwork.assessment.public-response-recorded.v1")
class PublicResponseRecorded(AssessmentEvent):
    """The factory's response, shown beside its public transparency record."""

    response: Text
