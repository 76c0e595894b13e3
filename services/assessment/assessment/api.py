"""REST commands of the assessment service. Routes validate, authorize, call a handler: no more.

Who may do what is decided in policy.py (the dependencies the routes take); what each audience
reads, in views.py. The public transparency record needs no sign-in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from betterwork_events.auth import CurrentPrincipal, Principal, TokenFirstRoute
from betterwork_events.contracts.assessment import Attachment, Result
from betterwork_events.countries import today_in
from betterwork_events.errors import NotFound
from betterwork_events.history import Change
from betterwork_events.web import Command, IfMatch, Problem, command_context, expected_version
from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from pydantic import Field

from assessment import handlers, policy
from assessment.domain import Assessment, AssessmentEvent, NewFinding
from assessment.policy import store
from assessment.tool import tool
from assessment.views import (
    AssessmentSummary,
    AssessmentView,
    ToolView,
    TransparencyList,
    TransparencyRecord,
    ZeroToleranceCaseView,
    assessment_view,
    summary_view,
)
from assessment.zero_tolerance import ZeroToleranceCase, ZeroToleranceEvent

router = APIRouter(route_class=TokenFirstRoute)

MOST_PER_PAGE = 100  # factories in one page of the public list

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


# --- helpers ----------------------------------------------------------------------------------


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
    return assessment_view(assessment, principal, today_in(assessment.country))


async def step(
    request: Request,
    principal: Principal,
    response: Response,
    assessment: Assessment,
    expected: int | None,
    decide: Callable[[Assessment], list[AssessmentEvent]],
) -> AssessmentView:
    """A step on an assessment the policy gave the caller (`assessment`, as loaded to authorize)."""
    changed = await handlers.change_assessment(
        store(request), assessment.id, expected, decide, command_context(principal, request), assessment
    )
    return respond(changed, principal, response)


async def zero_tolerance_step(
    request: Request,
    principal: Principal,
    response: Response,
    assessment: Assessment,
    question_id: str,
    expected: int | None,
    decide: Callable[[ZeroToleranceCase], list[ZeroToleranceEvent]],
) -> ZeroToleranceCaseView:
    case = await handlers.change_zero_tolerance_case(
        store(request), assessment.id, question_id, expected, decide, command_context(principal, request)
    )
    response.headers["ETag"] = f'"{case.version}"'
    return ZeroToleranceCaseView.of(case)


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
    principal: policy.Scheduler,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> AssessmentView:
    """Schedule an unannounced assessment of an enrolled factory (assessors of its country team)."""
    factory = await policy.team_factory(principal, request, body.factory_id, "schedule its assessments")
    assessment = await handlers.schedule_assessment(
        store(request),
        factory,
        body.planned_date,
        tuple(body.assessors),
        command_context(principal, request),
        idempotency_key,
    )
    response.headers["Location"] = f"/assessments/{assessment.id}"
    return respond(assessment, principal, response)


@router.get("/assessments", response_model=list[AssessmentSummary], tags=["assessments"])
async def list_assessments(
    listing: policy.ReadableListing, principal: CurrentPrincipal, request: Request
) -> list[AssessmentSummary]:
    """Programme staff: every assessment (`factory_id`: of one factory). A factory's users: their own published reports."""
    rows = await handlers.list_assessments(store(request), listing.factory_id, listing.published_only)
    return [summary_view(row, principal) for row in rows]


@router.get("/assessments/{assessment_id}", response_model=AssessmentView, tags=["assessments"])
async def get_assessment(
    assessment: policy.ReadableAssessment, principal: CurrentPrincipal, response: Response
) -> AssessmentView:
    return respond(assessment, principal, response)


@router.get("/assessments/{assessment_id}/history", response_model=list[Change], tags=["assessments"])
async def assessment_history(
    assessment: policy.ReadableAssessment, disclosure: policy.HistoryDisclosure, request: Request
) -> list[Change]:
    """Every change, oldest first, with when and by whom. A factory reads its own published
    assessment's, and of it only the visit, the report and the improvement plan."""
    return await handlers.assessment_history(store(request), assessment.id, disclosure)


