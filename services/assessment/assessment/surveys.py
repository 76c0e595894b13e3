"""Research surveys, as the country teams run them on their visits: plain Python, events in,
events out, no I/O.

A questionnaire (worker survey or manager survey) is published in versions; a published version
never changes, a change is the next version. A survey round puts one version of a questionnaire
to one factory: field staff open it, record responses while it is open, and close it. Every
response is checked against the questionnaire version of its round.

A worker's response is anonymous by construction: what the command carries (`Respondent`) is the
worker's sex, age band and role, and the answers; its id is random. Nothing here could name the
worker, so nothing downstream can.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from betterwork_events.contracts.surveys import (
    AgeBand,
    Answer,
    AnswerValue,
    BusinessFigures,
    ManagerSurveyResponseRecorded,
    Question,
    QuestionnairePublished,
    QuestionType,
    SurveyKind,
    SurveyRoundClosed,
    SurveyRoundOpened,
    WorkerSurveyResponseRecorded,
)
from betterwork_events.contracts.training import Role, Sex
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound

SurveyRoundEvent: TypeAlias = (
    SurveyRoundOpened | WorkerSurveyResponseRecorded | ManagerSurveyResponseRecorded | SurveyRoundClosed
)


def questionnaire_stream(questionnaire_id: str) -> str:
    return f"questionnaire-{questionnaire_id}"


def round_stream(round_id: str) -> str:
    return f"survey-round-{round_id}"


def new_response_id() -> str:
    """Random (uuid4), so that it says nothing of who answered, when, or in which order."""
    return uuid.uuid4().hex


# --- questionnaires --------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionnaireVersion:
    version: int
    title: str
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass
class Questionnaire:
    id: str
    kind: SurveyKind | None = None
    versions: dict[int, QuestionnaireVersion] = field(default_factory=dict)
    version: int = 0  # of the stream

    def publish(self, kind: SurveyKind, title: str, questions: Sequence[Question]) -> list[QuestionnairePublished]:
        """Publish the next version; the questionnaire stays what it was first (a worker survey
        never becomes a manager survey: its rounds and aggregates would mean something else)."""
        if self.kind is not None and kind is not self.kind:
            raise IllegalStep(f"questionnaire {self.id} is a {self.kind.value} survey; publish a new questionnaire")
        if not questions:
            raise InvalidRequest("a questionnaire has at least one question")
        ids = [q.id for q in questions]
        if twice := sorted({q for q in ids if ids.count(q) > 1}):
            raise InvalidRequest(f"questions: {', '.join(twice)} named more than once")
        return [
            QuestionnairePublished(
                questionnaire_id=self.id,
                kind=kind,
                title=title,
                version=len(self.versions) + 1,
                questions=tuple(questions),
            )
        ]

    def published(self, version: int) -> QuestionnaireVersion:
        try:
            return self.versions[version]
        except KeyError:
            raise NotFound(f"questionnaire {self.id} has no version {version}") from None

    def apply(self, event: QuestionnairePublished) -> None:
        self.kind = event.kind
        self.versions[event.version] = QuestionnaireVersion(event.version, event.title, event.questions)
        self.version += 1

    @classmethod
    def rebuild(cls, questionnaire_id: str, events: Sequence[QuestionnairePublished]) -> Questionnaire:
        questionnaire = cls(id=questionnaire_id)
        for event in events:
            questionnaire.apply(event)
        return questionnaire


# --- answers ---------------------------------------------------------------------------------


def checked_answers(questions: QuestionnaireVersion, answers: Mapping[str, AnswerValue]) -> tuple[Answer, ...]:
    """The answers as the questionnaire version allows them, in its order; InvalidRequest naming
    every answer that is wrong (unknown question, wrong type, out of range, not an option) and
    every required question left unanswered."""
    wrong = [f"{q}: no such question in version {questions.version}" for q in answers if not questions.question(q)]
    checked = []
    for question in questions.questions:
        if question.id not in answers:
            if question.required:
                wrong.append(f"{question.id}: required")
            continue
        value = answers[question.id]
        if (why := _wrong(question, value)) is not None:
            wrong.append(f"{question.id}: {why}")
        else:
            checked.append(Answer(question_id=question.id, value=value))
    if wrong:
        raise InvalidRequest("answers: " + "; ".join(wrong))
    return tuple(checked)


def _wrong(question: Question, value: AnswerValue) -> str | None:
    """Why the value is no answer to the question, or None if it is one."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    match question.type:
        case QuestionType.SCALE:
            top = question.scale_max or 0
            if not whole or not 1 <= float(value) <= top:
                return f"a whole number from 1 to {top}, not {value!r}"
        case QuestionType.CHOICE:
            if value not in question.options:
                return f"one of {', '.join(question.options)}, not {value!r}"
        case QuestionType.NUMBER:
            if isinstance(value, str | bool) or not math.isfinite(value):
                return f"a number, not {value!r}"
            if question.minimum is not None and value < question.minimum:
                return f"at least {question.minimum:g}, not {value!r}"
            if question.maximum is not None and value > question.maximum:
                return f"at most {question.maximum:g}, not {value!r}"
        case QuestionType.TEXT:
            if not isinstance(value, str) or not value.strip():
                return "text"
    return None


