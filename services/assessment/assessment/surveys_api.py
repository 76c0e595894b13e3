"""REST commands of the research surveys. Routes validate, authorize, call a handler: no more.

Programme staff run them (who may do which step: policy.py): the administrator publishes the
global questionnaire catalogue; a country manager opens and closes a round in a factory of the
country; field staff record its responses. Anyone signed in may read a questionnaire. A round's status and how many
responded: programme staff, and the factory its own rounds (another factory's round does not
exist for it). No route returns a worker's response, to anyone: worker surveys are read only in
aggregate, through the gateway, over at least 10 respondents. A worker response's body can carry
nothing but sex, age band, role and answers: any other field (a name, a worker number) is refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from betterwork_events.auth import CurrentPrincipal, TokenFirstRoute
from betterwork_events.contracts.surveys import (
    MOST_QUESTIONS,
    AgeBand,
    AnswerValue,
    BusinessFigures,
    Question,
    QuestionId,
    QuestionnaireId,
    SurveyKind,
)
from betterwork_events.contracts.training import Role, Sex
from betterwork_events.web import Command, IdempotencyKey, Problem, command_context
from fastapi import APIRouter, Request, Response, status
from pydantic import Field

from assessment import handlers, policy
from assessment.policy import store
from assessment.surveys import Respondent, SurveyRound, new_response_id
from assessment.views import QuestionnaireView, RoundView

router = APIRouter(route_class=TokenFirstRoute)

Answers = Annotated[
    dict[QuestionId, AnswerValue],
    Field(max_length=MOST_QUESTIONS, description="Question id to answer", examples=[{"feels-safe": 4}]),
]


class PublishQuestionnaireRequest(Command):
    kind: SurveyKind
    title: str = Field(min_length=1, max_length=300)
    questions: list[Question] = Field(min_length=1, max_length=MOST_QUESTIONS)


class OpenRoundRequest(Command):
    factory_id: str = Field(max_length=40, examples=["KH-2026-0042-5"])
    questionnaire_id: QuestionnaireId
    questionnaire_version: int = Field(ge=1)
    opened_on: dt.date


class WorkerResponseRequest(Command):
    """One worker's answers: sex, age band and role are all it says of the worker."""

    sex: Sex
    age_band: AgeBand
    role: Role
    answers: Answers


class ManagerResponseRequest(Command):
    figures: BusinessFigures
    answers: Answers = {}


class CloseRoundRequest(Command):
    closed_on: dt.date


def etagged(survey_round: SurveyRound, response: Response) -> RoundView:
    response.headers["ETag"] = f'"{survey_round.version}"'
    return RoundView.of(survey_round)


@router.post(
    "/questionnaires/{questionnaire_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestionnaireView,
    tags=["surveys"],
)
async def publish_questionnaire(
    questionnaire_id: QuestionnaireId,
    body: PublishQuestionnaireRequest,
    principal: policy.CatalogueEditor,
    request: Request,
) -> QuestionnaireView:
    """Publish the questionnaire's next version (its first creates it): the catalogue is global, so
    the administrator's. A published version never changes: to change a question, publish a new version."""
    questionnaire = await handlers.publish_questionnaire(
        store(request),
        questionnaire_id,
        body.kind,
        body.title,
        body.questions,
        command_context(principal, request),
    )
    return QuestionnaireView.of(questionnaire)


@router.get("/questionnaires/{questionnaire_id}", response_model=QuestionnaireView, tags=["surveys"])
async def get_questionnaire(
    questionnaire_id: QuestionnaireId, principal: CurrentPrincipal, request: Request
) -> QuestionnaireView:
    """Every published version of a questionnaire: what the survey asks is no secret."""
    return QuestionnaireView.of(await handlers.load_questionnaire(store(request), questionnaire_id))


@router.post(
    "/survey-rounds",
    status_code=status.HTTP_201_CREATED,
    response_model=RoundView,
    tags=["surveys"],
    responses={404: {"model": Problem, "description": "No such factory known here"}},
)
async def open_round(
    body: OpenRoundRequest,
    principal: policy.RoundOpener,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RoundView:
    """Open a round of a questionnaire version in an enrolled factory (its country manager)."""
    factory = await policy.team_factory(principal, request, body.factory_id, "open survey rounds there")
    survey_round = await handlers.open_round(
        store(request),
        factory,
        body.questionnaire_id,
        body.questionnaire_version,
        body.opened_on,
        command_context(principal, request),
        idempotency_key,
    )
    response.headers["Location"] = f"/survey-rounds/{survey_round.id}"
    return etagged(survey_round, response)


@router.get("/survey-rounds/{round_id}", response_model=RoundView, tags=["surveys"])
async def get_round(survey_round: policy.ReadableRound, response: Response) -> RoundView:
    """A round's status and how many responded; never a response."""
    return etagged(survey_round, response)


@router.post(
    "/survey-rounds/{round_id}/worker-responses",
    status_code=status.HTTP_201_CREATED,
    response_model=RoundView,
    tags=["surveys"],
)
async def record_worker_response(
    survey_round: policy.RoundToAnswer,
    body: WorkerResponseRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RoundView:
    """Record one worker's answers, anonymously. The answer is the round (how many responded now),
    not the response: it cannot be read back, by anyone."""
    respondent = Respondent(body.sex, body.age_band, body.role)
    survey_round = await handlers.change_round(
        store(request),
        survey_round.id,
        lambda r, q: r.record_worker_response(q, new_response_id(), respondent, body.answers),
        command_context(principal, request),
        idempotency_key,
    )
    return etagged(survey_round, response)


@router.post(
    "/survey-rounds/{round_id}/manager-responses",
    status_code=status.HTTP_201_CREATED,
    response_model=RoundView,
    tags=["surveys"],
)
async def record_manager_response(
    survey_round: policy.RoundToAnswer,
    body: ManagerResponseRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RoundView:
    """Record the management's answers and the factory's business figures; a later one corrects it."""
    survey_round = await handlers.change_round(
        store(request),
        survey_round.id,
        lambda r, q: r.record_manager_response(q, new_response_id(), body.figures, body.answers),
        command_context(principal, request),
        idempotency_key,
    )
    return etagged(survey_round, response)


@router.post("/survey-rounds/{round_id}/close", response_model=RoundView, tags=["surveys"])
async def close_round(
    survey_round: policy.RoundToClose,
    body: CloseRoundRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> RoundView:
    """No more responses (the country manager): from now on the round counts in the survey's aggregates."""
    survey_round = await handlers.change_round(
        store(request), survey_round.id, lambda r, q: r.close(body.closed_on), command_context(principal, request)
    )
    return etagged(survey_round, response)
