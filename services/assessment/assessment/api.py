"""REST commands of the assessment service. Routes validate, authorize, call a handler: no more.

Programme staff schedule, assess, review and verify. A factory's users see their own published
reports and work their improvement plan; nothing else. An assessment that is not published yet
does not exist for them (404, never 403): its planned date must not leak, not even by a hint.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from betterwork_events.auth import Audience, CurrentPrincipal, Principal, TokenFirstRoute, forbidden
from betterwork_events.contracts.assessment import Attachment, Result
from betterwork_events.countries import today_in
from betterwork_events.errors import NotFound
from betterwork_events.history import Change
from betterwork_events.store import EventStore
from betterwork_events.web import Command, IfMatch, Problem, command_context, expected_version
from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from assessment import handlers, policy
from assessment.domain import Assessment, NewFinding, Status
from assessment.tool import tool
from assessment.zero_tolerance import CaseStatus, ZeroToleranceCase

router = APIRouter(route_class=TokenFirstRoute)

Text = Annotated[str, Field(min_length=1, max_length=10_000)]


class ScheduleRequest(Command):
    factory_id: str = Field(examples=["KH-2026-0042-5"])
    planned_date: dt.date = Field(description="Confidential: never shown to the factory or brands")
    assessors: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=10)


class StartRequest(Command):
    started_on: dt.date


class FindingRequest(Command):
    result: Result
    evidence: str = Field(default="", max_length=10_000)
    attachments: list[Attachment] = Field(default=[], max_length=50)


class QuestionFindingRequest(FindingRequest):
    question_id: str = Field(max_length=200, examples=["compensation.minimum-wages.01"])

    def new(self) -> NewFinding:
        return NewFinding(self.question_id, self.result, self.evidence, tuple(self.attachments))


class FindingsRequest(Command):
    findings: list[QuestionFindingRequest] = Field(min_length=1, max_length=1000)


class ReasonRequest(Command):
    reason: Text


class CommentsRequest(Command):
    comments: Text


class PublishRequest(Command):
    published_on: dt.date


class ActionRequest(Command):
    what: Text
    who: Annotated[str, Field(min_length=1, max_length=300)]
    due_on: dt.date


class ProgressRequest(Command):
    note: Text
    done: bool = False


class NoteRequest(Command):
    note: Text


class ResponseRequest(Command):
    response: Text


class EscalationRequest(Command):
    escalated_to: Annotated[str, Field(min_length=1, max_length=300, examples=["Ministry of Labour, Phnom Penh"])]
    action_taken: Text
    escalated_on: dt.date


class ZeroToleranceCaseView(BaseModel):
    """Programme staff only: the protocol's record of one zero-tolerance issue."""

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


class AssessmentView(BaseModel):
    id: str
    factory_id: str
    country: str
    tool_version: str
    status: Status
    planned_date: dt.date | None = Field(description="Only programme staff see it")
    assessors: list[str]
    started_on: dt.date | None
    published_on: dt.date | None
    findings: list[FindingView]
    review_comments: list[str]
    improvement_actions: list[ActionView]
    public_response: str | None
    version: int

    @classmethod
    def of(cls, a: Assessment, principal: Principal, today: dt.date) -> AssessmentView:
        programme = principal.audience is Audience.PROGRAMME
        return cls(
            id=a.id,
            factory_id=a.factory_id,
            country=a.country,
            tool_version=a.tool_version,
            status=a.status,
            planned_date=a.planned_date if programme else None,
            assessors=list(a.assessors) if programme else [],
            started_on=a.started_on,
            published_on=a.published_on,
            findings=[FindingView(**f.__dict__) for f in a.findings.values()],
            review_comments=a.review_comments if programme else [],
            improvement_actions=[ActionView(**{**x.__dict__, "overdue": x.overdue(today)}) for x in a.actions.values()],
            public_response=a.public_response,
            version=a.version,
        )


# --- helpers ----------------------------------------------------------------------------------


def store(request: Request) -> EventStore:
    return request.app.state.store


def programme_only(principal: Principal, what: str) -> None:
    if principal.audience is not Audience.PROGRAMME:
        raise forbidden(f"only programme staff may {what}")


