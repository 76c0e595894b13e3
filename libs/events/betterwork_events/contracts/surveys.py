"""Events on `assessment.events` of the research surveys that the country teams run on their visits:
versioned questionnaires (worker survey, manager survey), survey rounds per factory, and the
responses the programme's field staff record during an open round.

A worker's response is anonymous by construction: it carries the worker's sex, age band and role
and the answers, nothing else. No name, no worker or employee number, no date of the interview;
its `response_id` is random, derived from nothing. Readers show worker responses only in aggregate
(over at least 10 respondents): the gateway's survey read model never returns one.

A manager's response carries the factory's business figures for a period (sales, production
capacity, employment): the research arm compares each factory's first and latest rounds.

Kafka key: a round's events by its factory, like every assessment event; a questionnaire belongs
to no factory and is keyed by its stream.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from betterwork_events.catalogue import EventContract, contract
from betterwork_events.contracts.training import Role, Sex

QuestionnaireId = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["worker-wellbeing"], description="A questionnaire's id")
]
QuestionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["feels-safe"])]
AnswerText = Annotated[str, Field(min_length=1, max_length=2000)]
MOST_QUESTIONS = 200
MOST_OPTIONS = 20
LARGEST_SCALE = 10


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SurveyKind(StrEnum):
    WORKER = "worker"
    MANAGER = "manager"


class QuestionType(StrEnum):
    SCALE = "scale"  # a whole number from 1 to `scale_max`
    CHOICE = "choice"  # one of `options`
    NUMBER = "number"  # any number, within `minimum` and `maximum` if given
    TEXT = "text"  # free text


class AgeBand(StrEnum):
    UNDER_25 = "under-25"
    FROM_25_TO_34 = "25-34"
    FROM_35_TO_44 = "35-44"
    FROM_45 = "45-and-over"


class Question(Part):
    """One question of a questionnaire version; what an answer to it may be follows from its type."""

    id: QuestionId
    text: str = Field(min_length=1, max_length=1000)
    type: QuestionType
    required: bool = True
    scale_max: int | None = Field(default=None, ge=2, le=LARGEST_SCALE, description="Scale questions: answers 1..n")
    options: tuple[AnswerText, ...] = Field(default=(), max_length=MOST_OPTIONS, description="Choice questions")
    minimum: float | None = Field(default=None, description="Number questions: the smallest answer allowed")
    maximum: float | None = Field(default=None, description="Number questions: the largest answer allowed")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        def refuse(why: str) -> None:
            raise ValueError(f"question {self.id}: {why}")

        if (self.type is QuestionType.SCALE) != (self.scale_max is not None):
            refuse("a scale question, and only one, has scale_max (answers run from 1 to scale_max)")
        if self.type is QuestionType.CHOICE:
            if len(self.options) < 2:
                refuse("a choice question has at least two options")
            if len(set(self.options)) != len(self.options):
                refuse("its options must differ")
        elif self.options:
            refuse("only a choice question has options")
        if self.type is not QuestionType.NUMBER and (self.minimum is not None or self.maximum is not None):
            refuse("only a number question has a minimum or a maximum")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            refuse("its minimum is above its maximum")
        return self


# Strict, so that true is not read as 1: it is no answer to a scale question.
AnswerValue = StrictInt | StrictFloat | AnswerText


class Answer(Part):
    question_id: QuestionId
    value: AnswerValue


class BusinessFigures(Part):
    """The factory's business figures for a period, as its management reports them. A figure the
    manager could not give is left out (null)."""

    period_start: dt.date
    period_end: dt.date
    sales: float | None = Field(default=None, ge=0, le=1e13, description="Sales over the period, in `currency`")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", examples=["USD"], description="ISO 4217")
    production_capacity: int | None = Field(
        default=None, ge=0, le=10**9, description="Pieces a month the factory can make at full capacity"
    )
    employment: int | None = Field(default=None, ge=0, le=10**6, description="Workers employed at the period's end")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("the period ends before it starts")
        if (self.sales is None) != (self.currency is None):
            raise ValueError("sales and their currency go together")
        return self


class QuestionnaireEvent(EventContract):
    topic_service = "assessment"
    keyed_by_factory = False  # a questionnaire belongs to no factory

    questionnaire_id: QuestionnaireId


@contract("org.betterwork.assessment.questionnaire-published.v1")
class QuestionnairePublished(QuestionnaireEvent):
    """A questionnaire version, published for good: a change is a new version."""

    kind: SurveyKind
    title: str = Field(min_length=1, max_length=300)
    version: int = Field(ge=1)
    questions: tuple[Question, ...] = Field(min_length=1, max_length=MOST_QUESTIONS)


class SurveyRoundEvent(EventContract):
    topic_service = "assessment"

    round_id: str = Field(min_length=1, max_length=40)
    factory_id: str


@contract("org.betterwork.assessment.survey-round-opened.v1")
class SurveyRoundOpened(SurveyRoundEvent):
    """Field staff open a round of a questionnaire version in a factory."""

    country: str = Field(pattern=r"^[A-Z]{2}$")
    questionnaire_id: QuestionnaireId
    questionnaire_version: int = Field(ge=1)
    kind: SurveyKind
    questions: tuple[Question, ...] = Field(
        min_length=1,
        max_length=MOST_QUESTIONS,
        description="The questionnaire version as published, so that a round's events read on their own",
    )
    opened_on: dt.date


@contract("org.betterwork.assessment.worker-survey-response-recorded.v1")
class WorkerSurveyResponseRecorded(SurveyRoundEvent):
    """One worker's answers, anonymous: sex, age band and role, and nothing else about them."""

    response_id: str = Field(description="Random, derived from nothing: it names no worker")
    sex: Sex
    age_band: AgeBand
    role: Role
    answers: tuple[Answer, ...] = Field(max_length=MOST_QUESTIONS)


@contract("org.betterwork.assessment.manager-survey-response-recorded.v1")
class ManagerSurveyResponseRecorded(SurveyRoundEvent):
    """The factory management's answers and business figures; a later one in the round corrects it."""

    response_id: str
    figures: BusinessFigures
    answers: tuple[Answer, ...] = Field(max_length=MOST_QUESTIONS)


@contract("org.betterwork.assessment.survey-round-closed.v1")
class SurveyRoundClosed(SurveyRoundEvent):
    """No more responses: from now on the round counts in the survey's aggregates."""

    closed_on: dt.date
    responses: int = Field(ge=0)