# --- survey rounds ---------------------------------------------------------------------------


class RoundStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Respondent:
    """All a worker's response says of the worker."""

    sex: Sex
    age_band: AgeBand
    role: Role


@dataclass
class SurveyRound:
    id: str
    factory_id: str = ""
    country: str = ""
    questionnaire_id: str = ""
    questionnaire_version: int = 0
    kind: SurveyKind = SurveyKind.WORKER
    status: RoundStatus = RoundStatus.OPEN
    opened_on: dt.date | None = None
    closed_on: dt.date | None = None
    responses: int = 0  # a manager's correction replaces a response: it is not counted again
    figures: BusinessFigures | None = None
    version: int = 0

    @staticmethod
    def open(
        round_id: str,
        factory_id: str,
        country: str,
        factory_enrolled: bool,
        questionnaire: Questionnaire,
        version: int,
        opened_on: dt.date,
        today: dt.date,
    ) -> list[SurveyRoundEvent]:
        if not factory_enrolled:
            raise IllegalStep(f"factory {factory_id} is not enrolled; surveys are held in participating factories")
        if opened_on > today:
            raise IllegalStep(f"a round opens when field staff are in the factory, not on {opened_on} ahead")
        published = questionnaire.published(version)
        assert questionnaire.kind is not None  # it has a version
        return [
            SurveyRoundOpened(
                round_id=round_id,
                factory_id=factory_id,
                country=country,
                questionnaire_id=questionnaire.id,
                questionnaire_version=version,
                kind=questionnaire.kind,
                questions=published.questions,
                opened_on=opened_on,
            )
        ]

    def record_worker_response(
        self,
        questions: QuestionnaireVersion,
        response_id: str,
        respondent: Respondent,
        answers: Mapping[str, AnswerValue],
    ) -> list[SurveyRoundEvent]:
        self._require_open(SurveyKind.WORKER)
        return [
            WorkerSurveyResponseRecorded(
                round_id=self.id,
                factory_id=self.factory_id,
                response_id=response_id,
                sex=respondent.sex,
                age_band=respondent.age_band,
                role=respondent.role,
                answers=checked_answers(questions, answers),
            )
        ]

    def record_manager_response(
        self,
        questions: QuestionnaireVersion,
        response_id: str,
        figures: BusinessFigures,
        answers: Mapping[str, AnswerValue],
    ) -> list[SurveyRoundEvent]:
        self._require_open(SurveyKind.MANAGER)
        if self.opened_on is not None and figures.period_start > self.opened_on:
            raise IllegalStep(f"the figures' period starts after the round opened ({self.opened_on})")
        return [
            ManagerSurveyResponseRecorded(
                round_id=self.id,
                factory_id=self.factory_id,
                response_id=response_id,
                figures=figures,
                answers=checked_answers(questions, answers),
            )
        ]

    def close(self, closed_on: dt.date) -> list[SurveyRoundEvent]:
        if self.status is not RoundStatus.OPEN:
            raise IllegalStep(f"round {self.id} is already closed")
        if self.opened_on is not None and closed_on < self.opened_on:
            raise IllegalStep(f"a round closes on or after the day it opened ({self.opened_on})")
        if self.kind is SurveyKind.MANAGER and self.figures is None:
            raise IllegalStep("a manager survey round closes once the management's response is recorded")
        return [
            SurveyRoundClosed(
                round_id=self.id, factory_id=self.factory_id, closed_on=closed_on, responses=self.responses
            )
        ]

    def _require_open(self, kind: SurveyKind) -> None:
        if self.status is not RoundStatus.OPEN:
            raise IllegalStep(f"round {self.id} is closed: no more responses")
        if kind is not self.kind:
            raise IllegalStep(f"round {self.id} is a {self.kind.value} survey round, not a {kind.value} survey round")

    def apply(self, event: SurveyRoundEvent) -> None:
        match event:
            case SurveyRoundOpened():
                self.factory_id, self.country, self.kind = event.factory_id, event.country, event.kind
                self.questionnaire_id, self.questionnaire_version = event.questionnaire_id, event.questionnaire_version
                self.opened_on = event.opened_on
            case WorkerSurveyResponseRecorded():
                self.responses += 1
            case ManagerSurveyResponseRecorded():
                self.responses = 1
                self.figures = event.figures
            case SurveyRoundClosed():
                self.status, self.closed_on = RoundStatus.CLOSED, event.closed_on
        self.version += 1

    @classmethod
    def rebuild(cls, round_id: str, events: Sequence[SurveyRoundEvent]) -> SurveyRound:
        survey_round = cls(id=round_id)
        for event in events:
            survey_round.apply(event)
        return survey_round