@router.post("/assessments/{assessment_id}/cancel", response_model=AssessmentView, tags=["assessments"])
async def cancel(
    assessment: policy.ToCancel,
    body: ReasonRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Call the visit off (the country manager)."""
    return await step(request, principal, response, assessment, version_of(if_match), lambda a: a.cancel(body.reason))


@router.post("/assessments/{assessment_id}/start", response_model=AssessmentView, tags=["assessments"])
async def start(
    assessment: policy.ToAssess,
    body: StartRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """The assessors arrived at the factory."""
    return await step(
        request,
        principal,
        response,
        assessment,
        version_of(if_match),
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
    assessment: policy.ToAssess,
    question_id: str,
    body: FindingRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Record or amend the finding for one question (If-Match required: two assessors never overwrite each other)."""
    finding = NewFinding(question_id, body.result, body.evidence, tuple(body.attachments))
    return await step(
        request,
        principal,
        response,
        assessment,
        version_of(if_match, required=True),
        lambda a: a.record_findings(handlers.tool_of(a), [finding]),
    )


@router.post(
    "/assessments/{assessment_id}/findings",
    response_model=AssessmentView,
    tags=["findings"],
    responses=IF_MATCH_REQUIRED,
)
async def record_findings(
    assessment: policy.ToAssess,
    body: FindingsRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Record or amend the findings of several questions at once, all or none (If-Match required):
    what a tablet sends when it syncs a section, in one round trip instead of one per question."""
    findings = [f.new() for f in body.findings]
    return await step(
        request,
        principal,
        response,
        assessment,
        version_of(if_match, required=True),
        lambda a: a.record_findings(handlers.tool_of(a), findings),
    )


@router.post("/assessments/{assessment_id}/submit", response_model=AssessmentView, tags=["review"])
async def submit(
    assessment: policy.ToAssess,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Send the assessment to quality review; every question needs a finding."""
    return await step(
        request, principal, response, assessment, version_of(if_match), lambda a: a.submit(handlers.tool_of(a))
    )


@router.post("/assessments/{assessment_id}/return", response_model=AssessmentView, tags=["review"])
async def return_for_changes(
    assessment: policy.ToReview,
    body: CommentsRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    return await step(
        request, principal, response, assessment, version_of(if_match), lambda a: a.return_for_changes(body.comments)
    )


@router.post("/assessments/{assessment_id}/approve", response_model=AssessmentView, tags=["review"])
async def approve(
    assessment: policy.ToReview,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentView:
    """Approve after quality review: never by one of the assessors, nor by whoever recorded a finding."""
    return await step(
        request, principal, response, assessment, version_of(if_match), lambda a: a.approve(principal.subject)
    )


@router.post("/assessments/{assessment_id}/publish", response_model=AssessmentView, tags=["review"])
async def publish(
    assessment: policy.ToReview, body: PublishRequest, principal: CurrentPrincipal, request: Request, response: Response
) -> AssessmentView:
    """Publish the report: emits AssessmentCompleted with its non-compliance summary."""
    context = command_context(principal, request)
    published = await handlers.publish_assessment(store(request), assessment, body.published_on, context)
    return respond(published, principal, response)


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/actions",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def add_action(
    assessment: policy.ImprovableAssessment,
    question_id: str,
    body: ActionRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    """Plan an improvement action for a non-compliant finding."""
    action_id = uuid.uuid4().hex[:12]
    return await step(
        request,
        principal,
        response,
        assessment,
        None,
        lambda a: a.add_improvement_action(action_id, question_id, body.what, body.who, body.due_on),
    )


@router.post(
    "/assessments/{assessment_id}/actions/{action_id}/progress",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def report_progress(
    assessment: policy.ImprovableAssessment,
    action_id: str,
    body: ProgressRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    return await step(
        request, principal, response, assessment, None, lambda a: a.report_progress(action_id, body.note, body.done)
    )


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/remediated",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def mark_remediated(
    assessment: policy.ImprovableAssessment,
    question_id: str,
    body: NoteRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    """The factory says the non-compliance is put right; programme staff then verify or reject."""
    return await step(
        request, principal, response, assessment, None, lambda a: a.mark_remediated(question_id, body.note)
    )


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/verify",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def verify(
    assessment: policy.ToVerify, question_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> AssessmentView:
    return await step(
        request, principal, response, assessment, None, lambda a: a.verify_remediation(question_id, principal.subject)
    )


@router.post(
    "/assessments/{assessment_id}/findings/{question_id}/reject",
    response_model=AssessmentView,
    tags=["improvement plan"],
)
async def reject(
    assessment: policy.ToVerify,
    question_id: str,
    body: ReasonRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    return await step(
        request, principal, response, assessment, None, lambda a: a.reject_remediation(question_id, body.reason)
    )


@router.post("/assessments/{assessment_id}/public-response", response_model=AssessmentView, tags=["public reporting"])
async def respond_publicly(
    assessment: policy.ImprovableAssessment,
    body: ResponseRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> AssessmentView:
    """The factory's response, shown beside this cycle in its public transparency record."""
    return await step(request, principal, response, assessment, None, lambda a: a.respond_publicly(body.response))


@router.get(
    "/assessments/{assessment_id}/zero-tolerance",
    response_model=list[ZeroToleranceCaseView],
    tags=["zero tolerance"],
)
async def zero_tolerance_cases(
    assessment_id: str, principal: policy.DeskReader, request: Request
) -> list[ZeroToleranceCaseView]:
    """Programme staff: each zero-tolerance issue the assessment raised and where its protocol stands."""
    return [ZeroToleranceCaseView.of(c) for c in await handlers.zero_tolerance_cases(store(request), assessment_id)]


@router.post(
    "/assessments/{assessment_id}/zero-tolerance/{question_id}/acknowledgement",
    response_model=ZeroToleranceCaseView,
    tags=["zero tolerance"],
)
async def acknowledge_zero_tolerance(
    assessment: policy.ToEscalate,
    question_id: str,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> ZeroToleranceCaseView:
    """The country manager takes charge of the issue (once: a second acknowledgement is a 409)."""
    return await zero_tolerance_step(
        request,
        principal,
        response,
        assessment,
        question_id,
        None,
        lambda c: c.acknowledge(principal.subject, dt.datetime.now(dt.UTC)),
    )


@router.post(
    "/assessments/{assessment_id}/zero-tolerance/{question_id}/escalation",
    response_model=ZeroToleranceCaseView,
    tags=["zero tolerance"],
    responses=IF_MATCH_REQUIRED,
)
async def escalate_zero_tolerance(
    assessment: policy.ToEscalate,
    question_id: str,
    body: EscalationRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> ZeroToleranceCaseView:
    """Record who the acknowledged issue went to, when, and what was done (the country manager; If-Match required)."""
    return await zero_tolerance_step(
        request,
        principal,
        response,
        assessment,
        question_id,
        version_of(if_match, required=True),
        lambda c: c.escalate(
            principal.subject, body.escalated_to, body.action_taken, body.escalated_on, today_in(c.country)
        ),
    )


@router.get("/tools/{version}", response_model=ToolView, tags=["assessment tool"])
async def get_tool(version: str, principal: CurrentPrincipal) -> ToolView:
    """An assessment tool version: clusters, compliance points and questions with legal references."""
    try:
        return ToolView.of(tool(version))
    except KeyError:
        raise NotFound(f"no assessment tool {version}") from None


# The public transparency record: no sign-in, it is public by design.


@router.get("/transparency", response_model=TransparencyList, tags=["public reporting"])
async def transparency_list(
    request: Request,
    name: Annotated[
        str | None, Query(max_length=200, description="Part of the factory's name; any case or accents")
    ] = None,
    country: Annotated[str | None, Query(pattern="^[A-Z]{2}$", examples=["KH"])] = None,
    limit: Annotated[int, Query(ge=1, le=MOST_PER_PAGE)] = 20,
    cursor: Annotated[str | None, Query(max_length=1000, description="The next_cursor of the page before")] = None,
) -> TransparencyList:
    """The factories with a public transparency record, by name, a page at a time."""
    return await handlers.transparency_list(store(request), name, country, cursor, limit)


@router.get("/transparency/{factory_id}", response_model=TransparencyRecord, tags=["public reporting"])
async def transparency(factory_id: str, request: Request) -> TransparencyRecord:
    """The factory's public transparency record: every published cycle's public issues, each with
    the factory's response, newest first (the latest also at the top)."""
    return await handlers.transparency_record(store(request), factory_id)