async def readable(request: Request, principal: Principal, assessment_id: str) -> Assessment:
    """The assessment if the caller may see it; to a factory that may not, it does not exist.

    Brands and governments are refused (403) before anything is looked up, so whether the
    assessment exists is not theirs to learn either."""
    if principal.audience not in (Audience.PROGRAMME, Audience.FACTORY):
        raise forbidden("brands and governments read published reports through the gateway, not here")
    assessment = await handlers.load_assessment(store(request), assessment_id)
    if principal.audience is Audience.PROGRAMME:
        return assessment
    if (
        principal.audience is Audience.FACTORY
        and principal.scope == assessment.factory_id
        and assessment.status is Status.PUBLISHED
    ):
        return assessment
    raise NotFound(f"no assessment {assessment_id}")


def version_of(if_match: str | None, required: bool = False) -> int | None:
    if if_match is None:
        if required:
            raise HTTPException(
                428, "send If-Match with the ETag you read, so that no one's finding is overwritten unseen"
            )
        return None
    return expected_version(if_match)


def respond(assessment: Assessment, principal: Principal, response: Response) -> AssessmentView:
    response.headers["ETag"] = f'"{assessment.version}"'
    return AssessmentView.of(assessment, principal, today_in(assessment.country))


async def programme_step(
    request: Request,
    principal: CurrentPrincipal,
    response: Response,
    assessment_id: str,
    if_match: str | None,
    what: str,
    decide: Any,
) -> AssessmentView:
    programme_only(principal, what)
    assessment = await handlers.change_assessment(
        store(request), assessment_id, version_of(if_match), decide, command_context(principal, request)
    )
    return respond(assessment, principal, response)


async def improvement_step(
    request: Request, principal: CurrentPrincipal, response: Response, assessment_id: str, decide: Any
) -> AssessmentView:
    """Steps of the improvement plan: the factory's own users, or programme staff."""
    read = await readable(request, principal, assessment_id)  # brands and governments: 403; other factories: 404
    assessment = await handlers.change_assessment(
        store(request), assessment_id, None, decide, command_context(principal, request), read
    )
    return respond(assessment, principal, response)


# --- routes -----------------------------------------------------------------------------------


