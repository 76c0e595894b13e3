"""What each audience reads: one response model per audience, each an allow list of its fields.

An answer is built from the model of the caller's audience, never by removing keys from a fuller
one: a field added to the programme's model reaches programme staff only, and one added to a
factory's or the public's model is reviewed in services/assessment/tests/test_views.py, which walks
every route's models against `audiences`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from betterwork_events.auth import Audience, Principal
from betterwork_events.contracts.assessment import Attachment, Result
from betterwork_events.contracts.surveys import BusinessFigures, Question, SurveyKind
from pydantic import BaseModel, Field

from assessment.domain import Assessment, Status
from assessment.surveys import Questionnaire, RoundStatus, SurveyRound
from assessment.tool import AssessmentTool, Cluster, CompliancePoint
from assessment.tool import Question as ToolQuestion
from assessment.zero_tolerance import CaseStatus, ZeroToleranceCase

PUBLIC = "public"  # anyone, without a token
PROGRAMME = frozenset({Audience.PROGRAMME.value})
PROGRAMME_AND_FACTORY = frozenset({Audience.PROGRAMME.value, Audience.FACTORY.value})
SIGNED_IN = frozenset(a.value for a in Audience)
EVERYONE = SIGNED_IN | {PUBLIC}


class View(BaseModel):
    """A response model; `audiences` says who may receive it (the models inside it go with it)."""

    audiences: ClassVar[frozenset[str]]


# --- assessments -------------------------------------------------------------------------------


class FindingView(BaseModel):
    question_id: str
    compliance_point_id: str
    result: Result
    evidence: str
    attachments: list[Attachment]
    remediation: str
    rejection: str | None


class ActionView(BaseModel):
    id: str
    question_id: str
    what: str
    who: str
    due_on: dt.date
    done: bool
    overdue: bool
    progress: list[str]


class AssessmentFacts(BaseModel):
    """What every reader of an assessment here reads of it."""

    id: str
    factory_id: str
    country: str
    tool_version: str
    status: Status
    started_on: dt.date | None
    published_on: dt.date | None
    findings: list[FindingView]
    improvement_actions: list[ActionView]
    public_response: str | None
    version: int

    @staticmethod
    def facts(a: Assessment, today: dt.date) -> dict[str, object]:
        return {
            "id": a.id,
            "factory_id": a.factory_id,
            "country": a.country,
            "tool_version": a.tool_version,
            "status": a.status,
            "started_on": a.started_on,
            "published_on": a.published_on,
            "findings": [FindingView(**f.__dict__) for f in a.findings.values()],
            "improvement_actions": [
                ActionView(**{**x.__dict__, "overdue": x.overdue(today)}) for x in a.actions.values()
            ],
            "public_response": a.public_response,
            "version": a.version,
        }


class FactoryAssessmentView(AssessmentFacts, View):
    """A factory's own published assessment: without its planned date, its staff or its review."""

    audiences = frozenset({Audience.FACTORY.value})
    audience: Literal["factory"] = "factory"


class ProgrammeAssessmentView(AssessmentFacts, View):
    """The whole assessment, for programme staff."""

    audiences = PROGRAMME
    audience: Literal["programme"] = "programme"
    planned_date: dt.date = Field(description="Confidential: never shown to the factory or brands")
    assessors: list[str]
    review_comments: list[str]


AssessmentView = Annotated[ProgrammeAssessmentView | FactoryAssessmentView, Field(discriminator="audience")]


def assessment_view(a: Assessment, principal: Principal, today: dt.date) -> AssessmentView:
    facts = AssessmentFacts.facts(a, today)
    if principal.audience is Audience.PROGRAMME:
        assert a.planned_date is not None  # every assessment is scheduled with one
        return ProgrammeAssessmentView(
            **facts, planned_date=a.planned_date, assessors=list(a.assessors), review_comments=a.review_comments
        )
    return FactoryAssessmentView(**facts)


class AssessmentSummaryFacts(BaseModel):
    id: str
    factory_id: str
    status: Status
    published_on: dt.date | None
    version: int


class FactoryAssessmentSummary(AssessmentSummaryFacts, View):
    audiences = frozenset({Audience.FACTORY.value})
    audience: Literal["factory"] = "factory"


class ProgrammeAssessmentSummary(AssessmentSummaryFacts, View):
    audiences = PROGRAMME
    audience: Literal["programme"] = "programme"
    planned_date: dt.date = Field(description="Confidential: never shown to the factory or brands")


