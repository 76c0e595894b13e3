"""The zero-tolerance protocol: a zero-tolerance issue raised during an assessment stays open until a
country programme manager acknowledges it, and is closed only by the record of its escalation (who
it went to, when, what was done). Plain Python, no I/O.

Each issue has a stream of its own, apart from its assessment's: managers act on it the same day the
assessors are still recording findings, and neither should have to retry because of the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from betterwork_events.contracts.assessment import ZeroToleranceIssueAcknowledged, ZeroToleranceIssueEscalated
from betterwork_events.errors import IllegalStep, NotFound

from assessment.domain import Assessment

# The protocol asks the country programme to take charge the same day; a day is the bound that
# makes an unacknowledged issue overdue on the alert desk.
ACKNOWLEDGE_WITHIN = dt.timedelta(hours=24)

ZeroToleranceEvent: TypeAlias = ZeroToleranceIssueAcknowledged | ZeroToleranceIssueEscalated


def zero_tolerance_stream(assessment_id: str, question_id: str) -> str:
    return f"zero-tolerance-{assessment_id}-{question_id}"


class CaseStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


@dataclass
class ZeroToleranceCase:
    assessment_id: str
    question_id: str
    factory_id: str
    country: str
    raised_at: dt.datetime
    status: CaseStatus = CaseStatus.OPEN
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    escalated_by: str | None = None
    escalated_to: str | None = None
    action_taken: str | None = None
    escalated_on: dt.date | None = None
    version: int = 0

    @classmethod
    def of(
        cls, assessment: Assessment, question_id: str, raised_at: dt.datetime | None, events: list[ZeroToleranceEvent]
    ) -> ZeroToleranceCase:
        """The case of a zero-tolerance issue the assessment raised (at `raised_at`); there is none
        for any other question."""
        if raised_at is None or question_id not in assessment.zero_tolerance_raised:
            raise NotFound(f"assessment {assessment.id} raised no zero-tolerance issue on {question_id}")
        case = cls(assessment.id, question_id, assessment.factory_id, assessment.country, raised_at)
        for event in events:
            case.apply(event)
        return case

    def acknowledge(self, by: str, at: dt.datetime) -> list[ZeroToleranceEvent]:
        if self.status is not CaseStatus.OPEN:
            raise IllegalStep(f"the zero-tolerance issue was already acknowledged by {self.acknowledged_by}")
        return [
            ZeroToleranceIssueAcknowledged(
                assessment_id=self.assessment_id,
                factory_id=self.factory_id,
                question_id=self.question_id,
                acknowledged_by=by,
                acknowledged_at=at,
            )
        ]

    def escalate(self, by: str, to: str, action_taken: str, on: dt.date, today: dt.date) -> list[ZeroToleranceEvent]:
        if self.status is CaseStatus.OPEN:
            raise IllegalStep("acknowledge the zero-tolerance issue before recording its escalation")
        if self.status is CaseStatus.ESCALATED:
            raise IllegalStep(f"the zero-tolerance issue was already escalated to {self.escalated_to}")
        assert self.acknowledged_at is not None
        if on > today:
            raise IllegalStep(f"the escalation date {on} is in the future")
        if on < self.acknowledged_at.date():
            raise IllegalStep(f"the escalation date {on} is before the acknowledgement ({self.acknowledged_at.date()})")
        return [
            ZeroToleranceIssueEscalated(
                assessment_id=self.assessment_id,
                factory_id=self.factory_id,
                question_id=self.question_id,
                escalated_by=by,
                escalated_to=to,
                action_taken=action_taken,
                escalated_on=on,
            )
        ]

    def overdue(self, now: dt.datetime) -> bool:
        """Still unacknowledged longer than the protocol allows."""
        return self.status is CaseStatus.OPEN and now - self.raised_at > ACKNOWLEDGE_WITHIN

    def apply(self, event: ZeroToleranceEvent) -> None:
        match event:
            case ZeroToleranceIssueAcknowledged():
                self.status = CaseStatus.ACKNOWLEDGED
                self.acknowledged_by, self.acknowledged_at = event.acknowledged_by, event.acknowledged_at
            case ZeroToleranceIssueEscalated():
                self.status = CaseStatus.ESCALATED
                self.escalated_by, self.escalated_to = event.escalated_by, event.escalated_to
                self.action_taken, self.escalated_on = event.action_taken, event.escalated_on
        self.version += 1