@router.post(
    "/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentView,
    tags=["assessments"],
    responses={404: {"model": Problem, "description": "No such factory known here"}},
)
async def schedule(
    body: ScheduleRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> AssessmentView:
    """Schedule an unannounced assessment of an enrolled factory."""
    programme_only(principal, "schedule assessments")
    assessment = await handlers.schedule_assessment(
        store(request),
        body.factory_id,
        body.planned_date,
        tuple(body.assessors),
        command_context(principal, request),
        idempotency_key,
    )
    response.headers["Location"] = f"/assessments/{assessment.id}"
    return respond(assessment, principal, response)


@router.get("/assessments", tags=["assessments"])
async def list_assessments(
    principal: CurrentPrincipal, request: Request, factory_id: str | None = None
) -> list[dict[str, Any]]:
    """Programme staff: every assessment. A factory's users: their own published reports."""
    if principal.audience is Audience.FACTORY:
        rows = await handlers.list_assessments(store(request), principal.scope, published_only=True)
        return [{k: v for k, v in row.items() if k != "planned_date"} for row in rows]
    programme_only(principal, "list assessments")
    return await handlers.list_assessments(store(request), factory_id, published_only=False)


@router.get("/assessments/{assessment_id}", response_model=AssessmentView, tags=["assessments"])
async def get_assessment(
    assessment_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> AssessmentView:
    return respond(await readable(request, principal, assessment_id), principal, response)


@router.get("/assessments/{assessment_id}/history", response_model=list[Change], tags=["assessments"])
async def assessment_history(assessment_id: str, principal: CurrentPrincipal, request: Request) -> list[Change]:
    """Every change, oldest first, with when and by whom. A factory reads its own published
    assessment's, and of it only the visit, the report and the improvement plan."""
    await readable(request, principal, assessment_id)  # brands and governments: 403; other factories: 404
    disclosure = None if principal.audience is Audience.PROGRAMME else policy.FACTORY_HISTORY
    return await handlers.assessment_history(store(request), assessment_id, disclosure)


@router.post("/assessments/{assessment_id}/cancel", response_model=AssessmentView, tags=["assessments"])
async def cancel(
    assessment_id: str,
    body: ReasonRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    return await programme_step(
        request, principal, response, assessment_id, if_match, "cancel assessments", lambda a: a.cancel(body.reason)
    )


@router.post("/assessments/{assessment_id}/start", response_model=AssessmentView, tags=["assessments"])
async def start(
    assessment_id: str,
    body: StartRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """The assessors arrived at the factory."""
    return await programme_step(
        request,
        principal,
        response,
        assessment_id,
        if_match,
        "assess",
        lambda a: a.start(body.started_on, today_in(a.country)),
    )


IF_MATCH_REQUIRED: dict[int | str, dict[str, Any]] = {
    428: {"model": Problem, "description": "If-Match is missing: this is changed only by who read its latest version"}
}


@router.put(
    "/assessments/{assessment_id}/findings/{question_id}",
    response_model=AssessmentView,
    tags=["findings"],
    responses=IF_MATCH_REQUIRED,
)
async def record_finding(
    assessment_id: str,
    question_id: str,
    body: FindingRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Record or amend the finding for one question (If-Match required: two assessors never overwrite each other)."""
    programme_only(principal, "record findings")
    expected = version_of(if_match, required=True)
    assessment = await handlers.change_assessment(
        store(request),
        assessment_id,
        expected,
        lambda a: a.record_finding(
            handlers.tool_of(a), question_id, body.result, body.evidence, tuple(body.attachments)
        ),
        command_context(principal, request),
    )
    return respond(assessment, principal, response)


@router.post(
    "/assessments/{assessment_id}/findings",
    response_model=AssessmentView,
    tags=["findings"],
    responses=IF_MATCH_REQUIRED,
)
async def record_findings(
    assessment_id: str,
    body: FindingsRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Record or amend the findings of several questions at once, all or none (If-Match required):
    what a tablet sends when it syncs a section, in one round trip instead of one per question."""
    programme_only(principal, "record findings")
    expected = version_of(if_match, required=True)
    findings = [f.new() for f in body.findings]
    assessment = await handlers.change_assessment(
        store(request),
        assessment_id,
        expected,
        lambda a: a.record_findings(handlers.tool_of(a), findings),
        command_context(principal, request),
    )
    return respond(assessment, principal, response)


@router.post("/assessments/{assessment_id}/submit", response_model=AssessmentView, tags=["review"])
async def submit(
    assessment_id: str, principal: CurrentPrincipal, request: Request, response: Response, if_match: IfMatch = None
) -> AssessmentView:
    """Send the assessment to quality review; every question needs a finding."""
    return await programme_step(
        request, principal, response, assessment_id, if_match, "submit", lambda a: a.submit(handlers.tool_of(a))
    )


@router.post("/assessments/{assessment_id}/return", response_model=AssessmentView, tags=["review"])
async def return_for_changes(
    assessment_id: str,
    body: CommentsRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    return await programme_step(
        request, principal, response, assessment_id, if_match, "review", lambda a: a.return_for_changes(body.comments)
    )


@router.post("/assessments/{assessment_id}/approve", response_model=AssessmentView, tags=["review"])
async def approve(
    assessment_id: str, principal: CurrentPrincipal, request: Request, response: Response, if_match: IfMatch = None
) -> AssessmentView:
    """Approve after quality review; the reviewer must not be one of the assessors."""
    return await programme_step(
        request, principal, response, assessment_id, if_match, "review", lambda a: a.approve(principal.subject)
    )


@router.post("/assessments/{assessment_id}/publish", response_model=AssessmentView, tags=["review"])
async def publish(
    assessment_id: str, body: PublishRequest, principal: CurrentPrincipal, request: Request, response: Response
) -> AssessmentView:
    """Publish the report: emits AssessmentCompleted with its non-compliance summary."""
    programme_only(principal, "publish reports")
    assessment = await handlers.publish_assessment(
        store(request), assessment_id, body.published_on, command_context(principal, request)
    )
    return respond(assessment, principal, response)


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/actions",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def add_action(
    assessment_id: str,
    question_id: str,
    body: ActionRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    """Plan an improvement action for a non-compliant finding."""
    action_id = uuid.uuid4().hex[:12]
    return await improvement_step(
        request,
        principal,
        response,
        assessment_id,
        lambda a: a.add_improvement_action(action_id, question_id, body.what, body.who, body.due_on),
    )


@router.post(
    "/assessments/{assessment_id}/actions/{action_id}/progress",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def report_progress(
    assessment_id: str,
    action_id: str,
    body: ProgressRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    return await improvement_step(
        request, principal, response, assessment_id, lambda a: a.report_progress(action_id, body.note, body.done)
    )


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/remediated",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def mark_remediated(
    assessment_id: str,
    question_id: str,
    body: NoteRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    """The factory says the non-compliance is put right; programme staff then verify or reject."""
    return await improvement_step(
        request, principal, response, assessment_id, lambda a: a.mark_remediated(question_id, body.note)
    )


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/verify",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def verify(
    assessment_id: str, question_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> AssessmentView:
    return await programme_step(
        request,
        principal,
        response,
        assessment_id,
        None,
        "verify remediation",
        lambda a: a.verify_remediation(question_id, principal.subject),
    )


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/reject",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def reject(
    assessment_id: str,
    question_id: str,
    body: ReasonRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    return await programme_step(
        request,
        principal,
        response,
        assessment_id,
        None,
        "verify remediation",
        lambda a: a.reject_remediation(question_id, body.reason),
    )


@router.post("/assessments/{assessment_id}/public-response", response_model=AssessmentView, tags=["public reporting"])
async def respond_publicly(
    assessment_id: str, body: ResponseRequest, principal: CurrentPrincipal, request: Request, response: Response
) -> AssessmentView:
    """The factory's response, shown beside its public transparency record."""
    return await improvement_step(
        request, principal, response, assessment_id, lambda a: a.respond_publicly(body.response)
    )


@router.get(
    "/assessments/{assessment_id}/zero-tolerance",
    response_model=list[ZeroToleranceCaseView],
    tags=["zero tolerance"],
)
async def zero_tolerance_cases(
    assessment_id: str, principal: CurrentPrincipal, request: Request
) -> list[ZeroToleranceCaseView]:
    """Programme staff: each zero-tolerance issue the assessment raised and where its protocol stands."""
    programme_only(principal, "read zero-tolerance cases")
    return [ZeroToleranceCaseView.of(c) for c in await handlers.zero_tolerance_cases(store(request), assessment_id)]


@router.post(
    "/assessments/{assessment_id}/zero-tolerance/{question_id}/acknowledgement",
    response_model=ZeroToleranceCaseView,
    tags=["zero tolerance"],
)
async def acknowledge_zero_tolerance(
    assessment_id: str, question_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> ZeroToleranceCaseView:
    """A country programme manager takes charge of the issue (once: a second acknowledgement is a 409)."""
    programme_only(principal, "acknowledge zero-tolerance issues")
    case = await handlers.change_zero_tolerance_case(
        store(request),
        assessment_id,
        question_id,
        None,
        lambda c: c.acknowledge(principal.subject, dt.datetime.now(dt.UTC)),
        command_context(principal, request),
    )
    response.headers["ETag"] = f'"{case.version}"'
    return ZeroToleranceCaseView.of(case)


@router.post(
    "/assessments/{assessment_id}/zero-tolerance/{question_id}/escalation",
    response_model=ZeroToleranceCaseView,
    tags=["zero tolerance"],
    responses=IF_MATCH_REQUIRED,
)
async def escalate_zero_tolerance(
    assessment_id: str,
    question_id: str,
    body: EscalationRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> ZeroToleranceCaseView:
    """Record who the acknowledged issue went to, when, and what was done (If-Match required)."""
    programme_only(principal, "escalate zero-tolerance issues")
    case = await handlers.change_zero_tolerance_case(
        store(request),
        assessment_id,
        question_id,
        version_of(if_match, required=True),
        lambda c: c.escalate(
            principal.subject, body.escalated_to, body.action_taken, body.escalated_on, today_in(c.country)
        ),
        command_context(principal, request),
    )
    response.headers["ETag"] = f'"{case.version}"'
    return ZeroToleranceCaseView.of(case)


@router.get("/tools/{version}", tags=["assessment tool"])
async def get_tool(version: str, principal: CurrentPrincipal) -> dict[str, Any]:
    """An assessment tool version: clusters, compliance points and questions with legal references."""
    try:
        found = tool(version)
    except KeyError:
        raise NotFound(f"no assessment tool {version}") from None
    return {
        "version": found.version,
        "clusters": [c.__dict__ for c in found.clusters],
        "compliance_points": [p.__dict__ for p in found.compliance_points],
        "questions": [q.__dict__ for q in found.questions],
    }


@router.get("/transparency/{factory_id}", tags=["public reporting"])
async def transparency(factory_id: str, request: Request) -> dict[str, object]:
    """The factory's public transparency record (no sign-in: it is public by design), replaced by
    each newly published report."""
    return await handlers.transparency_record(store(request), factory_id)