AssessmentSummary = Annotated[ProgrammeAssessmentSummary | FactoryAssessmentSummary, Field(discriminator="audience")]


def summary_view(row: dict[str, object], principal: Principal) -> AssessmentSummary:
    if principal.audience is Audience.PROGRAMME:
        return ProgrammeAssessmentSummary.model_validate(row)
    return FactoryAssessmentSummary.model_validate(row)


class ZeroToleranceCaseView(View):
    """Programme staff only: the protocol's record of one zero-tolerance issue."""

    audiences = PROGRAMME
    assessment_id: str
    question_id: str
    factory_id: str
    raised_at: dt.datetime
    status: CaseStatus
    overdue: bool = Field(description="Unacknowledged for longer than the protocol allows (24 hours)")
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    escalated_by: str | None
    escalated_to: str | None
    action_taken: str | None
    escalated_on: dt.date | None
    version: int

    @classmethod
    def of(cls, case: ZeroToleranceCase) -> ZeroToleranceCaseView:
        fields = {name: getattr(case, name) for name in cls.model_fields if name != "overdue"}
        return cls(**fields, overdue=case.overdue(dt.datetime.now(dt.UTC)))


class ToolView(View):
    """An assessment tool version: what it asks is no secret to anyone signed in."""

    audiences = SIGNED_IN
    version: str
    clusters: list[Cluster]
    compliance_points: list[CompliancePoint]
    questions: list[ToolQuestion]

    @classmethod
    def of(cls, tool: AssessmentTool) -> ToolView:
        return cls(
            version=tool.version,
            clusters=list(tool.clusters),
            compliance_points=list(tool.compliance_points),
            questions=list(tool.questions),
        )


# --- the public transparency record ------------------------------------------------------------


class PublicCycle(BaseModel):
    """One published assessment cycle, as the public record keeps it, with the factory's response."""

    assessment_id: str
    published_on: dt.date
    non_compliant_public_issues: list[str] = Field(description="Compliance points the country reports publicly")
    factory_response: str | None


class TransparencyRecord(View):
    """A factory's public record: its latest public report (at the top) and every cycle, newest first."""

    audiences = EVERYONE
    factory_id: str
    name: str
    country: str
    assessment_id: str
    published_on: dt.date
    non_compliant_public_issues: list[str]
    factory_response: str | None
    cycles: list[PublicCycle]


class PublicFactory(BaseModel):
    factory_id: str
    name: str
    country: str
    latest_published_on: dt.date
    cycles: int = Field(description="How many published cycles its public record holds")


class TransparencyList(View):
    """The factories with a public record, by name; `next_cursor` pages on (null on the last page)."""

    audiences = EVERYONE
    factories: list[PublicFactory]
    next_cursor: str | None


# --- research surveys --------------------------------------------------------------------------


class QuestionnaireVersionView(BaseModel):
    version: int
    title: str
    questions: list[Question]


class QuestionnaireView(View):
    """What a survey asks is no secret to anyone signed in."""

    audiences = SIGNED_IN
    id: str
    kind: SurveyKind
    versions: list[QuestionnaireVersionView]

    @classmethod
    def of(cls, questionnaire: Questionnaire) -> QuestionnaireView:
        assert questionnaire.kind is not None
        return cls(
            id=questionnaire.id,
            kind=questionnaire.kind,
            versions=[
                QuestionnaireVersionView(version=v.version, title=v.title, questions=list(v.questions))
                for v in questionnaire.versions.values()
            ],
        )


class RoundView(View):
    """A round as far as anyone reads it one by one: how many responded, never what."""

    audiences = PROGRAMME_AND_FACTORY
    id: str
    factory_id: str
    country: str
    questionnaire_id: str
    questionnaire_version: int
    kind: SurveyKind
    status: RoundStatus
    opened_on: dt.date | None
    closed_on: dt.date | None
    responses: int
    figures: BusinessFigures | None = Field(description="A manager survey's business figures, as last recorded")
    version: int

    @classmethod
    def of(cls, r: SurveyRound) -> RoundView:
        return cls(
            id=r.id,
            factory_id=r.factory_id,
            country=r.country,
            questionnaire_id=r.questionnaire_id,
            questionnaire_version=r.questionnaire_version,
            kind=r.kind,
            status=r.status,
            opened_on=r.opened_on,
            closed_on=r.closed_on,
            responses=r.responses,
            figures=r.figures,
            version=r.version,
        )
