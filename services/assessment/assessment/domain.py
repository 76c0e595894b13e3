"""Unannounced compliance assessments, their findings and remediation: plain Python, events in,
events out. The rules here are the programme's rulebook; nothing in this module does I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from betterwork_events.contracts.assessment import (
    AssessmentApproved,
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentReturned,
    AssessmentScheduled,
    AssessmentStarted,
    AssessmentSubmitted,
    Attachment,
    ClusterSummary,
    CompliancePointSummary,
    FindingRecorded,
    FindingRemediated,
    ImprovementActionAdded,
    ImprovementProgressReported,
    PublicReportPublished,
    PublicResponseRecorded,
    RemediationRejected,
    RemediationVerified,
    Result,
    ZeroToleranceIssue,
    ZeroToleranceIssueRaised,
)
from betterwork_events.errors import IllegalStep, InvalidRequest

from assessment.tool import AssessmentTool

AssessmentEvent: TypeAlias = (
    AssessmentScheduled
    | AssessmentCancelled
    | AssessmentStarted
    | FindingRecorded
    | ZeroToleranceIssueRaised
    | AssessmentSubmitted
    | AssessmentReturned
    | AssessmentApproved
    | AssessmentCompleted
    | PublicReportPublished
    | ImprovementActionAdded
    | ImprovementProgressReported
    | FindingRemediated
    | RemediationVerified
    | RemediationRejected
    | PublicResponseRecorded
)


def assessment_stream(assessment_id: str) -> str:
    return f"assessment-{assessment_id}"


class Status(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Remediation(StrEnum):
    OPEN = "open"
    REMEDIATED = "remediated"  # the factory says so
    VERIFIED = "verified"  # programme staff checked


@dataclass
class Finding:
    question_id: str
    compliance_point_id: str
    result: Result
    evidence: str
    attachments: tuple[Attachment, ...]
    remediation: Remediation = Remediation.OPEN
    rejection: str | None = None


@dataclass(frozen=True)
class NewFinding:
    """What the assessors found on one question, as they record it."""

    question_id: str
    result: Result
    evidence: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass
class ImprovementAction:
    id: str
    question_id: str
    what: str
    who: str
    due_on: dt.date
    progress: list[str] = field(default_factory=list)
    done: bool = False

    def overdue(self, today: dt.date) -> bool:
        return not self.done and today > self.due_on


@dataclass
class Assessment:
    id: str
    factory_id: str = ""
    country: str = ""
    tool_version: str = ""
    planned_date: dt.date | None = None
    started_on: dt.date | None = None
    published_on: dt.date | None = None
    assessors: tuple[str, ...] = ()
    status: Status = Status.SCHEDULED
    findings: dict[str, Finding] = field(default_factory=dict)
    zero_tolerance_raised: set[str] = field(default_factory=set)
    review_comments: list[str] = field(default_factory=list)
    actions: dict[str, ImprovementAction] = field(default_factory=dict)
    public_issues: tuple[str, ...] = ()
    public_response: str | None = None
    # Who recorded findings, as the events name them (`Principal.actor`): the four eyes of review.
    recorded_by: set[str] = field(default_factory=set)
    version: int = 0

    # --- the visit ---------------------------------------------------------------------------

    @staticmethod
    def schedule(
        assessment_id: str,
        factory_id: str,
        country: str,
        factory_enrolled: bool,
        planned_date: dt.date,
        assessors: tuple[str, ...],
        tool: AssessmentTool,
        today: dt.date,
        open_assessment: str | None = None,
    ) -> list[AssessmentEvent]:
        """`open_assessment`: the factory's assessment not yet published or cancelled, if any: one
        visit at a time, so that findings and cycles never interleave."""
        if not factory_enrolled:
            raise IllegalStep(f"factory {factory_id} is not enrolled; only enrolled factories are assessed")
        if open_assessment is not None:
            raise IllegalStep(
                f"factory {factory_id} already has an open assessment ({open_assessment}): "
                "publish or cancel it before scheduling another"
            )
        if planned_date < today:
            raise IllegalStep(f"the planned date {planned_date} has passed")
        if not assessors:
            raise IllegalStep("an assessment needs at least one assessor")
        return [
            AssessmentScheduled(
                assessment_id=assessment_id,
                factory_id=factory_id,
                country=country,
                planned_date=planned_date,
                assessors=tuple(dict.fromkeys(assessors)),
                tool_version=tool.version,
            )
        ]

    def cancel(self, reason: str) -> list[AssessmentEvent]:
        """Before the visit, or during it (the factory shut its gates, the assessors were sent away);
        once the findings are in review, the report is finished instead."""
        if self.status not in (Status.SCHEDULED, Status.IN_PROGRESS):
            raise IllegalStep(f"cannot cancel: the assessment is {self.status}")
        return [AssessmentCancelled(assessment_id=self.id, factory_id=self.factory_id, reason=reason)]

    def start(self, on: dt.date, today: dt.date) -> list[AssessmentEvent]:
        self._require(Status.SCHEDULED, "start")
        if on > today:
            raise IllegalStep(f"the start date {on} is in the future: record the start when the assessors arrive")
        return [AssessmentStarted(assessment_id=self.id, factory_id=self.factory_id, started_on=on)]

    def record_finding(
        self, tool: AssessmentTool, question_id: str, result: Result, evidence: str, attachments: tuple[Attachment, ...]
    ) -> list[AssessmentEvent]:
        return self.record_findings(tool, [NewFinding(question_id, result, evidence, attachments)])

    def record_findings(self, tool: AssessmentTool, findings: Sequence[NewFinding]) -> list[AssessmentEvent]:
        """Record or amend several findings at once (a section synced from the assessors' tablet):
        each as if recorded alone, in order, all or none. A question named twice is a mistake, not
        an amendment: the request says which."""
        self._require(Status.IN_PROGRESS, "record a finding")
        named = [f.question_id for f in findings]
        if twice := sorted({q for q in named if named.count(q) > 1}):
            raise InvalidRequest(f"findings: question {', '.join(twice)} is named more than once")
        raised = set(self.zero_tolerance_raised)
        events: list[AssessmentEvent] = []
        for finding in findings:
            question = tool.question(finding.question_id)
            events.append(
                FindingRecorded(
                    assessment_id=self.id,
                    factory_id=self.factory_id,
                    question_id=question.id,
                    compliance_point_id=question.compliance_point_id,
                    result=finding.result,
                    evidence=finding.evidence,
                    attachments=finding.attachments,
                )
            )
            # Raised at once, so that the programme can act the same day; once per question.
            if (
                finding.result is Result.NON_COMPLIANT
                and question.zero_tolerance_issue is not None
                and question.id not in raised
            ):
                raised.add(question.id)
                events.append(
                    ZeroToleranceIssueRaised(
                        assessment_id=self.id,
                        factory_id=self.factory_id,
                        question_id=question.id,
                        issue=ZeroToleranceIssue(question.zero_tolerance_issue),
                    )
                )
        return events

    def submit(self, tool: AssessmentTool) -> list[AssessmentEvent]:
        self._require(Status.IN_PROGRESS, "submit")
        unanswered = [q.id for q in tool.questions if q.id not in self.findings]
        if unanswered:
            shown = ", ".join(unanswered[:5]) + (" …" if len(unanswered) > 5 else "")
            raise IllegalStep(f"{len(unanswered)} questions have no finding yet: {shown}")
        return [AssessmentSubmitted(assessment_id=self.id, factory_id=self.factory_id)]

    def return_for_changes(self, comments: str) -> list[AssessmentEvent]:
        self._require(Status.SUBMITTED, "return")
        return [AssessmentReturned(assessment_id=self.id, factory_id=self.factory_id, comments=comments)]

    def approve(self, reviewer: str) -> list[AssessmentEvent]:
        """`reviewer`: the approving user (the subject of their token)."""
        self._require(Status.SUBMITTED, "approve")
        if reviewer in self.assessors:
            raise IllegalStep("an assessor cannot approve their own assessment: quality review needs a second person")
        # An actor ends with its user's subject (`programme[:country]:subject`), whatever the team.
        if any(actor.endswith(f":{reviewer}") for actor in self.recorded_by):
            raise IllegalStep(
                "you recorded findings of this assessment, so you cannot approve it: quality review needs a second person"
            )
        return [AssessmentApproved(assessment_id=self.id, factory_id=self.factory_id, reviewer=reviewer)]

    def publish(
        self,
        tool: AssessmentTool,
        on: dt.date,
        previous: Assessment | None,
        publicly_reported: frozenset[str],
        today: dt.date,
    ) -> list[AssessmentEvent]:
        """Publish the report: its summary, what recurred since `previous`, and the public record."""
        self._require(Status.APPROVED, "publish")
        if on > today:
            raise IllegalStep(f"the publication date {on} is in the future")
        if self.started_on is not None and on < self.started_on:
            raise IllegalStep(f"the publication date {on} is before the visit started ({self.started_on})")
        points, clusters = self.summary(tool)
        recurring = (
            tuple(sorted(self.non_compliant_questions() & previous.non_compliant_questions())) if previous else ()
        )
        events: list[AssessmentEvent] = [
            AssessmentCompleted(
                assessment_id=self.id,
                factory_id=self.factory_id,
                country=self.country,
                tool_version=self.tool_version,
                published_on=on,
                compliance_points=points,
                clusters=clusters,
                recurring_questions=recurring,
                previous_assessment_id=previous.id if previous else None,
            )
        ]
        if publicly_reported:
            public = tuple(
                p.compliance_point_id for p in points if p.non_compliant and p.compliance_point_id in publicly_reported
            )
            events.append(
                PublicReportPublished(
                    assessment_id=self.id,
                    factory_id=self.factory_id,
                    country=self.country,
                    published_on=on,
                    non_compliant_public_issues=public,
                )
            )
        return events

    def summary(self, tool: AssessmentTool) -> tuple[tuple[CompliancePointSummary, ...], tuple[ClusterSummary, ...]]:
        """Per compliance point: non-compliant if any of its questions is. Per cluster: the share of
        its assessed compliance points (those with an applicable question) that are non-compliant."""
        by_point: dict[str, list[Finding]] = {}
        for finding in self.findings.values():
            by_point.setdefault(finding.compliance_point_id, []).append(finding)
        points = []
        for point in tool.compliance_points:
            findings = [f for f in by_point.get(point.id, []) if f.result is not Result.NOT_APPLICABLE]
            if not findings:
                continue
            failing = tuple(sorted(f.question_id for f in findings if f.result is Result.NON_COMPLIANT))
            points.append(
                CompliancePointSummary(
                    compliance_point_id=point.id,
                    cluster_id=point.cluster_id,
                    non_compliant=bool(failing),
                    non_compliant_questions=failing,
                )
            )
        clusters = []
        for cluster in tool.clusters:
            assessed = [p for p in points if p.cluster_id == cluster.id]
            failing_points = sum(p.non_compliant for p in assessed)
            clusters.append(
                ClusterSummary(
                    cluster_id=cluster.id,
                    compliance_points_assessed=len(assessed),
                    compliance_points_non_compliant=failing_points,
                    non_compliance_rate=round(failing_points / len(assessed), 4) if assessed else 0.0,
                )
            )
        return tuple(points), tuple(clusters)

    def non_compliant_questions(self) -> set[str]:
        return {q for q, f in self.findings.items() if f.result is Result.NON_COMPLIANT}

    # --- improvement plan and remediation ----------------------------------------------------

    def add_improvement_action(
        self, action_id: str, question_id: str, what: str, who: str, due_on: dt.date
    ) -> list[AssessmentEvent]:
        finding = self._open_non_compliance(question_id)
        return [
            ImprovementActionAdded(
                assessment_id=self.id,
                factory_id=self.factory_id,
                action_id=action_id,
                question_id=finding.question_id,
                what=what,
                who=who,
                due_on=due_on,
            )
        ]

    def report_progress(self, action_id: str, note: str, done: bool) -> list[AssessmentEvent]:
        self._require(Status.PUBLISHED, "report progress")
        action = self.actions.get(action_id)
        if action is None:
            raise IllegalStep(f"there is no improvement action {action_id} in this assessment")
        if action.done:
            raise IllegalStep(f"improvement action {action_id} is already done")
        return [
            ImprovementProgressReported(
                assessment_id=self.id, factory_id=self.factory_id, action_id=action_id, note=note, done=done
            )
        ]

    def mark_remediated(self, question_id: str, note: str) -> list[AssessmentEvent]:
        finding = self._open_non_compliance(question_id)
        return [
            FindingRemediated(
                assessment_id=self.id, factory_id=self.factory_id, question_id=finding.question_id, note=note
            )
        ]

    def verify_remediation(self, question_id: str, verified_by: str) -> list[AssessmentEvent]:
        finding = self._remediated(question_id)
        return [
            RemediationVerified(
                assessment_id=self.id,
                factory_id=self.factory_id,
                question_id=finding.question_id,
                verified_by=verified_by,
            )
        ]

    def reject_remediation(self, question_id: str, reason: str) -> list[AssessmentEvent]:
        finding = self._remediated(question_id)
        return [
            RemediationRejected(
                assessment_id=self.id, factory_id=self.factory_id, question_id=finding.question_id, reason=reason
            )
        ]

    def respond_publicly(self, response: str) -> list[AssessmentEvent]:
        self._require(Status.PUBLISHED, "respond to the public report")
        return [PublicResponseRecorded(assessment_id=self.id, factory_id=self.factory_id, response=response)]

    def overdue_actions(self, today: dt.date) -> list[ImprovementAction]:
        return [a for a in self.actions.values() if a.overdue(today)]

    # --- state -------------------------------------------------------------------------------

    def apply(self, event: AssessmentEvent, actor: str | None = None) -> None:
        """`actor`: who caused the event, as its envelope records it."""
        match event:
            case AssessmentScheduled():
                self.factory_id, self.country, self.tool_version = event.factory_id, event.country, event.tool_version
                self.planned_date, self.assessors = event.planned_date, event.assessors
            case AssessmentCancelled():
                self.status = Status.CANCELLED
            case AssessmentStarted():
                self.status, self.started_on = Status.IN_PROGRESS, event.started_on
            case FindingRecorded():
                self.findings[event.question_id] = Finding(
                    event.question_id, event.compliance_point_id, event.result, event.evidence, event.attachments
                )
                if actor is not None:
                    self.recorded_by.add(actor)
            case ZeroToleranceIssueRaised():
                self.zero_tolerance_raised.add(event.question_id)
            case AssessmentSubmitted():
                self.status = Status.SUBMITTED
            case AssessmentReturned():
                self.status = Status.IN_PROGRESS
                self.review_comments.append(event.comments)
            case AssessmentApproved():
                self.status = Status.APPROVED
            case AssessmentCompleted():
                self.status, self.published_on = Status.PUBLISHED, event.published_on
            case PublicReportPublished():
                self.public_issues = event.non_compliant_public_issues
            case ImprovementActionAdded():
                self.actions[event.action_id] = ImprovementAction(
                    event.action_id, event.question_id, event.what, event.who, event.due_on
                )
            case ImprovementProgressReported():
                action = self.actions[event.action_id]
                action.progress.append(event.note)
                action.done = action.done or event.done
            case FindingRemediated():
                self.findings[event.question_id].remediation = Remediation.REMEDIATED
            case RemediationVerified():
                self.findings[event.question_id].remediation = Remediation.VERIFIED
            case RemediationRejected():
                finding = self.findings[event.question_id]
                finding.remediation, finding.rejection = Remediation.OPEN, event.reason
            case PublicResponseRecorded():
                self.public_response = event.response
        self.version += 1

    @classmethod
    def rebuild(cls, assessment_id: str, events: list[AssessmentEvent]) -> Assessment:
        assessment = cls(id=assessment_id)
        for event in events:
            assessment.apply(event)
        return assessment

    def _require(self, status: Status, step: str) -> None:
        if self.status is not status:
            raise IllegalStep(f"cannot {step}: the assessment is {self.status}")

    def _open_non_compliance(self, question_id: str) -> Finding:
        self._require(Status.PUBLISHED, "work on the improvement plan")
        finding = self.findings.get(question_id)
        if finding is None or finding.result is not Result.NON_COMPLIANT:
            raise IllegalStep(f"question {question_id} has no non-compliant finding in this assessment")
        if finding.remediation is not Remediation.OPEN:
            raise IllegalStep(f"the finding on {question_id} is already {finding.remediation}")
        return finding

    def _remediated(self, question_id: str) -> Finding:
        self._require(Status.PUBLISHED, "verify remediation")
        finding = self.findings.get(question_id)
        if finding is None or finding.remediation is not Remediation.REMEDIATED:
            raise IllegalStep(f"the finding on {question_id} is not marked remediated")
        return finding
